"""The app's defects of #28: user text shown as text on every page, the Start page at /start, and
verdicts that judge only the fields in view (none with a single field).

Stores are built with the hash embedder; where a verdict must have a known answer the test writes
the themes and their members itself.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from markdown_it import MarkdownIt
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from crosswalk_ui import pages
from pipelines import store
from pipelines.analysis import findings, results
from pipelines.analysis.compare import composition, verdicts
from pipelines.analysis.contract import Theme
from pipelines.analysis.run import run_analysis
from pipelines.embed.embedders import HashEmbedder, embed_missing
from pipelines.ingest.files import ingest_bundled_corpus
from tests import reliability

ROOT = Path(__file__).resolve().parent.parent
# A name that Markdown would draw as a heading, red text, a formula and an image fetched from a
# server (a beacon that tells the server who looked).
NAME = "# Big :red[x] $x^2$ ![b](http://example.com/b.png)"
FIELD_LABEL = "<b>Mind</b> :blue[y] $y$ ![i](http://example.com/i.png)"
# Words of NAME and FIELD_LABEL that escaping leaves as they are, to find where they show.
MARKS = ("Big", "Mind")
CASES: dict[str, int] = {}  # what the tests checked, by page, for the reliability report


@pytest.fixture(scope="module", autouse=True)
def _record_reliability():
    """After the file's tests: how many hostile-text elements and single-field pages they saw."""
    yield
    if CASES:
        reliability.record(
            "app_28",
            cases=sum(CASES.values()),
            hostile_text_elements=sum(v for k, v in CASES.items() if k != "one field"),
            single_field_pages=CASES.get("one field", 0),
            pages=sorted(CASES),
        )


def _build(path: Path, csv: Path | None = None) -> Path:
    conn = store.connect(path)
    if csv is None:
        ingest_bundled_corpus(conn)
    else:
        from pipelines.cli import main

        assert main(["ingest", "--db", str(path), str(csv)]) == 0
    embedder = HashEmbedder()
    embed_missing(conn, embedder)
    run_analysis(conn, embedder=embedder, frameworks=None, seed=1)
    return path


@pytest.fixture(scope="module")
def built_store(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("app28") / "store.sqlite")


def _copy(source: Path, target: Path, monkeypatch) -> Path:
    sqlite3.connect(source).execute(f"VACUUM INTO '{target}'")
    monkeypatch.setenv("CROSSWALK_DB", str(target))
    return target


def _set_result(path: Path, name: str, value) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "UPDATE run_results SET value = ? WHERE name = ? AND run_id = "
            "(SELECT MAX(id) FROM runs)",
            (json.dumps(value), name),
        )
    conn.close()


def _result(path: Path, name: str):
    conn = store.connect(path)
    return store.run_result(conn, store.latest_run(conn)["id"], name)


def page_test(page) -> AppTest:
    module = page.__name__.rsplit(".", 1)[1]
    return AppTest.from_string(
        f"from crosswalk_ui import {module}\n{module}.render()\n", default_timeout=90
    )


# --- 1. user text is shown as text -----------------------------------------------------------------


def _unescaped(pattern: str, source: str) -> bool:
    """Whether `pattern` occurs with an even number of backslashes before it (so not escaped)."""
    return any((len(m.group(1)) % 2) == 0 for m in re.finditer(r"(\\*)" + pattern, source, re.M))


def markup(source: str) -> list[str]:
    """What Streamlit's Markdown would draw from `source` beyond plain text: headings, images,
    links and HTML (as CommonMark parses it), formulas ($) and colour directives (:red[...])."""
    found = set()
    for token in MarkdownIt("commonmark").parse(source):
        if token.type == "heading_open":
            found.add("heading")
        if token.type == "html_block":
            found.add("html")
        for child in token.children or []:
            found |= {"image": {"image"}, "link_open": {"link"}, "html_inline": {"html"}}.get(
                child.type, set()
            )
    if _unescaped(r"\$", source):
        found.add("latex")
    if _unescaped(r":[a-z]+\[", source):
        found.add("colour")
    return sorted(found)


def test_the_markup_check_finds_what_markdown_would_draw():
    assert markup(NAME) == ["colour", "heading", "image", "latex"]
    assert markup(FIELD_LABEL) == ["colour", "html", "image", "latex"]
    assert markup("**Verdict: shared** 3 of 4 excerpts") == []
    assert markup(r"\# Big \:red\[x\] \$x^2\$ \!\[b\]\(http://example.com/b.png\)") == []


