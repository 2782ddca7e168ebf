"""Plotly figures for the charts people explore by hand (the map and the concept graph): data in,
`go.Figure` out. Fields keep one colour everywhere. Static charts are drawn as HTML
(`charts.py`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pipelines.ingest.records import PALETTE

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


# The map's legend has a key per value up to this many values; beyond it, none.
LEGEND_KEYS = len(PALETTE)


def excerpt_map(
    frame: pd.DataFrame,
    *,
    colour_by: dict[str, str],
    colours: dict[str, dict[str, str]] | None = None,
    title: str,
) -> go.Figure:
    """The 2-D map: one point per excerpt; hover shows the excerpt and its short citation
    (escaped: plotly renders a small HTML subset in hover labels). Each point carries its
    excerpt id, so a selection maps back to excerpts.

    The points can be coloured by each of `colour_by` (button label -> column of `frame`), with
    buttons above the map that recolour them in the browser: changing the figure on the server
    made the browser draw a new chart, 0.6-0.7 s on the benchmark machine, where a restyle that
    changes nothing but colours and names takes 0.15-0.27 s. So the points are one trace, each point
    coloured by its value (`colours[column]` where given, else the palette in turn) and named
    on hover; the legend is a key of empty traces, one per value while the palette lasts.
    Beyond it (themes, concepts) the palette would repeat anyway, and a legend of 60 entries
    says little, so there is none. The first of `colour_by` is shown first.

    Points are SVG, not WebGL: a browser without a graphics card (headless Chromium here) takes
    about 0.6 s to set up a WebGL context before the first point, while 1,000 SVG points draw in
    about 0.4 s."""
    looks = [
        _colouring(frame[column], (colours or {}).get(column, {}), LEGEND_KEYS)
        for column in colour_by.values()
    ]
    # Built as one dict, and not validated: built trace by trace and updated, the figure took
    # 0.15-0.2 s on the server, mostly plotly checking the same colours again; as one dict
    # validated once, 70 ms, of which checking took 45 (each new filter on the Map waits for
    # it). The tests validate the figure in full.
    fig = go.Figure(
        dict(
            data=[_map_points(frame, looks[0]), *_legend_keys(looks[0])],
            layout=dict(
                template=TEMPLATE,
                updatemenus=[_colour_buttons(colour_by, looks)],
                annotations=[_COLOUR_BY],
                legend=_MAP_LEGEND,
                showlegend=True,
                xaxis=dict(visible=False),
                yaxis=dict(visible=False),
                dragmode="lasso",
                title=dict(text=title),
            ),
        ),
        _validate=False,
    )
    return _style(fig, height=620)


_COLOUR_BY = dict(
    text="Colour by",
    x=0,
    xref="paper",
    xanchor="left",
    y=1.02,
    yref="paper",
    yanchor="bottom",
    showarrow=False,
)
# Below the map, so that the map keeps its width when the legend comes and goes.
_MAP_LEGEND = dict(
    orientation="h",
    x=0,
    xanchor="left",
    y=0,
    yanchor="top",
    itemclick=False,
    itemdoubleclick=False,
)


def _map_points(frame: pd.DataFrame, first: dict[str, list]) -> dict:
    """The map's one trace of points, coloured by the first colouring, each with its excerpt id."""
    texts = [
        _wrap(_escape(t)) + "<br><i>" + _escape(c) + "</i>"
        for t, c in zip(frame["text"], frame["short_citation"], strict=True)
    ]
    return dict(
        type="scatter",
        x=frame["x"].to_numpy(),
        y=frame["y"].to_numpy(),
        mode="markers",
        name="excerpts",
        text=texts,
        hovertext=first["hovertext"][0],
        customdata=frame["excerpt_id"].to_numpy(),
        hovertemplate="<b>%{hovertext}</b><br>%{text}<extra></extra>",
        marker=dict(size=7, opacity=0.8, color=first["marker.color"][0]),
        showlegend=False,
    )


def _legend_keys(first: dict[str, list]) -> list[dict]:
    """The legend's empty traces, one per value of the first colouring while the palette lasts."""
    return [
        dict(
            type="scatter",
            x=[None],
            y=[None],
            mode="markers",
            name=first["name"][i],
            showlegend=first["showlegend"][i],
            hoverinfo="skip",
            marker=dict(size=7, color=first["marker.color"][i]),
        )
        for i in range(1, LEGEND_KEYS + 1)
    ]


def _colour_buttons(colour_by: dict[str, str], looks: list[dict]) -> dict:
    """The buttons above the map, each restyling the points with its colouring."""
    return dict(
        type="buttons",
        direction="right",
        buttons=[
            dict(label=label, method="restyle", args=[look])
            for label, look in zip(colour_by, looks, strict=True)
        ],
        active=0,
        showactive=True,
        x=0,
        xanchor="left",
        y=1.01,
        yanchor="bottom",
        pad=dict(l=80, r=0, t=0, b=0),
    )


def _colouring(values: pd.Series, given: dict[str, str], keys: int) -> dict[str, list]:
    """The restyle that colours the map's points by `values`: for the points' trace, a colour
    and a name per point; for each of the `keys` legend-key traces, a value's name and colour,
    shown while there are no more values than keys."""
    named = values.astype(str)
    distinct = sorted(named.unique())
    shade = {value: PALETTE[i % len(PALETTE)] for i, value in enumerate(distinct)} | given
    escaped = {value: _escape(value) for value in distinct}
    shown = distinct if len(distinct) <= keys else []
    padded = shown + [""] * (keys - len(shown))
    return {
        "marker.color": [named.map(shade).tolist()] + [shade.get(v, PALETTE[0]) for v in padded],
        "hovertext": [named.map(escaped).tolist()] + [""] * keys,
        "name": ["excerpts"] + [escaped.get(v, "") for v in padded],
        "showlegend": [False] + [bool(v) for v in padded],
    }


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
                name=_escape(group),
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
