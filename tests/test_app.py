"""AppTest smoke and interaction tests for every page (fast: the hash embedder's store)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from crosswalk_ui import pages
from pipelines import store
from pipelines.ingest import ingest_bundled_corpus

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def app_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("app") / "store.sqlite"
    conn = store.connect(path)
    ingest_bundled_corpus(conn)
    return path


@pytest.fixture
def app(app_store, monkeypatch):
    monkeypatch.setenv("CROSSWALK_DB", str(app_store))
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)


@pytest.mark.parametrize("page", pages.ALL, ids=lambda p: p.SLUG)
def test_every_page_renders(page, app_store, monkeypatch):
    monkeypatch.setenv("CROSSWALK_DB", str(app_store))
    module = page.__name__.rsplit(".", 1)[1]
    test = AppTest.from_string(
        f"from crosswalk_ui import {module}\n{module}.render()\n", default_timeout=60
    )
    test.run()
    assert not test.exception
    assert test.title[0].value == page.TITLE


def test_corpus_page_lists_excerpts_with_citations_and_filters(app):
    import re

    app.run()
    assert not app.exception
    texts = [t.value for t in app.text]
    # each excerpt is shown as three text elements: the excerpt, field/kind/short citation, reference
    assert len(texts) == 60
    assert all(re.search(r", (\d{4}|n\.d\.)", meta) for meta in texts[1::3])
    app.text_input(key="corpus_contains").input("redemption").run()
    texts = [t.value for t in app.text]
    assert texts and all("redemption" in t.lower() for t in texts[0::3])
