"""The real app, on a store built with the real model, in Debian's headless Chromium (Playwright).

In CI (`CROSSWALK_REQUIRE_BROWSER=1`, set by `make test`) a missing browser is a failure, not a skip.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pipelines.cli import main

pytestmark = [pytest.mark.browser, pytest.mark.model]
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
HOSTILE = "<img src=x onerror=alert(1)>"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium")
    if executable is None:
        if os.environ.get("CROSSWALK_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is not installed; `make test` installs it with apt-get")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=FLAGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def served_store(real_store, tmp_path_factory):
    """A copy of the real store for the served app (the journeys change it)."""
    store_copy = tmp_path_factory.mktemp("served") / "store.sqlite"
    import sqlite3

    sqlite3.connect(real_store).execute(f"VACUUM INTO '{store_copy}'")
    hostile = tmp_path_factory.mktemp("hostile") / "hostile.csv"
    hostile.write_text(
        f'id,text,field\nx1,"{HOSTILE} is how an attacker might try to run a script in the excerpt list",homelessness\n',
        encoding="utf-8",
    )
    assert main(["ingest", "--db", str(store_copy), str(hostile)]) == 0
    assert main(["build", "--db", str(store_copy), "--model", "all-MiniLM-L6-v2"]) == 0
    return store_copy


@pytest.fixture(scope="module")
def server(served_store):
    """The app served as `make run` serves it (`crosswalk_ui.serve`), on a free localhost port."""
    store_copy = served_store
    port = _free_port()
    env = {**os.environ, "CROSSWALK_DB": str(store_copy), "CROSSWALK_MODEL": "all-MiniLM-L6-v2"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crosswalk_ui.serve",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("the Streamlit server did not start within 60 s")
    yield url
    process.terminate()
    process.wait(timeout=20)


# Notes in the page whether the prefetch's warm-up ever drew its chart (it is removed at once).
_WATCH_WARM_CHART = """new MutationObserver(() => {
  if (document.querySelector(".cw-plotly-warm")) window.__cwWarmChartDrawn = true;
}).observe(document, {childList: true, subtree: true});"""


def _open(browser, url: str, ready: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.add_init_script(_WATCH_WARM_CHART)
    page.goto(url)
    page.get_by_text(ready).first.wait_for(timeout=90000)
    return page


def _wait_idle(page) -> None:
    """Wait until Streamlit has finished the current run (its status widget disappears)."""
    page.wait_for_timeout(300)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="detached", timeout=60000)


# The pages with a plotly chart (`crosswalk_ui.plotly_element`): drawn when plotly has drawn the
# chart's latest figure (its box is busy until then).
CHART_PAGES = {"map", "concepts"}
_DRAWN = ".cw-plotly:not([data-busy]) .main-svg"


def _wait_drawn(page) -> None:
    page.locator(_DRAWN).first.wait_for(timeout=60000)
    page.wait_for_function("() => !document.querySelector('.cw-plotly[data-busy]')", timeout=60000)


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize(
    "slug,ready",
    [
        ("start", "How does each field define recovery?"),
        ("compare", "Concept coverage by field"),
        ("themes", "Representative excerpts per field"),
        ("map", "Evidence type"),
        ("concepts", "Tool lens"),
        ("search", "Search the excerpts by meaning"),
        ("workshop", "Keep wording that gives the field away"),
        ("corpus", "Excerpts with their citations"),
    ],
)
def test_every_page_renders_in_the_browser(browser, server, slug, ready):
    # The first page is the app's default, served at the root.
    page = _open(browser, f"{server}/{'' if slug == 'start' else slug}", ready)
    _wait_idle(page)
    body = page.inner_text("body")
    assert "Traceback" not in body and "Page not found" not in body
    if slug in CHART_PAGES:
        _wait_drawn(page)
    page.wait_for_timeout(1000)
    _shot(page, slug)
    page.close()


def test_the_first_page_readies_later_pages_and_leaves_nothing_in_sight(browser, server):
    """The Start page's prefetch loads plotly.js and draws a chart out of sight (so the first
    map or graph does not pay for plotly compiling its code), then has the page draw one element
    of each kind and the Map's and the graph's charts out of sight and take them away, the charts
    kept: the Map's first visit shows its chart without drawing it again. Scripts that break
    fail silently in the browser, so this is checked there."""
    page = _open(browser, server, "How does each field define recovery?")
    page.wait_for_function("() => window.__cwPlotlyWarmed === true", timeout=60000)
    assert page.evaluate("window.__cwWarmChartDrawn") is True
    page.wait_for_function(
        "() => window.__cwKept && window.__cwKept.map_chart && window.__cwKept.concepts_graph",
        timeout=90000,
    )
    _wait_idle(page)
    assert page.locator(".st-key-cw_ahead").count() == 0
    assert page.evaluate("document.querySelectorAll('.js-plotly-plot').length") == 0
    assert page.locator(".cw-plotly-warm").count() == 0
    assert page.evaluate("!!window.__cwKept.map_chart._fullLayout")
    page.evaluate(
        """() => {
        const box = window.__cwAhead = window.__cwKept.map_chart;
        new MutationObserver(() => { if (box.dataset.busy) window.__cwRedrawn = true; })
          .observe(box, {attributes: true});
      }"""
    )
    _go(page, "Map", "Evidence type")
    _wait_drawn(page)
    assert page.evaluate("document.querySelector('.cw-plotly') === window.__cwAhead")
    assert page.evaluate("window.__cwRedrawn") is None
    fit = "Math.abs(window.__cwAhead._fullLayout.width - window.__cwAhead.clientWidth) <= 1"
    assert page.evaluate(fit)  # drawn out of sight at the page's width
    page.close()


def test_a_first_page_with_a_chart_draws_no_warm_up_chart_and_its_lasso_works(browser, server):
    """Plotly drops every chart's pending selection whenever it draws a chart, so the warm-up's
    chart, drawn during a lasso on a Map opened first, lost the selection (one run in four). The
    Map has plotly warm already: the warm-up draws nothing there."""
    page = _open_map(browser, server)
    page.wait_for_function("() => window.__cwPlotlyWarmed === true", timeout=60000)
    assert page.evaluate("window.__cwWarmChartDrawn") is None
    _lasso(page, 0.2, 0.2, 0.45)
    page.get_by_text(re.compile(r"^\d+ selected excerpts$")).wait_for(timeout=60000)
    page.close()


def test_compare_mental_health_and_criminal_justice_on_identity(browser, server):
    page = _open(browser, f"{server}/compare", "Fields to compare")
    _wait_idle(page)
    # Replace the second default field (substance use) by criminal justice.
    page.get_by_role(
        "button", name=re.compile("Remove Substance use|Delete Substance use", re.I)
    ).first.click()
    _wait_idle(page)
    page.get_by_text("Fields to compare").first.click()
    page.locator("[data-testid='stMultiSelect']").first.click()
    page.get_by_role("option", name="Criminal justice").click()
    page.keyboard.press("Escape")
    _wait_idle(page)
    concept = page.locator("[data-testid='stSelectbox']").filter(has_text="Concept").first
    concept.click()
    page.keyboard.type("Identity (chime/identity)")
    page.get_by_role("option", name="Identity (chime/identity)").click()
    _wait_idle(page)
    body = page.inner_text("body")
    assert re.search(r"Mental health · \w+ · [^\n]+, \d{4}", body)
    assert re.search(r"Criminal justice · \w+ · [^\n]+, \d{4}", body)
    _shot(page, "journey-compare")
    page.close()


_POINTS = "[...document.querySelector('.scatterlayer .trace').querySelectorAll('path.point')]"
_LEGEND = "() => [...document.querySelectorAll('.legend .legendtext')].map(e => e.textContent)"


def _hover_first_line(page) -> str:
    """Hover the map's first point; the first line of its label (the value it is coloured by)."""
    box = page.locator(".scatterlayer .trace").first.locator("path.point").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    label = page.locator(".hoverlayer .hovertext").first
    label.wait_for(timeout=10000)
    first = label.locator("tspan.line").first.text_content()
    page.mouse.move(5, 5)
    return first


