"""AppTest smoke and interaction tests for every page (fast: a store built with the hash embedder)."""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from html import unescape
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from crosswalk_ui import pages, plotly_element, prefetch, views
from pipelines import store
from pipelines.analysis.run import run_analysis
from pipelines.embed.embedders import HashEmbedder, embed_missing
from pipelines.ingest.files import ingest_bundled_corpus

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


def cards(app: AppTest) -> list[dict[str, str]]:
    """The excerpt cards on the page: each card's text, meta line, reference and analogues, as
    the reader sees them (the HTML unescaped)."""
    found = []
    for block in app.html:
        for card in block.value.split('<div class="cw-card"')[1:]:
            parts = {
                name: [
                    unescape(v)
                    for v in re.findall(rf'<div class="cw-{name}">(.*?)</div>', card, re.S)
                ]
                for name in ("text", "meta", "ref", "analogue")
            }
            found.append(
                {
                    "text": parts["text"][0],
                    "meta": parts["meta"][0],
                    "ref": parts["ref"][0],
                    "analogues": parts["analogue"],
                }
            )
    return found


def page_test(page) -> AppTest:
    module = page.__name__.rsplit(".", 1)[1]
    return AppTest.from_string(
        f"from crosswalk_ui import {module}\n{module}.render()\n", default_timeout=60
    )


def stored(path: Path, name: str):
    """A result of the latest run in the store at `path`."""
    conn = store.connect(path)
    return store.run_result(conn, store.latest_run(conn)["id"], name)


@pytest.mark.parametrize("page", pages.ALL, ids=lambda p: p.SLUG)
def test_every_page_renders(page, app_store):
    test = page_test(page)
    test.run()
    assert not test.exception
    assert test.title[0].value == page.TITLE


def test_first_views_reuse_what_the_warm_up_computed(app_store, monkeypatch):
    """The server's warm-up runs each page's `warm()` (the launcher's preload, the Start page's);
    the page's first view then builds none of it again (the Start page's charts, the concept
    graph, a concept's scores, the tool lens)."""
    from crosswalk_ui import charts, figures

    built: Counter = Counter()
    for module, name in (
        (charts, "stacked_bars"),
        (charts, "grouped_bars"),
        (figures, "concept_graph_figure"),
        (views, "concept_scores"),
        (views, "tool_lens"),
    ):
        monkeypatch.setattr(module, name, counted(getattr(module, name), built, name))
    warmed = [page for page in pages.ALL if hasattr(page, "warm")]
    assert {pages.start_page, pages.concepts_page, pages.compare_page} <= set(warmed)
    for page in warmed:
        page.warm()
    assert set(built) == {
        "stacked_bars",
        "grouped_bars",
        "concept_graph_figure",
        "concept_scores",
        "tool_lens",
    }
    after_warm_up = Counter(built)
    for page in warmed:
        test = page_test(page)
        test.run()
        assert not test.exception
    assert built == after_warm_up


def test_the_warm_up_builds_the_map_of_each_field_ahead(app_store, monkeypatch):
    from crosswalk_ui import data, figures

    built: Counter = Counter()
    monkeypatch.setattr(figures, "excerpt_map", counted(figures.excerpt_map, built, "map"))
    pages.map_page.warm()
    fields = sorted(data.map_points()["field"].unique())
    assert 2 < len(fields) <= pages.map_page.WARM_FIELDS
    assert built["map"] == 1 + len(fields)
    app = page_test(pages.map_page).run()
    app.multiselect(key="map_fields").set_value([fields[1]]).run()
    assert not app.exception
    assert built["map"] == 1 + len(fields)  # a field alone: built ahead
    app.multiselect(key="map_fields").set_value(fields[:2]).run()
    assert built["map"] == 2 + len(fields)  # two fields: built when asked for


def counted(function, calls: Counter, name: str):
    def wrapper(*args, **kwargs):
        calls[name] += 1
        return function(*args, **kwargs)

    return wrapper


def test_navigation_app_renders(app_store):
    test = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    test.run()
    assert not test.exception
    assert test.title[0].value == pages.ALL[0].TITLE


