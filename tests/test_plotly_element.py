"""The plotly element: its own copy of plotly.js, a figure's JSON and revision, and a selection
counted only on the figure it was made on (tests/test_app.py has the pages that use it, and the
browser tests draw it for real)."""

from __future__ import annotations

import json
import os
import re
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


def test_plotly_js_is_asked_for_under_the_servers_base_url_path(monkeypatch):
    import streamlit as st

    assert plotly_element.script_url() == "/app/static/plotly.min.js"
    given = st.get_option
    monkeypatch.setattr(
        st,
        "get_option",
        lambda name: "/crosswalk/" if name == "server.baseUrlPath" else given(name),
    )
    assert plotly_element.script_url() == "/crosswalk/app/static/plotly.min.js"


# What would tie the app to one build of Streamlit or plotly: a private attribute of a plotly
# chart, the file names of Streamlit's static JavaScript, or one of its modules that is not API.
INTERNALS = re.compile(r"_fullLayout|_fullData|/static/js/|streamlit\.emojis|st\.__file__")


def test_the_app_depends_on_no_internals_of_streamlit_or_plotly():
    root = Path(plotly_element.__file__).parent
    code = [*root.glob("*.py"), *root.glob("js/*.js"), root.parent / "app.py"]
    assert len(code) > 10
    hits = [
        f"{path.name}:{number}: {line.strip()}"
        for path in code
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if INTERNALS.search(line)
    ]
    assert hits == []


def test_each_elements_javascript_is_read_from_its_files():
    code = plotly_element.read_js("plotly_load.js", "plotly_element.js")
    assert "const loadPlotly" in code and "export default function" in code
    assert code.count("export default") == 1
