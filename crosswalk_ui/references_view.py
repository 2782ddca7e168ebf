"""The Corpus page's reference lists (#25): the sources of the excerpts shown (after the page's
filters) as RIS or BibTeX, for Zotero and other reference managers."""

from __future__ import annotations

import streamlit as st

from crosswalk_ui import data
from pipelines.handoff.references import reference_sources, references_text

FORMATS = {"ris": ("RIS", "references.ris"), "bibtex": ("BibTeX", "references.bib")}


def render(excerpt_ids: list[int]) -> None:
    references = reference_sources(data.conn(), excerpt_ids=[int(i) for i in excerpt_ids])
    st.caption(
        f"{len(references)} sources. Fields and evidence type travel as keywords (Zotero makes "
        "them tags); `export references` writes the whole corpus."
    )
    columns = st.columns(len(FORMATS))
    for column, (fmt, (label, name)) in zip(columns, FORMATS.items(), strict=True):
        column.download_button(
            f"Download {label}",
            references_text(references, fmt).encode("utf-8"),
            file_name=name,
            key=f"corpus_references_{fmt}",
            disabled=not references,
        )
