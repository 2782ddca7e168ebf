"""Small shared widgets: an excerpt with its citation, and field names and colours."""

from __future__ import annotations

import streamlit as st

from crosswalk_ui import data


def field_name(field: str) -> str:
    return data.field_labels().get(field, field)


def excerpt_card(row, *, extra: str = "") -> None:
    """One excerpt: its text (as plain text, never HTML or Markdown), then field, kind, short
    citation and a lived-experience marker, and the full reference on expand."""
    with st.container(border=True):
        st.text(row.text)
        marker = " · ★ lived experience" if row.evidence_type == "lived_experience" else ""
        st.text(
            f"{field_name(row.field)} · {row.kind or 'unspecified'} · {row.short_citation}{marker}{extra}"
        )
        with st.expander("Full reference"):
            st.text(row.citation)
