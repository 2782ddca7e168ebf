"""Discussion prompts and facilitator notes: what the run shows, with its numbers, and what to ask.

Every statement in a prompt is a number the current analysis run holds (coverage of the concept,
the verdicts of the themes the pack's items come from, distinctive vocabulary, a word the fields
share, how alike the fields write); the question after it is a template.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from pipelines.analysis.focus import Focus

if TYPE_CHECKING:
    from pipelines.workshop.pack import Pack

THEME_PROMPTS = 3  # prompts on the themes most of the pack's items come from


@dataclass
class Prompt:
    """A discussion prompt: what the run shows (with its numbers) and the question to discuss."""

    kind: str
    statement: str
    question: str


Name = Callable[[str], str]


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def discussion_prompts(
    focus: Focus,
    fields: tuple[str, ...],
    labels: dict[str, str],
    results: dict,
    themes: list[dict],
    assignments: dict[str, str],
    frame: pd.DataFrame,
    chosen_ids: list[int],
) -> list[Prompt]:
    """Template prompts filled from the run: every statement is a number the run holds."""

    def name(f: str) -> str:
        return labels.get(f, f)

    prompts: list[Prompt] = []
    if focus.kind == "concept":
        prompts += _coverage(focus, fields, name, results, frame["field"].value_counts())
    prompts += _themes(fields, name, themes, assignments, frame, chosen_ids)
    prompts += _vocabulary(fields, name, results)
    prompts += _same_word(fields, name, results)
    prompts += _similarity(fields, name, results)
    return prompts


def _coverage(
    focus: Focus, fields: tuple[str, ...], name: Name, results: dict, field_counts: pd.Series
) -> list[Prompt]:
    coverage = (results.get("coverage") or {}).get(focus.key, {})
    shares = {f: coverage.get(f, 0.0) for f in fields}
    if not shares:
        return []
    ordered = sorted(fields, key=lambda f: -shares[f])
    counts = ", ".join(
        f"{name(f)} {_pct(shares[f])} of {int(field_counts.get(f, 0))}" for f in ordered
    )
    top, bottom = ordered[0], ordered[-1]
    return [
        Prompt(
            "coverage",
            f"Share of each field's excerpts tagged with {focus.label}: {counts}.",
            f"Why might {name(top)} write about this more often than {name(bottom)}? "
            f"What would {name(bottom)} call it?",
        )
    ]


def _themes(
    fields: tuple[str, ...],
    name: Name,
    themes: list[dict],
    assignments: dict[str, str],
    frame: pd.DataFrame,
    chosen_ids: list[int],
) -> list[Prompt]:
    """Themes that the pack's items come from, with the run's verdict and its numbers."""
    theme_by_key = {t["theme_key"]: t for t in themes}
    keys = [assignments.get(str(i)) for i in chosen_ids]
    ranked = sorted({k for k in keys if k in theme_by_key}, key=lambda k: (-keys.count(k), k))
    theme_of = frame["excerpt_id"].astype(str).map(assignments).to_numpy()
    field_of = frame["field"].to_numpy()
    prompts = []
    for key in ranked[:THEME_PROMPTS]:
        theme = theme_by_key[key]
        members = theme_of == key
        counts = ", ".join(f"{name(f)} {int((members & (field_of == f)).sum())}" for f in fields)
        verdict = theme.get("verdict", "mixed")
        if verdict == "distinctive" and theme.get("verdict_field"):
            verdict = f"distinctive to {name(theme['verdict_field'])}"
        detail = theme.get("verdict_reason") or ""
        statement = (
            f"{keys.count(key)} of the pack's items belong to the theme “{theme['label']}” "
            f"({int(members.sum())} excerpts in all; from the chosen fields: {counts}). "
            f"The run's verdict: {verdict}" + (f" ({detail})" if detail else "") + "."
        )
        prompts.append(Prompt("theme", statement, _theme_question(theme["label"], verdict)))
    return prompts


def _theme_question(label: str, verdict: str) -> str:
    if verdict == "shared":
        return (
            f"Every field writes about “{label}”. Do the fields mean the same thing "
            "by it? Find one card from each field on this theme and compare."
        )
    if verdict.startswith("distinctive"):
        return (
            f"“{label}” is distinctive to one field. What would the other fields "
            "call this, and do they have it at all?"
        )
    return f"Some fields write about “{label}” more than others. Which, and why might that be?"


def _vocabulary(fields: tuple[str, ...], name: Name, results: dict) -> list[Prompt]:
    vocabulary = pd.DataFrame(results.get("vocabulary") or [])
    if not len(vocabulary):
        return []
    parts = []
    for f in fields:
        top = vocabulary[vocabulary["field"] == f].sort_values("z", ascending=False).head(5)
        if len(top):
            words = ", ".join(f"{r.term} (z={r.z:.1f})" for r in top.itertuples())
            parts.append(f"{name(f)}: {words}")
    if not parts:
        return []
    return [
        Prompt(
            "vocabulary",
            "Words each field uses more than the others (log-odds with an informative "
            "Dirichlet prior; z above 1.96 is unlikely by chance): " + "; ".join(parts) + ".",
            "Which of these words would the other services use too, and would they mean "
            "the same by them?",
        )
    ]


def _same_word(fields: tuple[str, ...], name: Name, results: dict) -> list[Prompt]:
    """The first of the run's terms that at least two of the chosen fields use."""
    for term, info in (results.get("term_contexts") or {}).items():
        per_field = {f: info.get("fields", {}).get(f) for f in fields}
        present = {f: d for f, d in per_field.items() if d}
        if len(present) < 2:
            continue
        parts = [
            f"{name(f)} ({d['count']} uses; with {', '.join(d['distinctive_words'][:4]) or 'no distinctive words'})"
            for f, d in present.items()
        ]
        return [
            Prompt(
                "same_word",
                f"“{term}” is used by {len(present)} of the chosen fields: "
                + "; ".join(parts)
                + ".",
                f"Ask each group to finish the sentence “For us, {term} means …”. Where do the "
                "answers differ?",
            )
        ]
    return []


