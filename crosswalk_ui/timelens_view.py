"""Compare's time lens (#25): a broad theme's or a concept's share of each chosen field's excerpts,
period by period, with the table under it. Off until asked for, so the page's first view computes
and loads nothing more."""

from __future__ import annotations

import streamlit as st

from crosswalk_ui import data
from pipelines.handoff.timelens import MIN_EXCERPTS, PERIOD_YEARS, lens_figure, time_lens

DIMENSIONS = {"theme": "Broad themes", "concept": "Concepts"}


def _table():
    """The whole lens for the current store and run (shared: do not modify)."""
    return data.figure("timelens_table", build=lambda: time_lens(data.conn()))


@st.fragment
def render(fields: list[str]) -> None:
    st.header("Over time")
    if not st.toggle("Show themes and concepts over time", key="compare_timelens"):
        return
    st.caption(
        f"Share of each field's excerpts in a broad theme, or tagged with a concept, per "
        f"{PERIOD_YEARS}-year period of the sources' years. A period with fewer than "
        f"{MIN_EXCERPTS} excerpts in a field is a hollow point, not part of a trend: a few "
        "excerpts can swing a share from nothing to everything. `export timelens` writes it all."
    )
    table = _table()
    table = table[table["field"].isin(fields)]
    if table.empty:
        st.info("None of these fields' sources has a year.")
        return
    dimension = st.radio(
        "Lens",
        list(DIMENSIONS),
        format_func=DIMENSIONS.get,
        horizontal=True,
        key="compare_timelens_dimension",
    )
    items = table[table["dimension"] == dimension].drop_duplicates("key")
    labels = dict(zip(items["key"], items["label"], strict=True))
    key = st.selectbox(
        DIMENSIONS[dimension][:-1],
        list(labels),
        format_func=labels.get,
        key="compare_timelens_item",
    )
    if key is None:
        return
    st.plotly_chart(
        data.figure(
            "timelens",
            key,
            tuple(fields),
            build=lambda: lens_figure(table, key, colours=data.field_colours()),
        ),
        key="compare_timelens_chart",
    )
    rows = table[table["key"] == key]
    shown = rows[["field_label", "period", "excerpts", "count", "share", "small"]].rename(
        columns={"field_label": "field", "count": "in it", "small": "too few for a trend"}
    )
    st.dataframe(
        shown,
        hide_index=True,
        column_config={"share": st.column_config.NumberColumn(format="percent")},
        key="compare_timelens_table",
    )