def rendered_sources(app: AppTest) -> list[str]:
    """Every string the page hands Streamlit to draw as Markdown: Markdown, captions, headings,
    alerts, and the labels of expanders, tabs and widgets (radio options too)."""
    out = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "latex"):
        out += [e.value for e in app.get(kind)]
    for kind in ("info", "warning", "error", "success"):
        out += [e.value for e in getattr(app, kind)]
    out += [e.label for e in app.expander] + [t.label for t in app.tabs]
    widgets = "selectbox multiselect radio text_input text_area toggle checkbox button slider"
    for kind in widgets.split():
        for widget in app.get(kind):
            out.append(widget.label)
            if kind == "radio":
                out += [str(o) for o in widget.options]
    return out


def _hostile(app: AppTest, page: str, *, at_least: int = 1) -> None:
    """The page ran, shows the hostile text `at_least` times, whole, and never as markup."""
    assert not app.exception, app.exception
    shown = [s for s in rendered_sources(app) if any(m in s for m in MARKS)]
    assert len(shown) >= at_least, (page, shown)
    drawn = {s: markup(s) for s in shown if markup(s)}
    assert drawn == {}, page
    # read as text (backslash escapes undone), the names are there whole
    read = [re.sub(r"\\(.)", r"\1", s) for s in shown]
    assert [r for r in read if NAME in r or FIELD_LABEL in r], page
    CASES[page] = CASES.get(page, 0) + len(shown)


@pytest.fixture
def hostile_store(built_store, tmp_path, monkeypatch):
    """The built store with every theme renamed and annotated with `NAME` (each theme's key
    after it, so they stay apart), a field labelled `FIELD_LABEL`, and the first concept and
    the first outcome tool of the frameworks named `NAME` (as a codebook could name them)."""
    path = _copy(built_store, tmp_path / "store.sqlite", monkeypatch)
    conn = store.connect(path)
    for name in ("themes", "broad_themes"):
        for theme in _result(path, name):
            results.rename_theme(conn, theme["theme_key"], f"{NAME} {theme['theme_key']}")
            results.annotate_theme(conn, theme["theme_key"], f"{NAME} note")
    with conn:
        conn.execute("UPDATE fields SET label = ? WHERE slug = 'mental_health'", (FIELD_LABEL,))
    frameworks = _result(path, "frameworks")
    frameworks[0]["concepts"][0]["label"] = NAME
    next(f for f in frameworks if f["kind"] == "outcome_tool")["label"] = f"{NAME} tool"
    _set_result(path, "frameworks", frameworks)
    return path


def test_start_page_shows_user_names_as_text(hostile_store):
    app = page_test(pages.start_page).run()
    _hostile(app, "start", at_least=1)


def test_themes_page_shows_names_notes_and_field_labels_as_text(hostile_store):
    app = page_test(pages.themes_page).run()
    _hostile(app, "themes", at_least=2)  # the theme's name and its note
    first = app.selectbox(key="themes_choice").value
    app.selectbox(key="themes_choice").set_value(first)
    app.radio(key="themes_level").set_value(1).run()
    _hostile(app, "themes broad", at_least=2)


def test_compare_page_shows_theme_names_and_field_labels_as_text(hostile_store):
    app = page_test(pages.compare_page).run()
    app.session_state["compare_findings_open"] = True
    app.multiselect(key="compare_fields").set_value(["mental_health", "substance_use"]).run()
    app.radio(key="compare_focus_kind").set_value("a theme").run()
    app.toggle(key="compare_timelens").set_value(True).run()
    _hostile(app, "compare")
    chart = app.get("plotly_chart")
    assert chart, "the time lens draws a chart"
    spec = json.loads(chart[0].proto.spec)
    strings = _strings(spec)
    # plotly draws a subset of HTML in titles, legends and hover labels
    assert not [s for s in strings if "<b>Mind" in s]
    assert any("Mind" in s for s in strings)


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_concepts_page_shows_codebook_labels_as_text(hostile_store):
    app = page_test(pages.concepts_page).run()
    concept = _result(hostile_store, "frameworks")[0]["concepts"][0]["key"]
    app.selectbox(key="concepts_choice").set_value(concept).run()
    tool = next(f for f in _result(hostile_store, "frameworks") if f["kind"] == "outcome_tool")
    app.selectbox(key="concepts_tool").set_value(tool["id"]).run()
    _hostile(app, "concepts", at_least=2)  # the concept's heading line and the tool lens