def _open_map(browser, server):
    page = _open(browser, f"{server}/map", "Evidence type")
    _wait_drawn(page)
    _wait_idle(page)
    return page


def _wait_more_colours_than(page, count: int) -> None:
    page.wait_for_function(
        f"() => new Set({_POINTS}.map(p => p.style.fill)).size > {count}", timeout=10000
    )


def test_map_buttons_recolour_the_points_in_the_browser(browser, server):
    page = _open_map(browser, server)
    fields = page.evaluate(_LEGEND)
    assert len(fields) >= 3
    fills = page.evaluate(f"{_POINTS}.map(p => p.style.fill)")
    assert len(set(fills)) == len(fields)
    assert _hover_first_line(page) in fields
    page.locator(".updatemenu-button").filter(has_text="theme").click()
    # Many themes: more colours than fields, no legend, and hover names each point's theme.
    _wait_more_colours_than(page, len(fields))
    assert page.evaluate(_LEGEND) == []
    assert _hover_first_line(page) not in fields
    page.locator(".updatemenu-button").filter(has_text="field").click()
    page.wait_for_function(f"() => {_POINTS}.map(p => p.style.fill).join() === {fills!r}.join()")
    assert page.evaluate(_LEGEND) == fields
    _shot(page, "journey-map-colours")
    page.close()


