"""The plotly element: its own copy of plotly.js, a figure's JSON and revision, and a selection
counted only on the figure it was made on (tests/test_app.py has the pages that use it, and the
browser tests draw it for real)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import plotly
import plotly.graph_objects as go

from crosswalk_ui import plotly_element


def test_install_script_copies_plotly_js_once_and_again_when_it_differs(tmp_path):
    target = plotly_element.install_script(tmp_path)
    source = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert target.read_bytes() == source.read_bytes()
    os.utime(target, (1, 1))
    plotly_element.install_script(tmp_path)
    assert target.stat().st_mtime == 1  # the same script is not written again
    target.write_text("an older plotly.js")
    plotly_element.install_script(tmp_path)
    assert target.stat().st_size == source.stat().st_size
    assert [p.name for p in tmp_path.iterdir()] == ["plotly.min.js"]  # no partial copy left


def test_a_figure_is_written_once_and_its_revision_follows_its_content():
    figure = go.Figure(go.Scatter(x=[1, 2], y=[3, 4], customdata=[7, 8]))
    spec, revision = plotly_element._spec(figure)
    assert json.loads(spec)["data"][0]["customdata"] == [7, 8]
    assert plotly_element._spec(figure) == (spec, revision)
    same = go.Figure(go.Scatter(x=[1, 2], y=[3, 4], customdata=[7, 8]))
    assert plotly_element._spec(same)[1] == revision  # a rebuilt figure keeps a selection
    other = go.Figure(go.Scatter(x=[1, 2], y=[3, 5], customdata=[7, 8]))
    assert plotly_element._spec(other)[1] != revision


def test_a_prepared_figure_is_not_written_again_when_drawn(monkeypatch):
    figure = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    plotly_element.prepare(figure)

    def written_again(*args, **kwargs):
        raise AssertionError("the figure's JSON was written again")

    monkeypatch.setattr(plotly_element.pio, "to_json", written_again)
    spec, revision = plotly_element._spec(figure)
    assert json.loads(spec)["data"][0]["x"] == [1, 2] and revision
