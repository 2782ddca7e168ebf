"""The whole pack as Markdown: definitions, card fronts, quiz, prompts, notes, answer keys and the
bibliography. Every character Markdown or HTML could act on is escaped."""

from __future__ import annotations

import re

from pipelines.workshop.formats.registry import renderer
from pipelines.workshop.formats.text import card_answer, clean, summary_line
from pipelines.workshop.pack import Pack

MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&])")


def md(text: str) -> str:
    """Markdown-inert text: every character Markdown or HTML could act on is escaped."""
    return MD_SPECIAL.sub(r"\\\1", clean(text).replace("\n", " "))


@renderer("md")
def render_markdown(pack: Pack) -> bytes:
    out = [f"# Workshop pack: {md(pack.focus_label)}", "", md(summary_line(pack)), ""]
    for warning in pack.warnings:
        out += [f"> **Note:** {md(warning)}", ""]
    out += ["## 1. Definitions side by side", ""]
    for field, items in pack.definitions().items():
        out += [f"### {md(pack.field_labels[field])}", ""]
        if not items:
            out += ["_No definition among this field's items._", ""]
        for item in items:
            out += [f"- {md(item.text)} ({md(item.short_citation)})"]
        out.append("")
    out += ["## 2. Card sort", "", "Card fronts (the answers are in section 6):", ""]
    out += [f"{item.number}. {md(item.front)}" for item in pack.items]
    out += ["", "## 3. Which field said this?", ""]
    options = " / ".join(md(pack.field_labels[f]) for f in pack.fields)
    for n, item in enumerate(pack.quiz(), start=1):
        out += [f"{n}. {md(item.front)}", f"   _({options})_", ""]
    out += ["## 4. Discussion prompts", ""]
    for n, prompt in enumerate(pack.prompts, start=1):
        out += [f"{n}. **{md(prompt.question)}**", f"   {md(prompt.statement)}", ""]
    out += ["## 5. Facilitator notes", ""]
    for title, text in pack.facilitator_notes():
        out += [f"### {md(title)}", "", md(text), ""]
    out += ["## 6. Answer keys", "", "### Card sort", ""]
    out += [f"{item.number}. {md(card_answer(item))}" for item in pack.items]
    out += ["", "### Which field said this?", ""]
    out += [
        f"{n}. {md(item.field_label)} ({md(item.short_citation)})"
        for n, item in enumerate(pack.quiz(), start=1)
    ]
    out += ["", "## 7. Bibliography (APA 7)", ""]
    out += [f"- {md(c)}" for c in pack.bibliography()]
    return ("\n".join(out) + "\n").encode("utf-8")