def test_map_colour_buttons_work_from_the_keyboard(browser, server):
    page = _open_map(browser, server)
    buttons = page.locator(".updatemenu-button[role='button'][tabindex='0']")
    buttons.first.wait_for(timeout=10000)
    labels = [buttons.nth(i).get_attribute("aria-label") for i in range(buttons.count())]
    assert labels == ["field", "theme", "evidence", "concept"]
    fields = page.evaluate(_LEGEND)
    focused = "() => document.activeElement.getAttribute('aria-label')"
    buttons.nth(1).focus()
    page.keyboard.press("Enter")
    _wait_more_colours_than(page, len(fields))
    assert page.evaluate(_LEGEND) == []
    assert page.evaluate(focused) == "theme"  # focus stays where it was
    page.keyboard.press("Tab")
    assert page.evaluate(focused) == "evidence"
    page.keyboard.press(" ")
    page.wait_for_function(f"() => {_LEGEND}().length > 0", timeout=10000)
    assert not set(page.evaluate(_LEGEND)) & set(fields)  # evidence types, not fields
    page.close()


def _lasso(page, left: float, top: float, size: float) -> None:
    """Draw a lasso (the map's drag mode) around a square of the plot, as fractions of it."""
    plot = page.locator(".cw-plotly .nsewdrag").first.bounding_box()
    x0, y0 = plot["x"] + plot["width"] * left, plot["y"] + plot["height"] * top
    side = plot["width"] * size
    page.mouse.move(x0, y0)
    page.mouse.down()
    for dx, dy in [(side, 0), (side, side), (0, side), (0, 0)]:
        page.mouse.move(x0 + dx, y0 + dy, steps=6)
    page.mouse.up()


def test_map_lasso_lists_the_selected_excerpts_until_the_map_changes(browser, server):
    page = _open_map(browser, server)
    page.locator(".updatemenu-button").filter(has_text="theme").click()
    themes = page.evaluate(f"new Set({_POINTS}.map(p => p.style.fill)).size")
    _lasso(page, 0.2, 0.2, 0.45)
    heading = page.get_by_text(re.compile(r"^\d+ selected excerpts$"))
    heading.wait_for(timeout=60000)
    _wait_idle(page)
    # The list is the points plotly marks selected, each with its citation, and can be exported.
    marked = page.evaluate("document.querySelector('.cw-plotly').data[0].selectedpoints.length")
    assert heading.inner_text() == f"{marked} selected excerpts" and marked > 0
    cards = page.locator(".cw-card")
    assert cards.count() == min(marked, 30)
    assert re.search(r" · [^\n]+, (\d{4}|n\.d\.)", cards.first.inner_text())
    assert page.get_by_role("button", name="Download the selection (CSV)").is_visible()
    # The rerun left the chart as drawn: still coloured by theme, the selection still shown.
    assert page.evaluate(f"new Set({_POINTS}.map(p => p.style.fill)).size") == themes
    assert page.evaluate("document.querySelector('.cw-plotly').data[0].selectedpoints.length")
    _shot(page, "journey-map-selection")
    # Another filter draws another map, on which nothing is selected: the list goes. The
    # colour chosen stays: by theme, so no legend, and a hover names a theme, not the field.
    page.get_by_text("Fields", exact=True).first.click()
    page.locator("[data-testid='stMultiSelect']").first.click()
    page.get_by_role("option", name="Criminal justice").click()
    page.keyboard.press("Escape")
    heading.wait_for(state="detached", timeout=60000)
    _wait_drawn(page)
    _wait_idle(page)
    assert page.get_by_text("The points as a table").is_visible()
    assert page.evaluate(_LEGEND) == []
    assert _hover_first_line(page) not in {"Criminal justice", ""}
    assert page.evaluate("document.querySelector('.cw-plotly').layout.updatemenus[0].active") == 1
    page.close()