def test_corpus_page_lists_excerpts_with_citations_and_filters(app_store):
    app = page_test(pages.excerpts_page)
    app.run()
    assert not app.exception
    shown = cards(app)
    # twenty excerpts a page, each with its field, kind and short citation, and its reference
    assert len(shown) == 20
    assert all(re.search(r", (\d{4}|n\.d\.)", card["meta"]) for card in shown)
    assert all(card["ref"] for card in shown)
    app.text_input(key="corpus_contains").input("redemption").run()
    shown = cards(app)
    assert shown and all("redemption" in card["text"].lower() for card in shown)


def test_compare_shows_a_column_per_field_with_citations(app_store):
    app = page_test(pages.compare_page)
    app.run()
    app.multiselect(key="compare_fields").set_value(["mental_health", "criminal_justice"]).run()
    app.selectbox(key="compare_concept").set_value("chime/identity").run()
    assert not app.exception
    metas = [card["meta"] for card in cards(app) if re.search(r"\d{4}", card["meta"])]
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


def test_themes_name_their_concepts_in_words(app_store):
    """A theme's concepts read as names with their framework, never as stored keys."""
    app = page_test(pages.themes_page)
    app.run()
    frameworks = stored(app_store, "frameworks")
    key = app.selectbox(key="themes_choice").value
    theme = next(t for t in stored(app_store, "themes") if t["theme_key"] == key)
    line = next(t.value for t in app.text if t.value.startswith("Concepts"))
    assert theme["concepts"], "the bundled corpus tags concepts in its first theme"
    for concept_key, share in theme["concepts"]:
        concept, framework = next(
            (c, f) for f in frameworks for c in f["concepts"] if c["key"] == concept_key
        )
        source = re.sub(r"\s*\([^)]*\)", "", framework["label"]).strip()
        assert f"{concept['label']} ({source}): {share:.0%}" in line
        assert concept_key not in line


def test_concepts_name_counterparts_links_and_tool_domains_in_words(app_store):
    """The Concepts page's tables read as names (concepts with their framework, fields, tool
    domains), not as the stored keys."""
    app = page_test(pages.concepts_page)
    app.session_state["concepts_links_open"] = True
    app.run()
    assert not app.exception
    keys = {c["key"] for f in stored(app_store, "frameworks") for c in f["concepts"]}
    labels = store.field_labels(store.connect(app_store))
    field_keys = set(labels) - set(labels.values())
    (table,) = [h.value for h in app.html if '<table class="cw-table">' in h.value]
    head = re.findall(r'<th scope="col">(.*?)</th>', table)
    assert head == ["counterpart", "framework", "field", "why they correspond"]
    cells = [unescape(c) for c in re.findall(r"<td>(.*?)</td>", table)]
    assert cells and not (set(cells) & (keys | field_keys))
    links = next(d.value for d in app.dataframe if "counterpart" in d.value.columns)
    assert len(links) > 0
    assert not {*links["concept"], *links["counterpart"]} & {*keys, *(f"concept:{k}" for k in keys)}
    assert links["concept"].str.contains(r"\(.+\)$").all()  # "label (framework)"
    lens = next(d.value for d in app.dataframe if "domains" in d.value.columns)
    named = [d for cell in lens["domains"] if cell for d in cell.split(", ")]
    assert named and not set(named) & keys


def test_search_groups_results_by_field(app_store):
    app = page_test(pages.search_page)
    app.run()
    app.text_input(key="search_query").input("hope optimism future").run()
    assert not app.exception
    headings = [unescape(h) for b in app.html for h in re.findall(r"<h4>(.*?)</h4>", b.value)]
    counts = [int(re.fullmatch(r".+ \((\d+)\)", h).group(1)) for h in headings]
    assert len(headings) >= 2 and sum(counts) == 15
    shown = cards(app)
    # Each field's heading comes before its own results, in order.
    fields = [card["meta"].split(" · ")[0] for card in shown]
    assert [h.rsplit(" (", 1)[0] for h in headings] == list(dict.fromkeys(fields))
    assert len(shown) == 15 and all("similarity" in card["meta"] for card in shown)
    assert all(card["analogues"] == [] for card in shown)
    app.toggle(key="search_analogues").set_value(True).run()
    conn = store.connect(app_store)
    labels = store.field_labels(conn)
    present = {labels[field] for field in store.excerpts(conn)["field"].unique()}
    assert len(present) >= 3
    for card in cards(app):
        own = card["meta"].split(" · ")[0]
        # one analogue from each other field, none from the card's own
        assert sorted(a.removeprefix("↳ ").split(" · ")[0] for a in card["analogues"]) == sorted(
            present - {own}
        )


