"""The plotly map: one trace of points, recoloured in the browser by its buttons, with a legend
key per value while the palette lasts."""

from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from crosswalk_ui import figures
from pipelines.ingest.records import PALETTE


def _points(values: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "excerpt_id": range(1, len(values) + 1),
            "x": [float(i) for i in range(len(values))],
            "y": [0.0] * len(values),
            "text": [f"excerpt <{i}>" for i in range(len(values))],
            "short_citation": ["Leamy et al., 2011"] * len(values),
            "few": values,
            "many": [f"theme {i % (len(PALETTE) + 3)}" for i in range(len(values))],
        }
    )


def _map(frame: pd.DataFrame):
    return figures.excerpt_map(
        frame,
        colour_by={"field": "few", "theme": "many"},
        colours={"few": {"a": "#000000"}},
        title="",
    )


def _restyles(fig) -> dict[str, dict]:
    (menu,) = fig.layout.updatemenus
    return {button.label: button.args[0] for button in menu.buttons}


def test_the_points_are_one_trace_and_the_legend_keys_the_first_colouring():
    frame = _points(["b", "a", "b", "c"] * 10)
    fig = _map(frame)
    points, *keys = fig.data
    assert len(keys) == figures.LEGEND_KEYS
    assert list(points.customdata) == list(frame["excerpt_id"])
    assert points.showlegend is False
    assert [k.name for k in keys if k.showlegend] == ["a", "b", "c"]
    assert keys[0].marker.color == "#000000"  # a given colour wins
    shade = {k.name: k.marker.color for k in keys if k.showlegend}
    assert list(points.marker.color) == [shade[v] for v in frame["few"]]
    assert list(points.hovertext) == list(frame["few"])
    assert fig.layout.updatemenus[0].active == 0


def test_the_map_is_a_valid_figure():
    """The map is built without plotly's checks (they cost each new filter 45 ms); here it gets
    them all, as plotly raises on any property it does not know or value it does not accept."""
    fig = _map(_points(["b", "a", "b", "c"] * 10))
    sent = json.loads(pio.to_json(fig, validate=False))
    assert json.loads(pio.to_json(go.Figure(fig.to_plotly_json()))) == sent


def test_each_button_recolours_the_points_and_renames_the_keys():
    frame = _points(["b", "a", "b", "c"] * 10)
    fig = _map(frame)
    restyles = _restyles(fig)
    assert list(restyles) == ["field", "theme"]
    for look in restyles.values():
        # One value per trace: the points first, then each legend key.
        assert all(len(v) == 1 + figures.LEGEND_KEYS for v in look.values())
    # The first button puts back what the figure starts with.
    field = restyles["field"]
    assert field["marker.color"][0] == list(fig.data[0].marker.color)
    assert field["name"][1:] == [k.name for k in fig.data[1:]]
    # Beyond the palette: no legend key; a colour per point from the palette in turn, every
    # colour used, and each point named on hover.
    theme = restyles["theme"]
    assert not any(theme["showlegend"])
    colours, names = theme["marker.color"][0], theme["hovertext"][0]
    assert names == list(frame["many"])
    shade = dict(zip(names, colours, strict=True))
    assert all(shade[v] == c for v, c in zip(names, colours, strict=True))
    assert set(shade.values()) == set(PALETTE)


def test_hover_names_the_value_then_the_excerpt_as_text():
    fig = _map(_points(["<b>a</b>", "b"]))
    points = fig.data[0]
    assert points.hovertemplate.startswith("<b>%{hovertext}</b><br>%{text}")
    assert points.hovertext[0] == "&lt;b&gt;a&lt;/b&gt;"
    assert "excerpt &lt;0&gt;" in points.text[0] and "Leamy et al., 2011" in points.text[0]
    assert "&lt;b&gt;a&lt;/b&gt;" in [k.name for k in fig.data[1:]]