def _go(page, name: str, ready: str) -> None:
    page.get_by_role("link", name=name).first.click()
    page.get_by_text(ready).first.wait_for(timeout=60000)
    _wait_idle(page)


def test_the_map_kept_while_away_comes_back_as_drawn_unless_a_selection_went(browser, server):
    page = _open_map(browser, server)
    page.evaluate("window.__cwMapBox = document.querySelector('.cw-plotly')")
    fields = page.evaluate(_LEGEND)
    _go(page, "Search", "Search the excerpts by meaning")
    # Away from the Map, its chart is kept out of the page, as drawn.
    assert page.evaluate("!window.__cwMapBox.isConnected && !!window.__cwMapBox._fullLayout")
    assert page.evaluate("window.__cwKept.map_chart === window.__cwMapBox")
    drawn_width = page.evaluate("window.__cwMapBox._fullLayout.width")
    page.set_viewport_size({"width": 1100, "height": 1000})  # the window narrows meanwhile
    _go(page, "Map", "Evidence type")
    _wait_drawn(page)
    # Back on the Map, the same chart, not drawn again, fitted to the narrower page, and it still
    # works: the buttons (by keyboard too) recolour it, and hover names the colour's value.
    assert page.evaluate("document.querySelector('.cw-plotly') === window.__cwMapBox")
    page.wait_for_function(
        "() => Math.abs(window.__cwMapBox._fullLayout.width - window.__cwMapBox.clientWidth) <= 1",
        timeout=10000,
    )
    assert page.evaluate("window.__cwMapBox._fullLayout.width") < drawn_width
    assert page.evaluate(_LEGEND) == fields
    page.locator(".updatemenu-button").filter(has_text="theme").focus()
    page.keyboard.press("Enter")
    _wait_more_colours_than(page, len(fields))
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "theme"
    assert _hover_first_line(page) not in set(fields) | {""}
    # A chart with a selection is not kept: the page's list of it goes with the page.
    _lasso(page, 0.2, 0.2, 0.45)
    page.get_by_text(re.compile(r"^\d+ selected excerpts$")).wait_for(timeout=60000)
    _wait_idle(page)
    _go(page, "Search", "Search the excerpts by meaning")
    assert page.evaluate("window.__cwMapBox._fullLayout === undefined")  # plotly let go of it
    assert page.evaluate("window.__cwKept.map_chart === undefined")
    _go(page, "Map", "Evidence type")
    _wait_drawn(page)
    assert page.evaluate("document.querySelector('.cw-plotly') !== window.__cwMapBox")
    assert not page.evaluate("document.querySelector('.cw-plotly').data[0].selectedpoints")
    assert page.get_by_text(re.compile(r"^\d+ selected excerpts$")).count() == 0
    page.close()


def test_search_for_hope_spans_three_fields_and_shows_analogues(browser, server):
    page = _open(browser, f"{server}/search", "Search the excerpts by meaning")
    box = page.get_by_label("Search the excerpts by meaning")
    box.fill("hope")
    box.press("Enter")
    caption = page.get_by_text(re.compile(r"\d+ results from \d+ fields"))
    caption.wait_for(timeout=60000)
    fields = int(re.search(r"from (\d+) fields", caption.inner_text()).group(1))
    assert fields >= 3
    page.locator(".cw-columns h4").nth(fields - 1).wait_for(timeout=30000)
    _wait_idle(page)
    results = int(re.match(r"(\d+) results", caption.inner_text()).group(1))
    page.get_by_text("Show analogues in the other fields").click()
    page.get_by_text("↳", exact=False).first.wait_for(timeout=60000)
    _wait_idle(page)
    # every result shows one analogue from each other field (the same number on every card)
    per_card = [card.locator(".cw-analogue").count() for card in page.locator(".cw-card").all()]
    assert len(per_card) == results and set(per_card) == {per_card[0]} and per_card[0] >= 3
    _shot(page, "journey-search")
    page.close()