def test_cards_escape_every_value(app_store):
    """Excerpt text and citations show as text in the cards: HTML and Markdown are escaped."""
    from types import SimpleNamespace

    from crosswalk_ui.components import card_html

    hostile = "<img src=x onerror=alert(1)> **bold** [link](javascript:alert(1))"
    row = SimpleNamespace(
        text=hostile,
        field="x<b>",
        kind="<i>",
        short_citation="<script>",
        citation=hostile,
        evidence_type="lived_experience",
    )
    other = SimpleNamespace(field="y", short_citation="A, 2020", text="<svg onload=alert(1)>")
    html = card_html(
        row, {"x<b>": "<u>X</u>"}, {"x<b>": "red;background:url(x)"}, analogues=[other]
    )
    assert "<img" not in html and "<script" not in html and "<svg" not in html and "<u>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; **bold** [link](javascript:alert(1))" in html
    assert "border-left-color:#888888" in html and "★ lived experience" in html


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
    themes = data.map_figure([], [])[1]["theme"].nunique()
    assert f"By theme ({themes} values)" in caption  # fields: a colour each, so not named
    assert "there are too many values for a legend or for a colour each: hover a point" in caption
    # The table beside the map has every colouring the buttons offer.
    app.session_state["map_table_open"] = True
    app.run()
    columns = set(app.dataframe[-1].value.columns)
    assert set(data.MAP_COLOURS.values()) <= columns


def _sent(app: AppTest) -> dict:
    """What the page sent to its plotly element."""
    (element,) = [e for e in app.main if getattr(e, "type", None) == "bidi_component"]
    assert element.proto.component_name == "crosswalk.plotly"
    return json.loads(element.proto.json)


def test_map_lists_a_selection_made_on_the_map_it_shows_only(app_store):
    from crosswalk_ui import data

    app = page_test(pages.map_page).run()
    assert not app.exception
    sent = _sent(app)
    assert sent["selectable"] is True
    drawn = data.map_figure([], [])[1]
    chosen = [[int(i)] for i in drawn["excerpt_id"].head(3)]  # a point's customdata may be a list
    app.session_state["map_chart"] = {"selection": {"revision": sent["revision"], "points": chosen}}
    app.run()
    assert [s.value for s in app.subheader] == ["3 selected excerpts"]
    assert len(app.get("download_button")) == 1
    # A selection made on another figure (another filter) is not this map's.
    app.session_state["map_chart"] = {"selection": {"revision": "another", "points": chosen}}
    app.run()
    assert not app.subheader


@pytest.mark.parametrize("slug", ["map", "concepts"])
def test_the_plotly_pages_send_their_figure_to_the_element(app_store, slug):
    app = page_test({p.SLUG: p for p in pages.ALL}[slug]).run()
    sent = _sent(app)
    figure = json.loads(sent["spec"])
    assert figure["data"] and figure["layout"]["height"]
    assert sent["selectable"] is (slug == "map")


def test_even_sample_is_fixed_and_kept_under_a_filter():
    import pandas as pd

    from crosswalk_ui.views import even_sample

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


@pytest.mark.parametrize(
    "page, opener",
    [
        (pages.map_page, "map_table_open"),
        (pages.excerpts_page, "corpus_table_open"),
        (pages.start_page, "start_counts_open"),
        (pages.concepts_page, "concepts_links_open"),
    ],
    ids=["map", "corpus", "start", "concepts"],
)
def test_tables_beside_charts_are_sent_only_once_opened(page, opener, app_store):
    app = page_test(page)
    app.run()
    assert not app.exception
    closed = len(app.dataframe)
    app.session_state[opener] = True
    app.run()
    assert not app.exception
    assert len(app.dataframe) == closed + 1


