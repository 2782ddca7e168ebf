"""The server-drawn charts: every number on hover, bars in proportion, labels kept as text."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from crosswalk_ui import charts

LABELS = {"mental_health": "Mental health", "criminal_justice": "Criminal justice"}
COLOURS = {"mental_health": "#0072B2", "criminal_justice": "#009E73"}


def _parse(chart: str) -> ET.Element:
    """The chart as a tree (it is well-formed: every box closed, every text escaped)."""
    return ET.fromstring(chart)


def _bars(root: ET.Element) -> dict[str, ET.Element]:
    """The boxes that carry a value, by their hover text."""
    return {box.get("title"): box for box in root.iter("div") if box.get("class") == "cw-bar"}


def _size(box: ET.Element, name: str) -> float:
    """A box's `left`, `top`, `width` or `height`, in percent of the chart."""
    return float(re.search(rf"(?<![-\w]){name}:([\d.]+)%", box.get("style")).group(1))


def _fill(box: ET.Element) -> str:
    return re.search(r"background:(#\w+)", box.get("style")).group(1)


def _texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter("div") if t.get("class") == "cw-t"]


def test_stacked_bars_stack_each_field_in_proportion():
    table = pd.DataFrame(
        {
            "evidence_type": ["review", "review", "policy"],
            "field": ["criminal_justice", "mental_health", "mental_health"],
            "count": [30, 10, 20],
        }
    )
    root = _parse(
        charts.stacked_bars(
            table,
            x="evidence_type",
            stack="field",
            colours=COLOURS,
            labels=LABELS,
            title="By evidence",
            x_title="evidence type",
        )
    )
    bars = _bars(root)
    assert set(bars) == {
        "review · Mental health: 10",
        "review · Criminal justice: 30",
        "policy · Mental health: 20",
    }
    height = {name: _size(box, "height") for name, box in bars.items()}
    assert height["review · Criminal justice: 30"] == pytest.approx(
        3 * height["review · Mental health: 10"], rel=0.02
    )
    # Fields stack in the store's order: mental health at the bottom, criminal justice above it.
    assert _size(bars["review · Criminal justice: 30"], "top") < _size(
        bars["review · Mental health: 10"], "top"
    )
    assert _fill(bars["policy · Mental health: 20"]) == "#0072B2"
    texts = _texts(root)
    assert texts[0] == "By evidence" and root.get("aria-label") == "By evidence"
    assert texts.index("Mental health") < texts.index("Criminal justice")  # the legend
    assert "40" in texts  # the y axis reaches the tallest bar
    assert root.get("role") == "img"


def test_a_chart_keeps_its_proportions_and_text_scales_with_it():
    table = pd.DataFrame({"kind": ["a"], "field": ["mental_health"], "count": [1]})
    root = _parse(
        charts.stacked_bars(
            table, x="kind", stack="field", colours=COLOURS, labels=LABELS, title="T", x_title="k"
        )
    )
    assert "aspect-ratio:480/340" in root.get("style")
    assert all("cqw" in t.get("style") for t in root.iter("div") if t.get("class") == "cw-t")


def test_bars_by_field_name_each_bar_and_need_no_legend():
    table = pd.DataFrame({"field": ["mental_health", "criminal_justice"], "count": [4, 6]})
    chart = charts.stacked_bars(
        table,
        x="field",
        stack="field",
        colours=COLOURS,
        labels=LABELS,
        title="Excerpts by field",
        x_title="field",
    )
    root = _parse(chart)
    assert set(_bars(root)) == {
        "Mental health · Mental health: 4",
        "Criminal justice · Criminal justice: 6",
    }
    assert _texts(root).count("Mental health") == 1  # under its bar, not again in a legend


