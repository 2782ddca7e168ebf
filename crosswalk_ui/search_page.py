"""Search: free-text semantic search with filters; results grouped by field; analogues."""

from __future__ import annotations

import streamlit as st

from crosswalk_ui import data
from crosswalk_ui.components import awaiting_build, excerpt_columns, field_name
from pipelines.ingest.records import EVIDENCE_TYPES, KINDS

TITLE = "Search"
SLUG = "search"


def render() -> None:
    st.title(TITLE)
    frame = data.excerpts()
    if frame.empty or data.model_id() is None:
        st.info("Nothing to search yet: ingest and build first.")
        return
    query = st.text_input(
        "Search the excerpts by meaning",
        key="search_query",
        placeholder="for example: hope, a life beyond services",
    )
    with st.expander("Filters"):
        left, middle, right = st.columns(3)
        fields = left.multiselect(
            "Fields", sorted(frame["field"].unique()), format_func=field_name, key="search_fields"
        )
        evidence = middle.multiselect(
            "Evidence type",
            list(EVIDENCE_TYPES),
            format_func=EVIDENCE_TYPES.get,
            key="search_evidence",
        )
        kinds = right.multiselect("Kind", list(KINDS), key="search_kinds")
        years = frame["year"].dropna()
        span = (int(years.min()), int(years.max())) if len(years) else (1900, 2100)
        chosen_years = (
            st.slider("Years", span[0], span[1], span, key="search_years")
            if span[0] < span[1]
            else None
        )
        k = st.slider("Results", 5, 50, 15, key="search_k")
    if not query:
        return
    index = data.index()
    awaiting_build(index)
    vector = data.embedder(data.model_id()).encode([query])[0]
    # The year filter applies only once narrowed: at full range it must keep undated excerpts too.
    full_range = chosen_years is None or tuple(chosen_years) == span
    years_filter = None if full_range else chosen_years
    found = index.search(
        vector,
        k=k,
        fields=fields or None,
        evidence_types=evidence or None,
        kinds=kinds or None,
        years=years_filter,
    )
    st.caption(
        f"{len(found)} results from {found['field'].nunique()} fields, most similar first within each field."
    )
    # One switch for every result, not one a card: the cards draw as a single block each field.
    others = (
        index.analogues_of(found["excerpt_id"].astype(int).tolist(), k=1)
        if st.toggle("Show analogues in the other fields", key="search_analogues")
        else {}
    )
    excerpt_columns(
        (
            (f"{field_name(field)} ({len(rows)})", "", rows)
            for field, rows in found.groupby("field", sort=False)
        ),
        per_row=1,
        extra=lambda row: f" · similarity {row.score:.2f}",
        analogues=(lambda row: others[int(row.excerpt_id)].itertuples()) if others else None,
    )