def test_a_figure_is_built_once_until_the_store_changes(app_store):
    from crosswalk_ui import data
    from pipelines.analysis import results

    built = []

    def build():
        built.append(1)
        return object()

    first = data.figure("test_figure", "a", build=build)
    assert data.figure("test_figure", "a", build=build) is first
    assert data.figure("test_figure", "b", build=build) is not first
    assert len(built) == 2
    themes, _ = data.themes()
    results.rename_theme(data.conn(), themes[0]["theme_key"], "A new name")
    assert data.figure("test_figure", "a", build=build) is not first
    assert len(built) == 3


def test_vocabulary_table_puts_fields_side_by_side_by_rank():
    from crosswalk_ui.views import vocabulary_table

    vocabulary = [
        {"field": "a", "term": "hope", "z": 3.0, "count": 7},
        {"field": "a", "term": "home", "z": 9.5, "count": 12},
        {"field": "b", "term": "change", "z": 4.25, "count": 5},
        {"field": "c", "term": "unused", "z": 8.0, "count": 1},
    ]
    table = vocabulary_table(vocabulary, ["a", "b"], {"a": "Field A"})
    assert list(table.columns) == ["Field A", "b"]
    assert table.index.tolist() == [1, 2]
    assert table["Field A"].tolist() == ["home (z 9.5, 12×)", "hope (z 3.0, 7×)"]
    assert table["b"].tolist() == ["change (z 4.2, 5×)", ""]


def test_compare_shows_the_chosen_fields_vocabulary_in_one_table(app_store):
    app = page_test(pages.compare_page)
    app.run()
    app.multiselect(key="compare_fields").set_value(["mental_health", "criminal_justice"]).run()
    assert not app.exception
    (table,) = [h.value for h in app.html if '<table class="cw-table">' in h.value]
    head = re.findall(r'<th scope="col">(.*?)</th>', table)
    assert head == ["rank", "Mental health", "Criminal justice"]
    assert table.count("<tr>") > 1


@pytest.mark.parametrize(
    "page, switch, fields",
    [
        (pages.compare_page, "compare_lived", ["Mental health", "Substance use"]),
        (
            pages.concepts_page,
            "concepts_lived",
            [
                "Criminal justice",
                "Homelessness & multiple disadvantage",
                "Mental health",
                "Substance use",
            ],
        ),
    ],
    ids=["compare", "concepts"],
)
def test_excerpts_by_field_can_be_lived_experience_sources_only(page, switch, fields, app_store):
    app = page_test(page)
    app.run()

    def columns() -> str:
        # The excerpts side by side are the page's first block of columns (Compare's last
        # section, "same word, different meaning", has its own).
        return next(b.value for b in app.html if '<div class="cw-columns"' in b.value)

    def metas() -> list[str]:
        return [unescape(m) for m in re.findall(r'<div class="cw-meta">(.*?)</div>', columns())]

    assert any(not m.endswith("★ lived experience") for m in metas())
    app.toggle(key=switch).set_value(True).run()
    assert not app.exception
    assert metas() and all(m.endswith("★ lived experience") for m in metas())
    # Each field keeps its column: its cards, or a note that it has none.
    assert [unescape(h) for h in re.findall(r"<h4>(.*?)</h4>", columns())] == fields


def test_themes_can_show_a_themes_lived_experience_sources_only(app_store):
    app = page_test(pages.themes_page)
    app.run()
    themes = stored(app_store, "themes")
    frame = store.excerpts(store.connect(app_store))
    lived_ids = set(frame.loc[frame["evidence_type"] == "lived_experience", "excerpt_id"])
    # A theme with lived-experience members in some fields but not in all of them.
    members = {}
    for excerpt, theme in stored(app_store, "assignments").items():
        members.setdefault(theme, set()).add(int(excerpt))
    key = next(
        t["theme_key"]
        for t in themes
        if members.get(t["theme_key"], set()) & lived_ids
        and not (members[t["theme_key"]] <= lived_ids)
    )
    app.selectbox(key="themes_choice").set_value(key).run()
    app.toggle(key="themes_lived").set_value(True).run()
    assert not app.exception
    block = next(b.value for b in app.html if '<div class="cw-columns"' in b.value)
    metas = [unescape(m) for m in re.findall(r'<div class="cw-meta">(.*?)</div>', block)]
    texts = [unescape(t) for t in re.findall(r'<div class="cw-text">(.*?)</div>', block)]
    assert metas and all(m.endswith("★ lived experience") for m in metas)
    by_text = dict(zip(frame["text"], frame["excerpt_id"], strict=False))
    assert {by_text[t] for t in texts} <= members[key] & lived_ids