def test_grouped_bars_are_as_long_as_their_shares():
    table = pd.DataFrame(
        {
            "family": ["1. hope", "1. hope", "2. work"],
            "field": ["mental_health", "criminal_justice", "mental_health"],
            "share": [0.5, 0.25, 0.1],
        }
    )
    root = _parse(
        charts.grouped_bars(
            table,
            category="family",
            group="field",
            colours=COLOURS,
            labels=LABELS,
            title="Families",
        )
    )
    bars = _bars(root)
    assert set(bars) == {
        "1. hope · Mental health: 50%",
        "1. hope · Criminal justice: 25%",
        "2. work · Mental health: 10%",
        "2. work · Criminal justice: 0%",
    }
    width = {name: _size(box, "width") for name, box in bars.items()}
    assert width["1. hope · Mental health: 50%"] == pytest.approx(
        2 * width["1. hope · Criminal justice: 25%"], rel=0.02
    )
    assert width["2. work · Criminal justice: 0%"] == 0
    assert "50%" in _texts(root)


def test_heatmap_writes_every_value_and_shades_the_largest_darkest():
    matrix = pd.DataFrame(
        [[0.4, 0.1], [math.nan, 0.25]], index=["Hope", "Identity"], columns=["MH", "CJ"]
    )
    root = _parse(charts.heatmap(matrix, title="Coverage", percent=True))
    bars = _bars(root)
    assert set(bars) == {"Hope · MH: 40%", "Hope · CJ: 10%", "Identity · CJ: 25%"}  # NaN: blank
    assert _fill(bars["Hope · MH: 40%"]) == "#08306B"
    assert _fill(bars["Hope · CJ: 10%"]) == "#F7FBFF"
    assert {"40%", "10%", "25%"} <= set(_texts(root))
    similarity = _parse(charts.heatmap(matrix.fillna(1.0), title="Similarity"))
    assert "0.25" in _texts(similarity)


def test_labels_from_the_data_stay_text_and_bad_colours_turn_grey():
    hostile = '<script>alert(1)</script>" onload="x'
    table = pd.DataFrame({"kind": [hostile], "field": ["mental_health"], "count": [3]})
    chart = charts.stacked_bars(
        table,
        x="kind",
        stack="field",
        colours={"mental_health": 'red" onclick="x'},
        labels={"mental_health": "<b>MH</b>"},
        title="<img src=x onerror=alert(1)>",
        x_title="kind",
    )
    assert "<script" not in chart and "<img" not in chart and "<b>" not in chart
    root = _parse(chart)  # still well-formed
    (bar,) = _bars(root).values()
    assert _fill(bar) == "#888888"
    assert bar.get("title") == f"{hostile} · <b>MH</b>: 3"
    assert "<b>MH</b>" in _texts(root)
    assert {e.tag for e in root.iter()} == {"div"}
    assert not [e for e in root.iter() if "onload" in e.attrib or "onclick" in e.attrib]


def test_an_empty_table_draws_an_empty_chart():
    table = pd.DataFrame({"kind": [], "field": [], "count": []})
    root = _parse(
        charts.stacked_bars(
            table, x="kind", stack="field", colours={}, labels={}, title="Empty", x_title="kind"
        )
    )
    assert _bars(root) == {}


def test_a_static_table_keeps_its_header_rows_and_text_as_text():
    hostile = "<img src=x onerror=alert(1)> & more"
    frame = pd.DataFrame(
        {"Mental health": ["hope (z 9.5, 12×)", "home"], "<b>CJ</b>": [hostile, ""]},
        index=pd.RangeIndex(1, 3, name="rank"),
    )
    root = _parse(charts.table(frame))
    assert [th.text for th in root.iter("th")] == ["rank", "Mental health", "<b>CJ</b>"]
    rows = [[td.text or "" for td in tr.iter("td")] for tr in root.find("tbody")]
    assert rows == [["1", "hope (z 9.5, 12×)", hostile], ["2", "home", ""]]
    assert {e.tag for e in root.iter()} == {"table", "thead", "tbody", "tr", "th", "td"}
    without = _parse(charts.table(frame, index=False))
    assert [th.text for th in without.iter("th")] == ["Mental health", "<b>CJ</b>"]
