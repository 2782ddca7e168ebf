"""Map: the 2-D layout of all excerpts computed at build time; select points to list and export."""

from __future__ import annotations

import streamlit as st

from crosswalk_ui import data
from crosswalk_ui.components import (
    chart,
    excerpt_cards,
    field_name,
    on_demand,
    prepare_chart,
)
from crosswalk_ui.figures import LEGEND_KEYS
from pipelines.exports import neutralise
from pipelines.ingest.records import EVIDENCE_TYPES

TITLE = "Map"
SLUG = "map"


CHART_KEY = "map_chart"
# The single-field maps the warm-up builds ahead, at most (the cache keeps 16 maps).
WARM_FIELDS = 8


def warm() -> None:
    """Build the unfiltered map and the map of each field alone (a reader's usual first filter:
    building one took 0.1-0.25 s of its first use), with their JSON (called by the server's
    warm-up, off any page)."""
    prepare_chart(data.map_figure([], [])[2])
    for field in sorted(data.map_points()["field"].unique())[:WARM_FIELDS]:
        prepare_chart(data.map_figure([field], [])[2])


def chart_ahead():
    """The chart the page opens on, for the first page to draw ahead (`prefetch`)."""
    if data.run_id() is None:
        return None
    return CHART_KEY, data.map_figure([], [])[2], True


def render() -> None:
    st.title(TITLE)
    if not data.require_run():
        return
    layout = data.result("layout")
    points = data.map_points()
    left, right = st.columns(2)
    fields = left.multiselect(
        "Fields", sorted(points["field"].unique()), format_func=field_name, key="map_fields"
    )
    evidence = right.multiselect(
        "Evidence type", list(EVIDENCE_TYPES), format_func=EVIDENCE_TYPES.get, key="map_evidence"
    )
    shown, drawn, figure = data.map_figure(fields, evidence)
    sampled = (
        f" The map draws an evenly spread sample of {len(drawn):,} of them (always the same excerpts), "
        "so it stays quick; choose fields or evidence types to narrow it. A selection lists drawn points only."
        if len(drawn) < len(shown)
        else ""
    )
    many = [
        f"{label} ({count:,} values)"
        for label, column in data.MAP_COLOURS.items()
        if (count := drawn[column].nunique()) > LEGEND_KEYS
    ]
    too_many = (
        f" By {' and '.join(many)}, there are too many values for a legend or for a colour "
        "each: hover a point to see its value."
        if many
        else ""
    )
    st.caption(
        f"{len(shown):,} excerpts; layout by {layout['method']}. Nearby points make similar points. "
        "Colour the points with the buttons above the map; draw a lasso or box to list "
        f"excerpts.{sampled}{too_many}"
    )
    selected = chart(figure, key=CHART_KEY, selectable=True)
    selected = [s[0] if isinstance(s, list) else s for s in selected]
    if selected:
        chosen = shown[shown["excerpt_id"].isin(selected)]
        st.subheader(f"{len(chosen)} selected excerpts")
        table = chosen[
            ["excerpt_id", "external_id", "field", "kind", "short_citation", "citation", "text"]
        ]
        st.download_button(
            "Download the selection (CSV)",
            table.map(neutralise).to_csv(index=False),
            file_name="selection.csv",
            mime="text/csv",
            key="map_download",
        )
        excerpt_cards(chosen.head(30))
    else:
        on_demand(
            "The points as a table",
            "map_table_open",
            lambda: st.dataframe(
                shown[["excerpt_id", *data.MAP_COLOURS.values(), "short_citation", "text"]],
                hide_index=True,
                key="map_table",
            ),
        )
