"""Word lists as data (lexicons/), the one focus resolver that Compare and the Workshop share, and
the workshop formats' registry."""

from __future__ import annotations

import csv
import re
import shutil
from html import unescape
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from pipelines import lexicons, store
from pipelines.analysis import themes
from pipelines.analysis.focus import resolve_focus
from pipelines.analysis.results import effective_themes
from pipelines.analysis.run import run_analysis
from pipelines.embed.embedders import HashEmbedder, embed_missing
from pipelines.errors import InputError
from pipelines.ingest.files import ingest_bundled_corpus
from pipelines.workshop.formats import RENDERERS, format_for, render
from pipelines.workshop.formats.registry import renderer
from pipelines.workshop.masking import card_front
from pipelines.workshop.pack import Pack, PackRequest

ROOT = Path(__file__).resolve().parent.parent
LEXICONS = ROOT / "lexicons"


# --- lexicons ------------------------------------------------------------------------------------


def test_every_bundled_field_has_a_masking_file_and_stop_words_come_from_the_file():
    with (ROOT / "corpus" / "excerpts.csv").open(encoding="utf-8") as handle:
        fields = {row["field"] for row in csv.DictReader(handle)}
    assert set(lexicons.masking().fields) == fields
    words = lexicons.stop_words()
    assert {"recovery", "people", "study"} <= words and "#" not in "".join(words)
    assert words <= set(themes.STOP_WORDS)


def test_adding_a_fields_file_adds_its_masking_words(tmp_path):
    for path in (LEXICONS / "masking").glob("*.txt"):
        shutil.copy(path, tmp_path / path.name)
    text = "Veterans leaving the barracks after military service, and prisoners too."
    before = lexicons.masking(tmp_path)
    assert card_front(text, field_labels=[], authors=None, keep_wording=False, masking=before)[
        0
    ] == ("Veterans leaving the barracks after military service, and people too.")
    (tmp_path / "veterans.txt").write_text(
        "# Wording that gives a veterans' card away.\n\nveterans -> people\nbarracks?\nmilitary\n",
        encoding="utf-8",
    )
    after = lexicons.masking(tmp_path)
    assert "veterans" in after.fields
    front, masked = card_front(
        text, field_labels=[], authors=None, keep_wording=False, masking=after
    )
    assert front == "People leaving the […] after […] service, and people too."
    assert {"Veterans", "barracks", "military", "prisoners"} <= set(masked)


def test_a_pattern_that_is_not_a_regular_expression_names_its_file_and_line(tmp_path):
    (tmp_path / "broken.txt").write_text("# a comment\nprisons?\nmental[- health\n", "utf-8")
    with pytest.raises(InputError) as caught:
        lexicons.masking(tmp_path)
    assert caught.value.code == "E005"
    assert "broken.txt: line 3" in caught.value.message
    assert "mental[- health" in caught.value.message


# --- the focus resolver on a hand-built corpus ----------------------------------------------------


def _corpus():
    """Six excerpts in two fields on a plane; the concept lies along the x axis, so an excerpt's
    closeness to it is its x."""
    import pandas as pd

    x = np.array([0.9, 0.1, 0.5, 0.7, -0.1, 0.3])
    vectors = np.column_stack([x, np.sqrt(1 - x**2)])
    frame = pd.DataFrame({"excerpt_id": [1, 2, 3, 4, 5, 6], "field": list("aaabbb")})
    concept = {
        "key": "fw/c",
        "label": "Hope",
        "description": "a hope",
        "cues": ["hopeful"],
        "related": [],
    }
    framework = {"id": "fw", "label": "FW", "field": None, "kind": "x", "citation": ""}
    results = {
        "frameworks": [{**framework, "concepts": [concept]}],
        "tags": {
            "2": [{"concept": "fw/c", "score": 2.0}],
            "5": [{"concept": "fw/c", "score": 1.0}],
        },
    }
    themes_ = [{"theme_key": "T1", "label": "Homes"}]
    assignments = {"3": "T1", "4": "T1", "6": "T1"}
    return frame, vectors, results, themes_, assignments


def _encode(texts):
    return np.array([[-1.0, 0.0] if t == "the other way" else [1.0, 0.0] for t in texts])


