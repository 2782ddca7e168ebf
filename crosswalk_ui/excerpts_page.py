"""Corpus: every stored excerpt with its citation (text always shown as text, never HTML)."""

from __future__ import annotations

import streamlit as st

from crosswalk_ui import data
from pipelines.records import EVIDENCE_TYPES

TITLE = "Corpus"
SLUG = "corpus"


def render() -> None:
    st.title("Corpus")
    frame = data.excerpts()
    if frame.empty:
        st.info("The store is empty. Ingest files with `python -m pipelines ingest FILE`.")
        return
    labels = data.field_labels()
    st.caption(
        f"{len(frame)} excerpts from {frame['source_id'].nunique()} sources in {frame['field'].nunique()} fields."
    )
    left, middle, right = st.columns(3)
    chosen_fields = left.multiselect(
        "Fields",
        sorted(frame["field"].unique()),
        format_func=lambda f: labels.get(f, f),
        key="corpus_fields",
    )
    chosen_evidence = middle.multiselect(
        "Evidence type", list(EVIDENCE_TYPES), format_func=EVIDENCE_TYPES.get, key="corpus_evidence"
    )
    query = right.text_input("Contains", key="corpus_contains")
    shown = frame
    if chosen_fields:
        shown = shown[shown["field"].isin(chosen_fields)]
    if chosen_evidence:
        shown = shown[shown["evidence_type"].isin(chosen_evidence)]
    if query:
        shown = shown[shown["text"].str.contains(query, case=False, regex=False)]
    table = shown.assign(field=shown["field"].map(lambda f: labels.get(f, f)))[
        [
            "excerpt_id",
            "external_id",
            "field",
            "kind",
            "text",
            "short_citation",
            "evidence_type",
            "location",
            "citation",
        ]
    ]
    st.dataframe(table, hide_index=True, width="stretch", key="corpus_table")
    st.subheader("Excerpts with their citations")
    per_page = 20
    pages = max(1, -(-len(shown) // per_page))
    page = st.number_input("Page", min_value=1, max_value=pages, value=1, step=1, key="corpus_page")
    for row in shown.iloc[(page - 1) * per_page : page * per_page].itertuples():
        with st.container(border=True):
            # st.text never interprets HTML or Markdown: excerpt text is shown exactly as stored.
            st.text(row.text)
            marker = " · lived experience" if row.evidence_type == "lived_experience" else ""
            st.text(
                f"{labels.get(row.field, row.field)} · {row.kind or 'unspecified'} · {row.short_citation}{marker}"
            )
            with st.expander("Full reference"):
                st.text(row.citation)