def test_uploaded_csv_is_ingested_and_then_found_by_search(browser, server, tmp_path):
    upload = tmp_path / "mine.csv"
    upload.write_text(
        'id,text,field\nu1,"Quokka gardening groups gave the residents a reason to get up and a sense of belonging again.",homelessness\n',
        encoding="utf-8",
    )
    page = _open(browser, f"{server}/corpus", "Excerpts with their citations")
    page.get_by_text("Add files").first.click()
    page.locator("input[type='file']").set_input_files(str(upload))
    page.get_by_text("Validation report").wait_for(timeout=60000)
    _wait_idle(page)
    assert "1 new, 0 unchanged, 0 rejected" in page.inner_text("body")
    page.get_by_role("button", name="Ingest these files").click()
    page.get_by_text("Ingested: 1 new excerpts").wait_for(timeout=60000)
    _wait_idle(page)
    page.get_by_role("button", name="Rebuild the analysis").click()
    page.get_by_text(re.compile(r"embedded 1 new texts")).wait_for(timeout=300000)
    page.close()
    page = _open(browser, f"{server}/search", "Search the excerpts by meaning")
    box = page.get_by_label("Search the excerpts by meaning")
    box.fill("quokka gardening groups")
    box.press("Enter")
    page.get_by_text("Quokka gardening groups gave the residents").first.wait_for(timeout=60000)
    page.close()


def test_theme_rename_survives_reload_and_rebuild(browser, server, served_store):
    page = _open(browser, f"{server}/themes", "Representative excerpts per field")
    _wait_idle(page)
    name = page.get_by_label("Name")
    name.fill("Renamed in the browser")
    page.get_by_role("button", name="Save name and note").click()
    page.get_by_role("heading", name="Renamed in the browser").wait_for(timeout=60000)
    page.close()
    # A rebuild on a grown corpus (from the CLI while the app is running), then a fresh page.
    extra = served_store.parent / "grow.csv"
    extra.write_text(
        'id,text,field\ng1,"Mentors with convictions of their own helped new arrivals believe that change was possible.",criminal_justice\n',
        encoding="utf-8",
    )
    assert main(["ingest", "--db", str(served_store), str(extra)]) == 0
    assert main(["build", "--db", str(served_store), "--model", "all-MiniLM-L6-v2"]) == 0
    page = _open(browser, f"{server}/themes", "Representative excerpts per field")
    _wait_idle(page)
    assert "Renamed in the browser" in page.inner_text("body")
    page.close()


def test_hostile_excerpt_is_shown_as_text_and_runs_nothing(browser, server):
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(server + "/corpus")
    page.get_by_text("Excerpts with their citations").wait_for(timeout=60000)
    box = page.get_by_label("Contains")
    box.fill("attacker")
    box.press("Enter")
    page.get_by_text(HOSTILE, exact=False).first.wait_for(timeout=30000)
    assert page.locator("img[src='x']").count() == 0
    page.wait_for_timeout(500)
    assert dialogs == []
    page.close()


def test_workshop_trainer_builds_a_pack_and_downloads_printable_cards(browser, server, tmp_path):
    """From a focus to printable cards: the default focus (chime/hope), fields and 24 items."""
    from pypdf import PdfReader

    page = _open(browser, f"{server}/workshop", "Build the pack")
    _wait_idle(page)
    page.get_by_role("button", name="Build the pack").click()
    page.get_by_role("heading", name=re.compile("Pack: Hope")).wait_for(timeout=120000)
    _wait_idle(page)
    assert page.get_by_text(re.compile(r"^Card \d+ · front$")).count() == 24
    _shot(page, "journey-workshop")
    with page.expect_download(timeout=60000) as download:
        page.get_by_role("button", name="Printable cards (PDF, A4)").click()
    saved = tmp_path / "cards.pdf"
    download.value.save_as(saved)
    reader = PdfReader(saved)
    assert len(reader.pages) == 2 * 4  # 24 cards, six to a sheet, fronts and backs
    assert "card 24" in " ".join(p.extract_text() for p in reader.pages)
    page.close()