def test_a_concept_ranks_tagged_excerpts_first_then_by_closeness():
    frame, vectors, results, themes_, assignments = _corpus()
    focus = resolve_focus("fw/c", frame, vectors, results, themes_, assignments, _encode)
    assert focus.kind == "concept" and focus.label == "Hope (FW)"  # its name, with its framework's
    # Tagged (2 and 5) or at least a standard deviation closer than the mean (only 1, x = 0.9).
    assert frame["excerpt_id"][focus.relevant].tolist() == [1, 2, 5]
    assert focus.ranked(frame["field"], ["a", "b"]) == {"a": [1, 0], "b": [4]}


def test_a_theme_and_a_question_resolve_and_unknown_ones_are_errors():
    frame, vectors, results, themes_, assignments = _corpus()
    theme = resolve_focus("theme:T1", frame, vectors, results, themes_, assignments, _encode)
    # Members only (excerpts 3, 4 and 6), closest to the theme's centre first.
    assert theme.label == "Homes (theme T1)"
    assert theme.ranked(frame["field"], ["a", "b"]) == {"a": [2], "b": [5, 3]}
    question = resolve_focus(
        "the other way", frame, vectors, results, themes_, assignments, _encode
    )
    assert question.kind == "question" and frame["excerpt_id"][question.relevant].tolist() == [5]
    for focus, detail in [("fw/none", "no concept 'fw/none'"), ("theme:T9", "no theme 'T9'")]:
        with pytest.raises(InputError, match=detail):
            resolve_focus(focus, frame, vectors, results, themes_, assignments, _encode)


# --- Compare ranks a concept's excerpts as the Workshop does --------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("focus") / "store.sqlite"
    conn = store.connect(path)
    ingest_bundled_corpus(conn)
    embedder = HashEmbedder()
    embed_missing(conn, embedder)
    run_analysis(conn, embedder=embedder, frameworks=None, seed=1)
    return path


def test_compare_shows_each_fields_excerpts_on_a_concept_as_the_resolver_ranks_them(
    built, monkeypatch
):
    from crosswalk_ui import views

    monkeypatch.setenv("CROSSWALK_DB", str(built))
    fields, concept = ["mental_health", "criminal_justice"], "chime/hope"
    app = AppTest.from_string(
        "from crosswalk_ui import compare_page\ncompare_page.render()\n", default_timeout=60
    )
    app.run()
    app.multiselect(key="compare_fields").set_value(fields).run()
    app.selectbox(key="compare_concept").set_value(concept).run()
    assert not app.exception
    block = next(b.value for b in app.html if '<div class="cw-columns"' in b.value)
    shown = [unescape(t) for t in re.findall(r'<div class="cw-text">(.*?)</div>', block, re.S)]

    conn = store.connect(built)
    frame = store.excerpts(conn)
    embedder = HashEmbedder()
    run = store.latest_run(conn)
    theme_list, assignments = effective_themes(conn)
    results = {name: store.run_result(conn, run["id"], name) for name in ("frameworks", "tags")}
    vectors = store.load_embeddings(conn, embedder.model_id, frame["text_hash"].tolist())
    focus = resolve_focus(
        concept, frame, vectors, results, theme_list, assignments, embedder.encode
    )
    expected = [
        text
        for chosen in views.side_by_side(focus.scores, frame, fields).values()
        for text in chosen["text"]
    ]
    assert shown == expected


# --- the formats' registry -------------------------------------------------------------------------


def _pack() -> Pack:
    request = PackRequest(focus="chime/hope", fields=("a", "b"))
    return Pack(request, "Hope", "concept", 1, {"a": "A", "b": "B"}, [], [], [])


def test_every_format_is_registered_and_an_unknown_one_lists_them(monkeypatch):
    assert set(RENDERERS) == {"csv", "docx", "html", "md", "pdf", "pptx"}
    with pytest.raises(InputError) as caught:
        render(_pack(), "odt")
    assert "Use one of: csv, docx, html, md, pdf, pptx" in caught.value.message
    monkeypatch.setitem(RENDERERS, "txt", RENDERERS["md"])
    renderer("txt")(lambda pack: pack.focus_label.encode())
    assert render(_pack(), "txt") == b"Hope"
    assert format_for(Path("pack.txt"), None) == "txt" and format_for(Path("p.htm"), None) == "html"