def test_concept_graph_legend_shows_field_labels_as_text():
    from crosswalk_ui import figures

    nodes = pd.DataFrame(
        {"x": [0.0], "y": [0.0], "size": [8], "group": [FIELD_LABEL], "label": ["a"]}
    )
    edges = pd.DataFrame(columns=["kind", "x0", "x1", "y0", "y1"])
    figure = figures.concept_graph_figure(nodes, edges, colours={}, title="t")
    assert [t.name for t in figure.data if t.mode == "markers"] == [
        "&lt;b&gt;Mind&lt;/b&gt; :blue[y] $y$ ![i](http://example.com/i.png)"
    ]


def test_workshop_pack_shows_theme_names_and_questions_as_text(hostile_store):
    # The focus is chosen inside the form: each choice takes effect with "Build the pack".
    app = page_test(pages.workshop_page).run()
    app.radio(key="workshop_focus_kind").set_value("a theme")
    app.slider(key="workshop_items").set_value(8)
    app.button[0].click().run()
    assert app.session_state["workshop_pack"].focus_kind == "theme"
    _hostile(app, "workshop theme", at_least=1)  # the pack's heading
    app.radio(key="workshop_focus_kind").set_value("a question")
    app.button[0].click().run()
    app.text_input(key="workshop_question").input(NAME)
    app.button[0].click().run()
    assert NAME in app.session_state["workshop_pack"].focus_label
    _hostile(app, "workshop question", at_least=1)


# --- 2. the Start page answers at / and at /start ---------------------------------------------------


def _resolve(app: AppTest, path: str):
    """The page Streamlit's server runs for a browser at `/path` (its own resolver, as a
    session given that URL uses it), or None for its "Page not found"."""
    manager = PagesManager(str(ROOT / "app.py"))
    manager.set_script_intent("", path)
    default = next(h for h, info in app._registered_pages.items() if info["url_pathname"] == "")
    return manager.set_pages_and_resolve(app._registered_pages, fallback_page_hash=default)


def test_the_start_page_answers_at_the_root_and_at_start(built_store, tmp_path, monkeypatch):
    _copy(built_store, tmp_path / "store.sqlite", monkeypatch)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    assert not app.exception
    for path in ("", "start", "compare"):
        found = _resolve(app, path)
        assert found is not None, f"/{path}: page not found"
    start = _resolve(app, "start")
    assert start["page_name"] == pages.start_page.TITLE
    app._page_hash = start["page_script_hash"]
    app.run()
    assert not app.exception
    assert app.title[0].value == pages.start_page.TITLE
    # one Start page in the menu
    titles = [info["page_name"] for info in app._registered_pages.values()]
    assert len(titles) == len(pages.ALL) + 1
    assert titles.count(pages.start_page.TITLE) == 2


# --- 3. verdicts judge the fields in view -------------------------------------------------------


def _theme(key: str, label: str, *, parent: str | None = None, level: int = 2) -> Theme:
    blank = dict(size=0, key_terms=[], term_weights=[], stability=1.0, fragile=False)
    return Theme(
        key,
        0,
        label,
        **blank,
        verdict="mixed",
        verdict_field=None,
        verdict_reason="",
        representatives={},
        level=level,
        parent=parent,
    )


def _constructed(fields: list[str], per_field: int = 40):
    """`per_field` excerpts in each field. Theme T1 holds a quarter of each field but the last;
    T2 holds the rest. Broad theme B1 holds everything."""
    field_of, fine, broad = {}, {}, {}
    for n, field in enumerate(fields):
        for i in range(per_field):
            excerpt = f"{n}-{i}"
            field_of[excerpt] = [field, ""]
            fine[excerpt] = "T1" if field != fields[-1] and i < per_field // 4 else "T2"
            broad[excerpt] = "B1"
    themes = [_theme("T1", "Hope among three", parent="B1"), _theme("T2", "The rest")]
    return field_of, (themes, fine), ([_theme("B1", "Everything", level=1)], broad)


def test_findings_among_the_chosen_fields_judge_only_those_fields():
    fields = ["a", "b", "c", "d"]
    field_of, fine, broad = _constructed(fields)
    labels = {f: f.upper() for f in fields}

    def sentences(chosen):
        found = findings.findings_among(
            chosen,
            fine=fine,
            broad=broad,
            excerpt_fields=field_of,
            concept_counts={"x/one": {"a": 10, "b": 10, "c": 10, "d": 0}},
            concept_labels={"x/one": "One concept"},
            field_labels=labels,
        )
        return [f.sentence for f in found]

    # All four: T1 lacks d, so it is not shared; the concept lacks d too.
    everything = sentences(fields)
    assert not [s for s in everything if "hope among three" in s and s.startswith("All")]
    assert not [s for s in everything if "one concept" in s and s.startswith("All")]
    # Three of the four: T1 and the concept are each field's fair share of those three.
    three = sentences(["a", "b", "c"])
    assert [s for s in three if s.startswith("All 3 fields write about hope among three: 30")]
    assert [s for s in three if s.startswith("All 3 fields write about one concept: 30")]
    assert not [s for s in three if "4 fields" in s or "D" in s.split(":")[0]]
    # One field: nothing to compare.
    assert sentences(["a"]) == []


