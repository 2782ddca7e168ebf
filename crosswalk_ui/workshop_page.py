"""Workshop: build a cross-sector training pack, preview it, swap or remove items, edit the
prompts, and download it as Word, PowerPoint, PDF cards, HTML cards, Markdown or CSV."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import streamlit as st

from crosswalk_ui import data
from crosswalk_ui.components import awaiting_build, field_name
from crosswalk_ui.markup import plain
from pipelines.errors import InputError
from pipelines.workshop import pack as workshop
from pipelines.workshop.formats import render as render_pack
from pipelines.workshop.masking import MASK_CAP

TITLE = "Workshop"
SLUG = "workshop"
FORMATS = [
    ("pdf", "Printable cards (PDF, A4)", "application/pdf"),
    (
        "docx",
        "Handout and facilitator guide (Word)",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    (
        "pptx",
        "Slides (PowerPoint)",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("html", "Printable cards (HTML)", "text/html"),
    ("md", "Whole pack (Markdown)", "text/markdown"),
    ("csv", "Items (CSV)", "text/csv"),
]


MASKED_HELP = (
    "What the card front hides or rewords, so players cannot read the field off the card; the "
    f"share is of the excerpt's words hidden behind […]. A card above {MASK_CAP:.0%} is left out "
    "of the pack, as it could not be read."
)


def masked_line(item: workshop.Item) -> str:
    """The preview's line under a card front: the words masked on it (each once, in order) and
    the share of the text hidden."""
    words = list(dict.fromkeys(item.masked))
    if not words:
        return "Masked: nothing"
    return f"Masked: {', '.join(words)} · {item.hidden_share:.0%} of the words hidden"


def _focus() -> str | None:
    kind = st.radio(
        "Focus on",
        ["a concept", "a theme", "a question"],
        horizontal=True,
        key="workshop_focus_kind",
    )
    if kind == "a concept":
        concepts = {c.key: f"{c.label} ({c.key})" for f in data.frameworks() for c in f.concepts}
        options = sorted(concepts, key=concepts.get)
        default = options.index("chime/hope") if "chime/hope" in options else 0
        return st.selectbox(
            "Concept", options, index=default, format_func=concepts.get, key="workshop_concept"
        )
    if kind == "a theme":
        themes, _ = data.themes()
        names = {f"theme:{t['theme_key']}": f"{t['label']} ({t['size']} excerpts)" for t in themes}
        return st.selectbox("Theme", list(names), format_func=names.get, key="workshop_theme")
    return (
        st.text_input(
            "Question or phrase", value="what recovery means", key="workshop_question"
        ).strip()
        or None
    )


def _build(request: workshop.PackRequest) -> workshop.Pack:
    index = data.index()
    themes, assignments = data.themes()
    broad_themes, broad_assignments = data.themes(1)
    return workshop.build_pack(
        request,
        frame=index.frame,
        vectors=index.vectors,
        results={name: data.result(name) for name in workshop.RESULT_NAMES},
        themes=themes,
        assignments=assignments,
        field_labels=data.field_labels(),
        encode=data.embedder(data.model_id()).encode,
        run_id=data.run_id(),
        broad_themes=broad_themes,
        broad_assignments=broad_assignments,
    )


def _files(pack: workshop.Pack) -> dict[str, bytes]:
    """Every format of the pack, rendered once per version of the pack."""
    fingerprint = hashlib.sha256(render_pack(pack, "md") + render_pack(pack, "csv")).hexdigest()
    cached = st.session_state.get("workshop_files")
    if cached and cached[0] == fingerprint:
        return cached[1]
    bar = st.progress(0.0, text="Preparing the downloads…")
    files = {}
    for n, (fmt, label, _) in enumerate(FORMATS, start=1):
        files[fmt] = render_pack(pack, fmt)
        bar.progress(n / len(FORMATS), text=f"Prepared: {label}")
    bar.empty()
    st.session_state["workshop_files"] = (fingerprint, files)
    return files


def render() -> None:
    st.title(TITLE)
    st.caption(
        "Build a pack for a cross-sector session: definitions side by side, a card sort, a "
        "“which field said this?” quiz and discussion prompts filled from the analysis."
    )
    if not data.require_run():
        return
    frame = data.excerpts()
    labels = data.field_labels()
    present = [f for f in labels if f in set(frame["field"])]
    with st.form("workshop_form"):
        focus = _focus()
        fields = st.multiselect(
            "Fields (two to four)",
            present,
            default=present[:3],
            max_selections=workshop.MAX_FIELDS,
            format_func=field_name,
            key="workshop_fields",
        )
        left, middle, right = st.columns(3)
        items = left.slider(
            "Items", workshop.MIN_ITEMS, workshop.MAX_ITEMS, 24, key="workshop_items"
        )
        seed = middle.number_input("Seed", 0, 1_000_000, 42, key="workshop_seed")
        with right:
            equal = st.checkbox("Equal numbers per field", True, key="workshop_equal")
            lived = st.checkbox(
                "At least a third from lived experience", False, key="workshop_lived"
            )
            definitions = st.checkbox("Prefer definitions", True, key="workshop_definitions")
            keep = st.checkbox("Keep wording that gives the field away", False, key="workshop_keep")
        submitted = st.form_submit_button("Build the pack", type="primary")
    if submitted:
        if not focus:
            st.error("Choose a focus: a concept, a theme or a question.")
            return
        request = workshop.PackRequest(
            focus=focus,
            fields=tuple(fields),
            items=int(items),
            equal_per_field=equal,
            lived_experience=lived,
            prefer_definitions=definitions,
            keep_wording=keep,
            seed=int(seed),
        )
        try:
            with st.spinner("Choosing the items…"):
                st.session_state["workshop_pack"] = _build(request)
                st.session_state["workshop_version"] = (
                    st.session_state.get("workshop_version", 0) + 1
                )
        except InputError as exc:
            st.error(plain(exc.message))
            return
    pack: workshop.Pack | None = st.session_state.get("workshop_pack")
    if pack is None:
        st.info("Choose a focus and the fields, then build the pack.")
        return
    _preview(pack)


def _preview(pack: workshop.Pack) -> None:
    st.header(f"Pack: {plain(pack.focus_label)}")
    awaiting_build(data.index())
    st.text(
        f"{len(pack.items)} items from {len(pack.bibliography())} sources · "
        + ", ".join(
            f"{pack.field_labels[f]} {sum(i.field == f for i in pack.items)}" for f in pack.fields
        )
        + f" · {sum(i.lived_experience for i in pack.items)} from lived experience"
    )
    for warning in pack.warnings:
        st.warning(plain(warning))

    st.subheader("Items")
    st.caption(
        "The card front is what players see: field names, authors and wording that gives the "
        "field away are masked as […] (listed under each card). Swap an item for the field's "
        "next best, or remove it."
    )
    for item in pack.items:
        with st.container(border=True):
            st.text(f"Card {item.number} · front")
            st.text(item.front)
            st.text(masked_line(item), help=MASKED_HELP)
            lived = " · ★ lived experience" if item.lived_experience else ""
            st.text(
                f"Answer: {item.field_label} · {item.kind or 'unspecified'} · {item.short_citation}{lived}"
            )
            if item.concepts:
                st.text("Concepts: " + "; ".join(item.concepts))
            left, right, _ = st.columns([1, 1, 6])
            if left.button("Swap", key=f"workshop_swap_{item.excerpt_id}"):
                st.session_state["workshop_pack"] = workshop.swap_item(pack, item.number)
                st.rerun()
            if right.button("Remove", key=f"workshop_remove_{item.excerpt_id}"):
                st.session_state["workshop_pack"] = workshop.remove_item(pack, item.number)
                st.rerun()

    st.subheader("Discussion prompts")
    st.caption("Each statement is what this analysis run shows; edit the questions as you like.")
    prompts = []
    version = st.session_state.get("workshop_version", 0)
    for n, prompt in enumerate(pack.prompts, start=1):
        st.text(f"{n}. {prompt.statement}")
        question = st.text_area(
            f"Question {n}", prompt.question, key=f"workshop_prompt_{version}_{n}"
        )
        prompts.append(replace(prompt, question=question))
    pack = replace(pack, prompts=prompts)

    st.subheader("Download")
    files = _files(pack)
    columns = st.columns(3)
    for n, (fmt, label, mime) in enumerate(FORMATS):
        columns[n % 3].download_button(
            label,
            files[fmt],
            file_name=f"workshop-pack.{fmt}",
            mime=mime,
            key=f"workshop_download_{fmt}",
        )
