"""The plotly map: a trace per value while the palette lasts, one trace coloured per point beyond."""

from __future__ import annotations

import pandas as pd

from pipelines import figures
from pipelines.records import PALETTE


def _points(values: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "excerpt_id": range(1, len(values) + 1),
            "x": [float(i) for i in range(len(values))],
            "y": [0.0] * len(values),
            "text": [f"excerpt <{i}>" for i in range(len(values))],
            "short_citation": ["Leamy et al., 2011"] * len(values),
            "value": values,
        }
    )


def test_a_few_values_are_a_trace_each_with_a_legend_and_the_given_colours():
    frame = _points(["b", "a", "b", "c"])
    fig = figures.excerpt_map(frame, colour="value", colours={"a": "#000000"}, title="")
    assert [t.name for t in fig.data] == ["a", "b", "c"]
    assert fig.layout.showlegend is not False
    assert fig.data[0].marker.color == "#000000"
    assert sorted(i for t in fig.data for i in t.customdata) == [1, 2, 3, 4]


def test_many_values_are_one_trace_coloured_per_point_and_named_on_hover():
    values = [f"theme {i % (len(PALETTE) + 3)}" for i in range(40)]
    frame = _points(values)
    fig = figures.excerpt_map(frame, colour="value", colours=None, title="")
    assert len(fig.data) == 1 and fig.layout.showlegend is False
    (trace,) = fig.data
    assert list(trace.customdata) == list(frame["excerpt_id"])
    shade = dict(zip(values, trace.marker.color, strict=True))
    assert all(shade[v] == c for v, c in zip(values, trace.marker.color, strict=True))
    assert set(shade.values()) == set(PALETTE)  # every colour used, values beyond it repeat
    assert all(t.startswith(f"<b>{v}</b><br>") for v, t in zip(values, trace.text, strict=True))
    assert "excerpt &lt;0&gt;" in trace.text[0]  # excerpt text stays text