def test_verdicts_of_a_single_field_say_there_is_nothing_to_compare():
    table = composition(np.array([0, 0, 0, 1, 1, 1]), ["a"] * 6, ["a"])
    judged = verdicts(table)
    assert [v.verdict for v in judged] == ["mixed", "mixed"]
    assert all("nothing to compare across fields" in v.reason for v in judged)
    assert not [v for v in judged if "all 1 fields" in v.reason]


@pytest.fixture(scope="module")
def one_field_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("one_field")
    frame = pd.read_csv(ROOT / "corpus" / "excerpts.csv")
    csv = folder / "one.csv"
    frame[frame["field"] == "mental_health"][["id", "text", "field"]].to_csv(csv, index=False)
    return _build(folder / "store.sqlite", csv)


@pytest.mark.parametrize("page", [pages.start_page, pages.compare_page, pages.themes_page])
def test_a_single_field_store_says_there_is_nothing_to_compare(
    page, one_field_store, tmp_path, monkeypatch
):
    _copy(one_field_store, tmp_path / "store.sqlite", monkeypatch)
    app = page_test(page).run()
    assert not app.exception
    shown = rendered_sources(app) + [t.value for t in app.text]
    assert [s for s in shown if "nothing to compare across fields" in s], page.SLUG
    assert not [s for s in shown if "all 1 fields" in s or "All 1 fields" in s]
    CASES["one field"] = CASES.get("one field", 0) + 1


@pytest.fixture
def constructed_store(built_store, tmp_path, monkeypatch):
    """The built store (four fields) with its themes replaced by `_constructed`'s: T1 holds a
    quarter of every field's excerpts but homelessness's, T2 the rest, B1 everything."""
    path = _copy(built_store, tmp_path / "store.sqlite", monkeypatch)
    stored = _result(path, "excerpt_fields")
    order = ["mental_health", "substance_use", "criminal_justice", "homelessness"]
    by_field = {f: sorted((i for i, (g, _k) in stored.items() if g == f), key=int) for f in order}
    fine, broad = {}, {}
    for field, ids in by_field.items():
        for n, excerpt in enumerate(ids):
            fine[excerpt] = "T1" if field != "homelessness" and n < len(ids) // 4 else "T2"
            broad[excerpt] = "B1"
    template = _result(path, "themes")[0]
    rows = []
    for n, (key, label) in enumerate([("T1", "Hope among three"), ("T2", "The rest")]):
        size = sum(v == key for v in fine.values())
        rows.append({**template, "theme_key": key, "index": n, "label": label, "size": size})
        rows[-1].update(parent="B1", verdict="mixed", verdict_field=None, verdict_reason="")
    broad_row = {**_result(path, "broad_themes")[0], "theme_key": "B1", "index": 0}
    broad_row.update(label="Everything", size=len(broad), verdict="shared", parent=None)
    for name, value in (
        ("themes", rows),
        ("assignments", fine),
        ("broad_themes", [broad_row]),
        ("broad_assignments", broad),
    ):
        _set_result(path, name, value)
    return path


def _read(app: AppTest) -> str:
    """The page's Markdown as a reader reads it (backslash escapes undone)."""
    return re.sub(r"\\(.)", r"\1", "\n".join(m.value for m in app.markdown))


def test_compare_judges_only_the_fields_chosen(constructed_store):
    app = page_test(pages.compare_page).run()
    everything = ["mental_health", "substance_use", "criminal_justice", "homelessness"]
    app.session_state["compare_findings_open"] = True  # the verdicts are judged when opened
    app.multiselect(key="compare_fields").set_value(everything).run()
    assert not app.exception
    # All four: T1 has no homelessness excerpt, so it is not shared (nor anyone's own).
    assert "hope among three" not in _read(app)
    assert "All 4 fields write about everything" in _read(app)
    app.multiselect(key="compare_fields").set_value(everything[:3]).run()
    assert not app.exception
    shown = _read(app)
    assert "All 3 fields write about hope among three: 137 excerpts" in shown
    assert "All 3 fields write about everything: 552 excerpts" in shown
    assert "All 4 fields" not in shown
