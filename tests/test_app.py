"""AppTest smoke and interaction tests for every page (fast: a store built with the hash embedder)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from crosswalk_ui import pages
from pipelines import store
from pipelines.analysis import run_analysis
from pipelines.embed import HashEmbedder, embed_missing
from pipelines.ingest import ingest_bundled_corpus

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def built_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("app") / "store.sqlite"
    conn = store.connect(path)
    ingest_bundled_corpus(conn)
    embedder = HashEmbedder()
    embed_missing(conn, embedder)
    run_analysis(conn, embedder=embedder, frameworks=None, seed=1)
    return path


@pytest.fixture
def app_store(built_store, tmp_path, monkeypatch):
    """A private copy per test, so edits made by one test do not leak into another."""
    copy = tmp_path / "store.sqlite"
    sqlite3.connect(built_store).execute(f"VACUUM INTO '{copy}'")
    monkeypatch.setenv("CROSSWALK_DB", str(copy))
    return copy


def page_test(page) -> AppTest:
    module = page.__name__.rsplit(".", 1)[1]
    return AppTest.from_string(
        f"from crosswalk_ui import {module}\n{module}.render()\n", default_timeout=60
    )


@pytest.mark.parametrize("page", pages.ALL, ids=lambda p: p.SLUG)
def test_every_page_renders(page, app_store):
    test = page_test(page)
    test.run()
    assert not test.exception
    assert test.title[0].value == page.TITLE


def test_navigation_app_renders(app_store):
    test = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    test.run()
    assert not test.exception
    assert test.title[0].value == pages.ALL[0].TITLE


def test_corpus_page_lists_excerpts_with_citations_and_filters(app_store):
    app = page_test(pages.excerpts_page)
    app.run()
    assert not app.exception
    texts = [t.value for t in app.text]
    # each excerpt is shown as three text elements: the excerpt, field/kind/short citation, reference
    assert len(texts) == 60
    assert all(re.search(r", (\d{4}|n\.d\.)", meta) for meta in texts[1::3])
    app.text_input(key="corpus_contains").input("redemption").run()
    texts = [t.value for t in app.text]
    assert texts and all("redemption" in t.lower() for t in texts[0::3])


def test_compare_shows_a_column_per_field_with_citations(app_store):
    app = page_test(pages.compare_page)
    app.run()
    app.multiselect(key="compare_fields").set_value(["mental_health", "criminal_justice"]).run()
    app.selectbox(key="compare_concept").set_value("chime/identity").run()
    assert not app.exception
    metas = [t.value for t in app.text if " · " in t.value and re.search(r"\d{4}", t.value)]
    assert any(m.startswith("Mental health") for m in metas)
    assert any(m.startswith("Criminal justice") for m in metas)


def test_theme_rename_persists(app_store):
    app = page_test(pages.themes_page)
    app.run()
    key = app.selectbox(key="themes_choice").value
    app.text_input(key="themes_rename").input("Hope across services")
    app.button[0].click().run()  # the form's submit button
    assert not app.exception
    again = page_test(pages.themes_page)
    again.run()
    assert again.selectbox(key="themes_choice").value == key
    assert again.header[0].value == "Hope across services"


def test_search_groups_results_by_field(app_store):
    app = page_test(pages.search_page)
    app.run()
    app.text_input(key="search_query").input("hope optimism future").run()
    assert not app.exception
    assert len(app.subheader) >= 2


def test_workshop_builds_previews_swaps_and_offers_every_format(app_store):
    app = page_test(pages.workshop_page)
    app.run()
    app.slider(key="workshop_items").set_value(12)
    app.button[0].click().run()  # the form's "Build the pack"
    assert not app.exception
    pack = app.session_state["workshop_pack"]
    assert len(pack.items) == 12
    fronts = [t.value for t in app.text if t.value in {i.front for i in pack.items}]
    assert len(fronts) == 12
    first = pack.items[0]
    app.button(key=f"workshop_swap_{first.excerpt_id}").click().run()
    assert not app.exception
    swapped = app.session_state["workshop_pack"]
    if pack.reserves[first.field]:
        assert swapped.items[0].excerpt_id != first.excerpt_id
    app.button(key=f"workshop_remove_{swapped.items[1].excerpt_id}").click().run()
    assert len(app.session_state["workshop_pack"].items) == 11
    files = app.session_state["workshop_files"][1]
    assert set(files) == {"pdf", "docx", "pptx", "html", "md", "csv"}
    assert files["pdf"].startswith(b"%PDF") and files["docx"].startswith(b"PK")
    edited = app.text_area[0]
    edited.input("What surprised you most?").run()
    assert b"What surprised you most?" in app.session_state["workshop_files"][1]["md"]


def test_map_draws_a_fixed_sample_of_a_large_corpus_and_says_so(app_store, monkeypatch):
    from crosswalk_ui import data

    monkeypatch.setattr(data, "MAP_POINTS", 100)
    app = page_test(pages.map_page)
    app.run()
    assert not app.exception
    caption = " ".join(c.value for c in app.caption)
    assert "sample of 100 of them" in caption
    app.selectbox(key="map_colour").set_value("theme").run()
    assert not app.exception
    assert "sample of 100 of them" in " ".join(c.value for c in app.caption)


def test_even_sample_is_fixed_and_kept_under_a_filter():
    import pandas as pd

    from pipelines.views import even_sample

    points = pd.DataFrame({"excerpt_id": range(1, 1001), "field": ["a", "b"] * 500})
    first = even_sample(points, 100)
    assert len(first) == 100
    assert first["excerpt_id"].tolist() == even_sample(points, 100)["excerpt_id"].tolist()
    assert first["excerpt_id"].is_monotonic_increasing
    narrowed = even_sample(points[points["field"] == "a"], 100)
    kept = set(first.loc[first["field"] == "a", "excerpt_id"])
    assert kept <= set(narrowed["excerpt_id"])


def test_each_thread_reads_the_store_through_its_own_connection(app_store):
    import threading

    from crosswalk_ui import data

    seen = []
    threads = [
        threading.Thread(target=lambda: seen.append(data.connection(str(app_store))))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
        thread.join()
    assert seen[0] is not seen[1]
    assert data.connection(str(app_store)) is data.connection(str(app_store))