def test_compare_lists_frameworks_by_their_names(app_store):
    app = page_test(pages.compare_page)
    app.run()
    box = app.selectbox(key="compare_framework")
    assert box.value == "chime"
    assert "CHIME personal recovery processes" in box.options
    assert "chime" not in box.options
    box.set_value("recovery_capital").run()
    assert not app.exception


def test_the_launchers_preload_readies_the_first_page(app_store, monkeypatch):
    from crosswalk_ui import charts
    from crosswalk_ui import warm_up as serve

    built: Counter = Counter()
    monkeypatch.setattr(charts, "stacked_bars", counted(charts.stacked_bars, built, "bars"))
    serve._preload()
    assert built["bars"] == 2  # the corpus by evidence type and by years
    test = page_test(pages.start_page)
    test.run()
    assert not test.exception and built["bars"] == 2


def test_the_preload_leaves_an_unreadable_store_to_the_page(tmp_path, monkeypatch, caplog):
    from crosswalk_ui import warm_up as serve

    monkeypatch.setenv("CROSSWALK_DB", str(tmp_path))  # a folder, not a store
    with caplog.at_level("INFO", logger="crosswalk_ui.serve"):
        serve._preload()
    assert "the first page was not prepared ahead" in caplog.text


def test_serve_runs_the_app_with_the_options_given(monkeypatch):
    import sys

    from streamlit.web import cli

    from crosswalk_ui import serve

    seen = []
    monkeypatch.setattr(cli, "main", lambda: seen.append(list(sys.argv)))
    monkeypatch.setattr(sys, "argv", ["crosswalk_ui.serve", "--server.port", "9999"])
    serve.main()
    # Static serving (for the plotly element's plotly.js) first, so that an option given wins.
    static = ["--server.enableStaticServing", "true"]
    assert seen == [["streamlit", "run", str(ROOT / "app.py"), *static, "--server.port", "9999"]]


def _bidi(app: AppTest, name: str) -> list[dict]:
    """What the run sent to each of the app's own elements called `name`."""
    return [
        json.loads(e.proto.json)
        for e in app.main
        if getattr(e, "type", None) == "bidi_component" and e.proto.component_name == name
    ]


def _asks(app: AppTest) -> None:
    """The browser asks for the next step (the element's trigger, which AppTest cannot press)."""
    app.session_state["_cw_prefetch"]["asked"] = True
    app.run()


def test_the_start_page_readies_the_other_pages_in_the_browser(app_store, monkeypatch):
    from crosswalk_ui import warm_up as data

    warmed = [False]
    monkeypatch.setattr(data, "warmed_up", lambda: warmed[0])
    monkeypatch.setattr(data, "warm_up_in_background", lambda: None)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    start = {"script": plotly_element.script_url(), "delay": prefetch.DELAY_MS, "ask": True}
    assert _bidi(at, "crosswalk.prefetch") == [start]
    at.run()  # a run before the browser asks (the reader chose something): the same again
    assert _bidi(at, "crosswalk.prefetch") == [start]
    # The browser has loaded the code; the server is still warming up: ask again later.
    _asks(at)
    assert _bidi(at, "crosswalk.prefetch") == [{"again": prefetch.POLL_MS, "poll": 1}]
    assert not at.get("multiselect") and not _bidi(at, "crosswalk.plotly")
    _asks(at)
    assert _bidi(at, "crosswalk.prefetch") == [{"again": prefetch.POLL_MS, "poll": 2}]
    # Warm now: one element of each kind, and the charts the Map and Concepts open on, exactly
    # as those pages send them (so the browser shows the kept chart without drawing it again).
    warmed[0] = True
    _asks(at)
    assert _bidi(at, "crosswalk.prefetch") == [{"drawn": 2}]
    assert [w.key for w in at.multiselect] == ["cw_ahead_multiselect"]
    assert len(at.dataframe) == 1 and len(at.text_area) == 1 and len(at.radio) == 1
    ahead = {sent["key"]: sent for sent in _bidi(at, "crosswalk.plotly")}
    assert set(ahead) == {pages.map_page.CHART_KEY, pages.concepts_page.CHART_KEY}
    for page in (pages.map_page, pages.concepts_page):
        (sent,) = _bidi(page_test(page).run(), "crosswalk.plotly")
        assert ahead[page.CHART_KEY] == sent
    assert not at.exception
    # Drawn: the last run takes them away, and nothing is sent after.
    _asks(at)
    assert not _bidi(at, "crosswalk.prefetch") and not _bidi(at, "crosswalk.plotly")
    assert not at.get("multiselect") and not at.dataframe
    at.run()
    assert not _bidi(at, "crosswalk.prefetch") and not at.exception
    assert at.title[0].value == pages.ALL[0].TITLE


