"""The hand-offs in the app (#25): Compare's time lens with its table, and the Corpus page's
downloads of the project, codebook and reference files."""

from __future__ import annotations

import sqlite3

import pytest
from streamlit.testing.v1 import AppTest

from tests.handoff_store import build_small


@pytest.fixture
def app_store(tmp_path_factory, tmp_path, monkeypatch):
    copy = tmp_path / "store.sqlite"
    sqlite3.connect(build_small(tmp_path_factory)).execute(f"VACUUM INTO '{copy}'")
    monkeypatch.setenv("CROSSWALK_DB", str(copy))
    return copy


def _page(module: str) -> AppTest:
    return AppTest.from_string(
        f"from crosswalk_ui import {module}\n{module}.render()\n", default_timeout=60
    )


def test_compare_shows_the_time_lens_only_when_asked(app_store):
    app = _page("compare_page").run()
    assert not app.exception
    assert not app.get("plotly_chart")  # off: nothing computed or loaded on the first view
    app.toggle(key="compare_timelens").set_value(True).run()
    assert not app.exception
    assert app.radio(key="compare_timelens_dimension").value == "theme"
    chart = app.get("plotly_chart")
    assert len(chart) == 1
    table = app.dataframe[0].value
    assert set(table["field"]) <= {"Mental health", "Substance use"}  # the two fields compared
    assert {"excerpts", "in it", "share", "too few for a trend"} <= set(table.columns)
    app.radio(key="compare_timelens_dimension").set_value("concept").run()
    app.selectbox(key="compare_timelens_item").set_value("chime/hope").run()
    assert not app.exception
    assert "Hope and optimism" in app.get("plotly_chart")[0].proto.spec


@pytest.mark.parametrize(
    ("what", "fmt"), [("project", "qdpx"), ("references", "ris"), ("codebook", "qdc")]
)
def test_the_corpus_page_offers_the_hand_off_files(app_store, what, fmt):
    app = _page("excerpts_page").run()
    assert not app.exception
    app.selectbox(key="corpus_export_what").set_value(what).run()
    app.selectbox(key="corpus_export_format").set_value(fmt).run()
    app.button(key="corpus_export").click().run()
    assert not app.exception
    assert app.get("download_button")


def test_the_corpus_page_gives_the_references_of_the_excerpts_shown(app_store):
    from pipelines import store

    app = _page("excerpts_page").run()
    app.multiselect(key="corpus_fields").set_value(["mental_health"]).run()
    assert not [b for b in app.get("download_button") if "RIS" in b.proto.label]  # closed
    app.session_state["corpus_references_open"] = True  # open the expander
    app.run()
    assert not app.exception
    labels = {b.proto.label for b in app.get("download_button")}
    assert {"Download RIS", "Download BibTeX"} <= labels
    frame = store.excerpts(store.connect(app_store))
    expected = frame[frame["field"] == "mental_health"]["source_id"].nunique()
    assert expected < frame["source_id"].nunique()
    assert f"{expected} sources." in " ".join(c.value for c in app.caption)
