"""Plotly figures for the charts people explore by hand (the map and the concept graph): data in,
`go.Figure` out. Fields keep one colour everywhere. Static charts are drawn as HTML
(`charts.py`)."""

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


def excerpt_map(
    frame: pd.DataFrame, *, colour: str, colours: dict[str, str] | None, title: str
) -> go.Figure:
    """The 2-D map: one point per excerpt, coloured by the values of `colour`; hover shows the
    value, the excerpt and its short citation (escaped: plotly renders a small HTML subset in
    hover labels). Each point carries its excerpt id, so a selection maps back to excerpts.

    Up to `len(PALETTE)` values, each is a trace with a legend entry. Beyond that (themes,
    concepts) the palette would repeat anyway and a legend of 60 entries says little, so all
    points are one trace, each point coloured by its value (the palette in turn, as plotly
    would colour the traces) and named on hover: the browser redrew 59 traces in 0.6-1.2 s.

    Points are SVG, not WebGL: a browser without a graphics card (headless Chromium here) takes
    about 0.6 s to set up a WebGL context before the first point, while 1,000 SVG points draw in
    about 0.4 s."""
    fig = _new()
    value_of = frame[colour].astype(str)
    values = sorted(value_of.unique())
    if len(values) <= len(PALETTE):
        for value, rows in frame.groupby(value_of, sort=True):
            fig.add_trace(_points(rows, colour, name=value, color=(colours or {}).get(value)))
    else:
        shade = {value: PALETTE[i % len(PALETTE)] for i, value in enumerate(values)}
        shade |= colours or {}
        fig.add_trace(_points(frame, colour, name=colour, color=value_of.map(shade)))
        fig.update_layout(showlegend=False)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(dragmode="lasso", title=title)
    return _style(fig, height=620)


def _points(rows: pd.DataFrame, colour: str, *, name: str, color) -> go.Scatter:
    """The map's points for `rows`, each with its value of `colour`, excerpt and citation on
    hover."""
    hover = [
        "<b>" + _escape(v) + "</b><br>" + _wrap(_escape(t)) + "<br><i>" + _escape(c) + "</i>"
        for v, t, c in zip(rows[colour], rows["text"], rows["short_citation"], strict=True)
    ]
    return go.Scatter(
        x=rows["x"],
        y=rows["y"],
        mode="markers",
        name=name,
        text=hover,
        customdata=rows["excerpt_id"],
        hovertemplate="%{text}<extra></extra>",
        marker=dict(size=7, opacity=0.8, color=color),
    )


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