def _similarity(fields: tuple[str, ...], name: Name, results: dict) -> list[Prompt]:
    similarity = results.get("field_similarity")
    if not similarity:
        return []
    matrix = pd.DataFrame(
        similarity["data"], index=similarity["index"], columns=similarity["columns"]
    )
    pairs = [
        (matrix.loc[a, b], a, b)
        for n, a in enumerate(fields)
        for b in fields[n + 1 :]
        if a in matrix.index and b in matrix.columns
    ]
    if len(pairs) >= 2:
        high, low = max(pairs), min(pairs)
        return [
            Prompt(
                "similarity",
                f"Of the chosen fields, {name(high[1])} and {name(high[2])} write most alike "
                f"(mean similarity {high[0]:.2f}); {name(low[1])} and {name(low[2])} least "
                f"({low[0]:.2f}).",
                "Is that what the group expected? What do the two most different fields "
                "have to learn from each other?",
            )
        ]
    if pairs:
        value, a, b = pairs[0]
        return [
            Prompt(
                "similarity",
                f"{name(a)} and {name(b)} excerpts have a mean similarity of {value:.2f} "
                "(1 would be identical wording and meaning).",
                "Where do the two fields' cards sound alike, and where not?",
            )
        ]
    return []


def facilitator_notes(pack: Pack) -> list[tuple[str, str]]:
    """The facilitator guide's sections (title, text), timed for the pack's size."""
    n = len(pack.items)
    sort_minutes = 15 if n <= 16 else 25
    fields = ", ".join(pack.field_labels.get(f, f) for f in pack.fields)
    return [
        (
            "The session",
            f"Focus: {pack.focus_label}. Fields: {fields}. {n} items from "
            f"{len(pack.bibliography())} sources. Suggested length: about "
            f"{10 + sort_minutes + 10 + 10 + 5 * len(pack.prompts)} minutes in total.",
        ),
        (
            "1. Definitions side by side (10 minutes)",
            "Hand out the definitions page. Ask each person to underline the words that surprise "
            "them in another field's definition, then share one with the group.",
        ),
        (
            f"2. Card sort ({sort_minutes} minutes)",
            "Print the cards, cut along the dashed lines and shuffle them. Mixed-sector groups "
            "sort the cards by the field they think each came from, then turn them over (or use "
            "the answer key) and discuss the cards they placed wrongly: those are where the fields "
            "overlap. Wording that gives the field away is masked as […] unless you chose to keep "
            "it.",
        ),
        (
            "3. Which field said this? (10 minutes)",
            "Read each quiz excerpt aloud; people vote for a field, then reveal the answer. Keep "
            "score if the group likes a contest.",
        ),
        (
            f"4. Discussion ({5 * len(pack.prompts)} minutes)",
            "Each prompt states what the analysis found, with its numbers, then asks a question. "
            "Take the prompts in order; five minutes each.",
        ),
        (
            "Limits of the method",
            "The excerpts are short summaries of each source written in the project's own words, "
            "not quotations: cite the original sources, not the cards. Items were chosen by "
            "semantic similarity to the focus and automatic concept tags, which can miss or "
            "mislabel; themes and verdicts come from clustering and statistical tests on this "
            "corpus only, which over-represents some sources and countries. A field's share of a "
            "theme says how often the corpus's excerpts discuss it, not how important it is to "
            "practice.",
        ),
    ]
