"""The time lens: each broad theme's and each concept's share of a field's excerpts, period by period.

A cell is one field in one period (the years of its excerpts' sources, in fixed bins such as
2010-2014). Its share is the fraction of that cell's excerpts in the broad theme (or tagged with
the concept). A cell with fewer than `min_excerpts` excerpts is marked `small`: its share is in the
table but the chart draws it as a lone hollow point, never as part of a trend, because two or three
excerpts can swing a share from nothing to everything. Excerpts whose source has no year are left
out (the table says how many in its `undated` column).
"""

from __future__ import annotations

import html
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from pipelines import store
from pipelines.analysis.contract import THEME_BROAD, load_result
from pipelines.analysis.results import current_run_id, themes_with_edits
from pipelines.exports import register

PERIOD_YEARS = 5
MIN_EXCERPTS = 10
COLUMNS = [
    "dimension",
    "key",
    "label",
    "field",
    "field_label",
    "period",
    "period_start",
    "excerpts",
    "count",
    "share",
    "small",
    "undated",
]


@dataclass
class Item:
    """One row of the lens: a broad theme or a concept and the excerpts it holds."""

    dimension: str  # "theme" or "concept"
    key: str
    label: str
    excerpt_ids: set[int]


def share_table(
    facets: pd.DataFrame,
    items: Iterable[Item],
    *,
    field_labels: dict[str, str] | None = None,
    period_years: int = PERIOD_YEARS,
    min_excerpts: int = MIN_EXCERPTS,
) -> pd.DataFrame:
    """The lens as a table, one row per item x field x period (zeros included, so a theme that
    vanishes shows as 0, not as a gap). `facets` has excerpt_id, field and year."""
    field_labels = field_labels or {}
    items = list(items)
    dated = facets.dropna(subset=["year"]).copy()
    undated = facets[facets["year"].isna()].groupby("field").size()
    dated["period_start"] = (dated["year"].astype(int) // period_years) * period_years
    cells = dated.groupby(["field", "period_start"]).size().rename("excerpts").reset_index()
    # Every item x cell, then the counts of the (item, excerpt) pairs joined on: one pass for all
    # items rather than one filter each (2 s for the bundled corpus's 160 items that way).
    grid = cells.merge(pd.DataFrame({"item": range(len(items))}), how="cross")
    pairs = pd.DataFrame(
        [(n, e) for n, item in enumerate(items) for e in item.excerpt_ids],
        columns=["item", "excerpt_id"],
    ).astype("int64")
    held = pairs.merge(dated[["excerpt_id", "field", "period_start"]], on="excerpt_id")
    counts = held.groupby(["item", "field", "period_start"]).size().rename("count").reset_index()
    frame = grid.merge(counts, on=["item", "field", "period_start"], how="left")
    frame["count"] = frame["count"].fillna(0).astype(int)
    frame["share"] = frame["count"] / frame["excerpts"]
    frame["small"] = frame["excerpts"] < min_excerpts
    frame["undated"] = frame["field"].map(undated).fillna(0).astype(int)
    frame["field_label"] = frame["field"].map(lambda f: field_labels.get(f, f))
    width = period_years - 1
    frame["period"] = [f"{s}-{s + width}" if width else f"{s}" for s in frame["period_start"]]
    for name in ("dimension", "key", "label"):
        frame[name] = frame["item"].map(lambda n, name=name: getattr(items[n], name))
    frame = frame[COLUMNS].astype({"excerpts": int, "period_start": int})
    return frame.sort_values(["dimension", "key", "field", "period_start"], ignore_index=True)


def lens_items(conn: sqlite3.Connection, run_id: int) -> list[Item]:
    """The run's broad themes (with the user's names and merges) and its concepts."""
    themes, broad_of = themes_with_edits(conn, run_id, level=THEME_BROAD)
    items = []
    for theme in themes:
        ids = {int(e) for e, key in broad_of.items() if key == theme.key}
        items.append(Item("theme", theme.key, theme.label, ids))
    tagged: dict[str, set[int]] = {}
    for excerpt_id, tags in (load_result(conn, run_id, "tags") or {}).items():
        for tag in tags:
            tagged.setdefault(tag.concept, set()).add(int(excerpt_id))
    for framework in load_result(conn, run_id, "frameworks") or []:
        for concept in framework.concepts:
            items.append(
                Item("concept", concept.key, concept.label, tagged.get(concept.key, set()))
            )
    return items


def time_lens(
    conn: sqlite3.Connection,
    *,
    period_years: int = PERIOD_YEARS,
    min_excerpts: int = MIN_EXCERPTS,
) -> pd.DataFrame:
    """The current run's lens: broad themes and concepts by field and period."""
    run_id = current_run_id(conn)
    return share_table(
        store.excerpt_facets(conn),
        lens_items(conn, run_id),
        field_labels=store.field_labels(conn),
        period_years=period_years,
        min_excerpts=min_excerpts,
    )


@register("timelens")
def timelens_table(conn: sqlite3.Connection) -> pd.DataFrame:
    """Each broad theme's and concept's share by field and 5-year period; cells under 10
    excerpts marked small."""
    return time_lens(conn)


def _hover_safe(text: str) -> str:
    """Text for a plotly hover template: its HTML subset and its %{...} fields made literal."""
    return html.escape(str(text)).replace("%{", "%&#123;")


def lens_figure(
    table: pd.DataFrame,
    key: str,
    *,
    colours: dict[str, str] | None = None,
    min_excerpts: int = MIN_EXCERPTS,
):
    """One item's shares over time as a plotly figure: a line per field through its cells that
    are not small, and each small cell a hollow point on its own (hover says how few)."""
    import plotly.graph_objects as go

    rows = table[table["key"] == key].sort_values("period_start")
    figure = go.Figure()
    for field, cells in rows.groupby("field", sort=False):
        colour = (colours or {}).get(field)
        name = str(cells["field_label"].iloc[0])
        safe = _hover_safe(name)
        solid = cells["share"].where(~cells["small"])
        figure.add_trace(
            go.Scatter(
                x=cells["period"],
                y=solid,
                mode="lines+markers",
                name=html.escape(name),  # legends draw plotly's HTML subset too
                legendgroup=field,
                line={"color": colour},
                customdata=cells[["count", "excerpts"]],
                hovertemplate="%{x}: %{y:.0%} (%{customdata[0]} of %{customdata[1]})"
                f"<extra>{safe}</extra>",
                connectgaps=False,
            )
        )
        small = cells[cells["small"]]
        if len(small):
            figure.add_trace(
                go.Scatter(
                    x=small["period"],
                    y=small["share"],
                    mode="markers",
                    name=html.escape(f"{name} (under {min_excerpts} excerpts)"),
                    legendgroup=field,
                    showlegend=False,
                    marker={"symbol": "circle-open", "size": 9, "color": colour},
                    customdata=small[["count", "excerpts"]],
                    hovertemplate="%{x}: %{customdata[0]} of only %{customdata[1]} excerpts, "
                    f"too few for a trend<extra>{safe}</extra>",
                )
            )
    label = rows["label"].iloc[0] if len(rows) else key
    figure.update_layout(
        title=f"{html.escape(str(label))}: share of each field's excerpts by period "
        f"(hollow points: under {min_excerpts} excerpts, not drawn as a trend)",
        yaxis={"tickformat": ".0%", "rangemode": "tozero"},
        xaxis={"type": "category", "categoryorder": "category ascending"},
    )
    return figure