def test_the_browser_stops_readying_when_the_reader_moves_on(app_store, monkeypatch):
    from crosswalk_ui import warm_up as data

    monkeypatch.setattr(data, "warm_up_in_background", lambda: None)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.session_state["_cw_prefetch"]["page"] = "Compare"  # as if this run were another page's
    at.run()
    assert not _bidi(at, "crosswalk.prefetch")
    _asks(at)  # a late ask from the browser is ignored
    assert not _bidi(at, "crosswalk.prefetch") and not at.get("multiselect")


def test_a_reader_arriving_on_another_page_gets_the_code_loaded_only(app_store):
    def on_the_map():
        from crosswalk_ui import pages, prefetch

        pages.map_page.render()
        prefetch.ready_the_browser(pages.map_page.TITLE, pages.ALL)

    at = AppTest.from_function(on_the_map, default_timeout=60).run()
    (sent,) = _bidi(at, "crosswalk.prefetch")
    assert sent["ask"] is False and sent["script"] == plotly_element.script_url()
    assert len(_bidi(at, "crosswalk.plotly")) == 1  # the Map's own chart only


def test_the_warm_up_thread_does_not_warn_that_it_serves_no_page():
    """Streamlit's "missing ScriptRunContext" warning is dropped for the warm-up thread only."""
    import logging
    import threading

    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    from crosswalk_ui import warm_up as data

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    logger.addHandler(handler)
    try:
        for name in (data.WARM_UP_THREAD, "another-thread"):
            thread = threading.Thread(target=get_script_run_ctx, name=name)
            thread.start()
            thread.join()
    finally:
        logger.removeHandler(handler)
    assert [record.threadName for record in records] == ["another-thread"]


def _ui_imports(folder: Path) -> dict[str, set[str]]:
    """Each crosswalk_ui module and the crosswalk_ui modules it imports, anywhere in its code (an
    import inside a function still makes the two modules depend on each other)."""
    import ast

    package = folder.name
    graph: dict[str, set[str]] = {}
    for path in sorted(folder.glob("*.py")):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == package:
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(package + "."):
                found.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                found |= {
                    a.name.split(".")[1] for a in node.names if a.name.startswith(package + ".")
                }
        graph[path.stem] = found - {path.stem}
    return graph


def _a_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle in `graph` (as the modules along it), or [] when there is none."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str]:
        if module in path:
            return path[path.index(module) :] + [module]
        if module in done or module not in graph:
            return []
        for imported in sorted(graph[module]):
            if cycle := visit(imported, [*path, module]):
                return cycle
        done.add(module)
        return []

    return next((cycle for module in sorted(graph) if (cycle := visit(module, []))), [])


def test_the_cycle_check_finds_a_cycle():
    assert _a_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _a_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_no_import_cycle_among_the_app_modules():
    graph = _ui_imports(ROOT / "crosswalk_ui")
    assert {"data", "pages", "warm_up", "start_page"} <= set(graph)
    assert _a_cycle(graph) == []
