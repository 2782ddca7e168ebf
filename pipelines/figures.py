"""Plotly figures for the app: data in, `go.Figure` out. Fields keep one colour everywhere."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .records import PALETTE

FONT = dict(family="sans-serif", size=13)
_AXIS = dict(gridcolor="#E6E6E6", linecolor="#BBBBBB", zerolinecolor="#BBBBBB", automargin=True)
# Every figure starts from this small template. Plotly's own (the default, or plotly_white) is
# about 6 KB that each figure copies, validates and sends, and the browser applies it again: the
# first figure of a process took 0.3-0.4 s for it, each later one tens of milliseconds.
TEMPLATE = go.layout.Template(
    layout=dict(
        paper_bgcolor="white",
        plot_bgcolor="white",
        font=FONT,
        colorway=list(PALETTE),
        xaxis=_AXIS,
        yaxis=_AXIS,
        hoverlabel=dict(align="left"),
    )
)


def _new(*traces) -> go.Figure:
    """An empty figure (or one of `traces`) in the Crosswalk template."""
    return go.Figure(list(traces), layout=dict(template=TEMPLATE))


def _style(fig: go.Figure, *, height: int = 360) -> go.Figure:
    fig.update_layout(
        font=FONT,
        height=height,
        margin=dict(l=10, r=10, t=40, b=10),
        legend_title_text="",
    )
    return fig


def counts_bar(
    table: pd.DataFrame,
    *,
    x: str,
    colour: str | None,
    colours: dict[str, str] | None,
    title: str,
    labels: dict[str, str] | None = None,
) -> go.Figure:
    """A bar chart of `count` by `x` (stacked by `colour`)."""
    shown = table
    if labels and colour:
        shown = table.assign(**{colour: table[colour].map(lambda v: labels.get(v, v))})
        colours = {labels.get(k, k): v for k, v in (colours or {}).items()}
    fig = _new()
    for value, rows in _groups(shown, colour):
        fig.add_trace(
            go.Bar(
                x=rows[x],
                y=rows["count"],
                name="count" if value is None else str(value),
                marker_color=(colours or {}).get(value),
                hovertemplate=f"{x}=%{{x}}<br>count=%{{y}}<extra>{value or ''}</extra>",
                showlegend=colour is not None,
            )
        )
    fig.update_layout(barmode="relative", title=title, xaxis_title=x, yaxis_title="count")
    return _style(fig)


def share_bars(
    table: pd.DataFrame,
    *,
    category: str,
    colours: dict[str, str],
    labels: dict[str, str],
    title: str,
) -> go.Figure:
    """Grouped horizontal bars of each field's `share` per `category` (e.g. definition family)."""
    fig = _new()
    for field, rows in _groups(table, "field"):
        fig.add_trace(
            go.Bar(
                y=rows[category],
                x=rows["share"],
                orientation="h",
                name=labels.get(field, field),
                marker_color=colours.get(field),
                hovertemplate="%{y}<br>%{x:.0%}<extra>" + labels.get(field, field) + "</extra>",
            )
        )
    fig.update_layout(barmode="group", title=title, xaxis_title="share of the field's excerpts")
    fig.update_yaxes(categoryorder="array", categoryarray=list(pd.unique(table[category]))[::-1])
    fig.update_xaxes(tickformat=".0%")
    return _style(fig, height=max(300, 70 * table[category].nunique()))


def _groups(table: pd.DataFrame, column: str | None):
    """(value, rows) per value of `column` in order of first appearance (one trace each);
    the whole table as one group when `column` is None."""
    if column is None:
        return [(None, table)]
    return [(value, table[table[column] == value]) for value in pd.unique(table[column])]


def heatmap(matrix: pd.DataFrame, *, title: str, percent: bool = False) -> go.Figure:
    values = matrix.to_numpy(dtype=float)
    text = [[f"{v:.0%}" if percent else f"{v:.2f}" for v in row] for row in values]
    fig = _new(
        go.Heatmap(
            z=values,
            x=list(matrix.columns),
            y=list(matrix.index),
            colorscale="Blues",
            text=text,
            texttemplate="%{text}",
            hoverongaps=False,
        )
    )
    fig.update_layout(title=title)
    return _style(fig, height=max(320, 26 * len(matrix.index) + 120))


def excerpt_map(
    frame: pd.DataFrame, *, colour: str, colours: dict[str, str] | None, title: str
) -> go.Figure:
    """The 2-D map: one point per excerpt, a trace per value of `colour`; hover shows the excerpt
    and its short citation (escaped: plotly renders a small HTML subset in hover labels).
    Each point carries its excerpt id, so a selection maps back to excerpts. Points are SVG, not
    WebGL: a browser without a graphics card (headless Chromium here) takes about 0.6 s to set up a
    WebGL context before the first point, while 1,000 SVG points draw in about 0.4 s."""
    fig = _new()
    for value, rows in frame.groupby(colour, sort=True):
        hover = [
            _wrap(_escape(t)) + "<br><i>" + _escape(c) + "</i>"
            for t, c in zip(rows["text"], rows["short_citation"], strict=True)
        ]
        fig.add_trace(
            go.Scatter(
                x=rows["x"],
                y=rows["y"],
                mode="markers",
                name=str(value),
                text=hover,
                customdata=rows["excerpt_id"],
                hovertemplate="%{text}<extra></extra>",
                marker=dict(size=7, opacity=0.8, color=(colours or {}).get(value)),
            )
        )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(dragmode="lasso", title=title)
    return _style(fig, height=620)


def concept_graph_figure(
    nodes: pd.DataFrame, edges: pd.DataFrame, *, colours: dict[str, str], title: str
) -> go.Figure:
    """Draw the networkx concept graph from its stored layout: edges as lines, nodes by kind/field."""
    fig = _new()
    for kind, dash in (("crosswalk", "solid"), ("contains", "dot")):
        chosen = edges[edges["kind"] == kind]
        xs, ys = [], []
        for row in chosen.itertuples():
            xs += [row.x0, row.x1, None]
            ys += [row.y0, row.y1, None]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                line=dict(width=0.6, color="#999999", dash=dash),
                hoverinfo="skip",
                name=f"{kind} link",
            )
        )
    for group, rows in nodes.groupby("group", sort=True):
        fig.add_trace(
            go.Scatter(
                x=rows["x"],
                y=rows["y"],
                mode="markers",
                name=group,
                marker=dict(
                    size=rows["size"],
                    color=colours.get(group, "#777777"),
                    line=dict(width=0.5, color="white"),
                ),
                text=[_escape(t) for t in rows["label"]],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(title=title)
    return _style(fig, height=640)


def _escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _wrap(text: str, width: int = 70) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "<br>".join(lines)


def graph_tables(
    data: dict,
    positions: dict[str, list[float]],
    field_labels: dict[str, str],
    *,
    include_themes: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Node and edge tables of the stored concept graph, with coordinates, ready for drawing."""
    rows = []
    for node in data["nodes"]:
        kind = node.get("kind")
        if kind == "theme" and not include_themes:
            continue
        if kind == "field":
            continue
        field = node.get("field") or ""
        group = (
            field_labels.get(field, "Cross-field") if kind in ("concept", "framework") else "Theme"
        )
        x, y = positions.get(node["id"], [np.nan, np.nan])
        rows.append(
            {
                "id": node["id"],
                "kind": kind,
                "label": node.get("label", node["id"]),
                "group": group,
                "x": x,
                "y": y,
                "size": 16 if kind == "framework" else 9,
            }
        )
    nodes = pd.DataFrame(rows)
    keep = set(nodes["id"]) if len(nodes) else set()
    edge_rows = []
    for link in data["links"]:
        if link["source"] in keep and link["target"] in keep:
            a, b = positions[link["source"]], positions[link["target"]]
            edge_rows.append(
                {
                    "source": link["source"],
                    "target": link["target"],
                    "kind": link.get("kind"),
                    "why": link.get("why", ""),
                    "x0": a[0],
                    "y0": a[1],
                    "x1": b[0],
                    "y1": b[1],
                }
            )
    return nodes, pd.DataFrame(
        edge_rows, columns=["source", "target", "kind", "why", "x0", "y0", "x1", "y1"]
    )
