"""App benchmark: a store of N excerpts (default 10,000, grown from the bundled corpus by
perturbation) built with the real model, served by Streamlit and driven by headless Chromium.

Reports first page rendered after server start, page switches, widget interactions and search
answers (p50/p95). The same-run baselines are Streamlit's own floor on this machine: the first
render of a one-line page, and the same switches, interactions and searches on a minimal app (a
one-line page; a page whose selectbox redraws one small plotly chart; a text box answered with 15
lines). Writes benchmarks/results/app.md. Run: `python benchmarks/app_perf.py [--n 10000] [--store PATH]`.

Building the 10,000-excerpt store takes minutes; `--store PATH` keeps it at PATH (outside git) and
reuses it on the next run when it already holds a complete run, so repeated measurements measure
the app, not the build. `--build-only` stops after building the store.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import weakref
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import app_variants  # noqa: E402
from benchmarks.app_variants import VARIANTS  # noqa: E402
from crosswalk_ui.warm_up import WARM_UP_DELAY  # noqa: E402
from pipelines import store  # noqa: E402
from pipelines.analysis.build import run_build  # noqa: E402
from pipelines.ingest.files import BUNDLED_SOURCES, ingest_paths  # noqa: E402
from tests.test_browser import FLAGS  # noqa: E402  (the browser tests' Chromium flags)

PAGES = ["Start here", "Compare", "Themes", "Map", "Concepts", "Search", "Workshop", "Corpus"]
QUERIES = [
    "hope for the future",
    "stigma of a criminal record",
    "housing first and choice",
    "abstinence versus harm reduction",
    "peer support groups",
]


def grow_corpus(n: int, out: Path, seed: int = 7) -> None:
    """Write n excerpts: the bundled ones, then variants with shuffled sentences and dropped words."""
    rng = random.Random(seed)
    with (ROOT / "corpus" / "excerpts.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    grown = list(rows)
    while len(grown) < n:
        row = dict(rng.choice(rows))
        words = row["text"].split()
        keep = [w for w in words if rng.random() > 0.12] or words
        rng.shuffle(keep[: len(keep) // 2])
        row["text"] = " ".join(keep) + f" (variant {len(grown)})"
        row["id"] = f"{row['id']}-v{len(grown)}"
        grown.append(row)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(grown[:n])


def build_store(db: Path, n: int, folder: Path) -> str:
    """Build the benchmark store at `db` unless it already holds a complete run of `n` excerpts;
    returns the line the results report about the build."""
    if db.exists():
        conn = store.connect(db)
        run = store.latest_run(conn)
        count = conn.execute("SELECT COUNT(*) FROM excerpts").fetchone()[0]
        conn.close()
        if run is not None:
            return f"Store reused from an earlier benchmark run ({count:,} excerpts, run {run['id']}); its build is not timed here."
        raise SystemExit(
            f"{db} exists but holds no complete run; remove it or pass another --store"
        )
    db.parent.mkdir(parents=True, exist_ok=True)
    csv_path = folder / "excerpts.csv"
    grow_corpus(n, csv_path)
    conn = store.connect(db)
    t0 = time.perf_counter()
    ingest_paths(conn, [csv_path], sources_path=BUNDLED_SOURCES)
    built = run_build(conn, model="all-MiniLM-L6-v2")
    seconds = time.perf_counter() - t0
    conn.close()
    return f"Build of the store (ingest, embed, analysis): {seconds:.0f} s ({built.summary.get('themes')} themes)."


# Streamlit's floor for each kind of action: the least a page switch, an interaction redrawing a
# plotly chart, and a search answer can cost in this browser on this machine.
FLOOR_APP = """
import numpy as np
import plotly.graph_objects as go
import streamlit as st

st.set_page_config(layout="wide")


def start():
    st.title("Start here")


def chart():
    st.title("Chart")
    choice = st.selectbox("Framework", ["a", "b", "c", "d"], key="floor_choice")
    grid = np.random.default_rng(ord(choice)).random((12, 4))
    st.plotly_chart(go.Figure(go.Heatmap(z=grid, x=list("wxyz"))), key="floor_chart")


def search():
    st.title("Search")
    query = st.text_input("Search the excerpts by meaning")
    for i in range(15 if query else 0):
        st.text(f"{query} {i}")


st.navigation([
    st.Page(start, title="Start here", default=True),
    st.Page(chart, title="Chart", url_path="chart"),
    st.Page(search, title="Search", url_path="search"),
]).run()
"""
FLOOR_PAGES = ["Start here", "Chart", "Search"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(script: Path, db: Path) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    env = {**os.environ, "CROSSWALK_DB": str(db)}
    # An app with the launcher that `make run` uses is served through it; others (an older
    # checkout, the minimal apps) by `streamlit run`.
    launcher = (script.parent / "crosswalk_ui" / "serve.py").exists()
    command = ["crosswalk_ui.serve"] if launcher else ["streamlit", "run", str(script)]
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            *command,
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=script.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, f"http://127.0.0.1:{port}", started


def wait_healthy(url: str, timeout: float = 120) -> float:
    """Poll /_stcore/health until the server answers; returns the time it first did."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def wait_quiet(process: subprocess.Popen, timeout: float = 180) -> None:
    """Wait until the server has used under 5% of a core for a few seconds in a row: the app loads
    its model and index in the background after the first page, as a reader would spend a few
    seconds on that page, and switches measured meanwhile would measure the loading. The loading
    starts `WARM_UP_DELAY` seconds after the first page, so a quiet stretch shorter than that
    proves nothing (one second did: the first switch then waited for the model)."""
    ticks = os.sysconf("SC_CLK_TCK")
    needed = WARM_UP_DELAY + 2

    def cpu() -> float:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        before = cpu()
        time.sleep(1.0)
        if cpu() - before >= 0.05:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= needed:
            return


# An action is answered when the server has finished the script run it caused (seen on the
# websocket: runs too quick for the browser ever to show "running" are seen too), the page shows
# no run in progress and no stale element, and every chart is drawn. A chart still loading shows
# a skeleton in its place, not yet an stPlotlyChart; the app's own plotly element
# (`crosswalk_ui.plotly_element`) is marked busy until plotly has drawn its latest figure.
_DRAWN = """
  for (const chart of document.querySelectorAll("[data-testid='stPlotlyChart'], .cw-plotly")) {
    if (chart.dataset.busy || !chart.querySelector('.main-svg')) return false;
  }
  for (const skeleton of document.querySelectorAll("[data-testid^='stSkeleton'], [data-testid='stAppSkeleton']")) {
    if (skeleton.getClientRects().length > 0) return false;
  }
  return true;
}"""
FIRST_SETTLED = (
    """() => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;"""
    + _DRAWN
)
SETTLED = FIRST_SETTLED.replace(
    "return false;",
    "return false;\n  if (document.querySelector(\"[data-stale='true']\")) return false;",
    1,
)
PAINTED = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
# The browser's own clock: the page notes when each press of a mouse button or key reached it, and
# after the answer is drawn it reports the time of the next frame. The difference is what a person
# sees, without the driver's time for finding the element, checking it is ready and clicking it
# (which a person spends moving the mouse). The driver's time is still reported beside it.
INPUT_CLOCK = """
  window.__cwInput = 0;
  for (const type of ["mousedown", "keydown"]) {
    addEventListener(type, event => { if (event.isTrusted) window.__cwInput = event.timeStamp; }, true);
  }
"""
ANSWERED = (
    """async () => {
  const settled = () => {"""
    + SETTLED.split("() => {", 1)[1]
    + """;
  const frame = () => new Promise(done => requestAnimationFrame(done));
  // Settled twice, two frames apart: the plotly element starts drawing a new figure in an
  // effect that can run just after a frame in which the page already looked settled.
  do {
    while (!settled()) await frame();
    await frame();
    await frame();
  } while (!settled());
  return [window.__cwInput, performance.now()];
}"""
)
# The same for an answer drawn in the browser alone (the Map's colour buttons restyle its chart,
# with no rerun): armed before the action, it notes the frame after the chart's restyle.
RESTYLE_ARMED = """() => {
  window.__cwRestyled = 0;
  const chart = document.querySelector(".cw-plotly.js-plotly-plot, [data-testid='stPlotlyChart'] .js-plotly-plot");
  const frame = done => requestAnimationFrame(done);
  chart.once('plotly_restyle', () => frame(() => frame(() => { window.__cwRestyled = performance.now(); })));
}"""
_RUNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def watch_runs(page) -> None:
    """Count the script runs the server finishes for `page` (call before it loads)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    done = {
        ForwardMsg.FINISHED_SUCCESSFULLY,
        ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
    }
    _RUNS[page] = 0
    page.add_init_script(INPUT_CLOCK)

    def frame(payload) -> None:
        if isinstance(payload, bytes):
            message = ForwardMsg.FromString(payload)
            if message.WhichOneof("type") == "script_finished" and message.script_finished in done:
                _RUNS[page] += 1

    page.on("websocket", lambda socket: socket.on("framereceived", frame))


class Timing(float):
    """Seconds from the press of the mouse button or key to the answer drawn, on the browser's
    clock; `driver` is the same from the driver's side (from the start of the action, so it also
    holds the time to find the element, wait until it can be clicked and click it)."""

    driver: float

    def __new__(cls, seconds: float, driver: float) -> Timing:
        timing = super().__new__(cls, seconds)
        timing.driver = driver
        return timing


def timed(page, action, what: str = "", timeout: float = 120000) -> Timing:
    """The time from the action to the app having rerun and drawn its answer."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    seen = _RUNS[page]
    start = time.perf_counter()
    action()
    # Waiting in the driver, not evaluating in the page: the page's main thread is the app's,
    # and polling it from here would slow down what is being measured. Any Playwright call lets
    # it deliver the websocket frames to `watch_runs`.
    while _RUNS[page] == seen:
        if time.perf_counter() - start > timeout / 1000:
            raise PlaywrightTimeout(f"no finished run seen within {timeout / 1000:.0f} s")
        page.wait_for_timeout(5)
    timing = _timing(page.evaluate(ANSWERED), start, what)
    if what:
        print(
            f"  {what}: {timing * 1000:.0f} ms (driver {timing.driver * 1000:.0f} ms)", flush=True
        )
    return timing


def timed_restyle(page, action, what: str = "") -> Timing:
    """The time from the action to the first plotly chart on the page having been restyled in the
    browser and drawn; the action must start no rerun."""
    page.evaluate(RESTYLE_ARMED)
    seen = _RUNS[page]
    start = time.perf_counter()
    action()
    page.wait_for_function("() => window.__cwRestyled > 0", timeout=60000)
    if _RUNS[page] != seen:
        raise RuntimeError(f"{what or 'the action'} started a rerun")
    return _timing(page.evaluate("() => [window.__cwInput, window.__cwRestyled]"), start, what)


def _timing(clock: list[float], start: float, what: str) -> Timing:
    """The browser's [press, drawn] times as a `Timing`, the driver's from `start`; an error
    when no press was seen, or one that cannot be this action's."""
    pressed, drawn = clock
    timing = Timing((drawn - pressed) / 1000, time.perf_counter() - start)
    if not pressed or timing <= 0 or timing > timing.driver:
        raise RuntimeError(f"no press of a mouse button or key was seen for {what or 'an action'}")
    return timing


def first_render(browser, script: Path, db: Path, title: str) -> tuple[float, float]:
    """Seconds from spawning the server, and from its first answer to /_stcore/health, to the
    first page rendered in the browser."""
    process, url, spawned = serve(script, db)
    try:
        healthy = wait_healthy(url)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_role("heading", name=title).first.wait_for(timeout=120000)
        page.wait_for_function(FIRST_SETTLED, timeout=120000, polling="raf")
        page.evaluate(PAINTED)
        done = time.perf_counter()
        page.close()
        return done - spawned, done - healthy
    finally:
        process.terminate()
        process.wait(timeout=30)


def selectbox(page, label: str):
    """The selectbox whose label is exactly `label` (a substring match would also find a box
    whose current value contains the words)."""
    label_element = page.locator("[data-testid='stWidgetLabel']").get_by_text(label, exact=True)
    return page.locator("[data-testid='stSelectbox']").filter(has=label_element).first


def choose(page, label: str, option: str, *, typed: bool = False):
    """An action: pick `option` in the selectbox labelled `label`. With `typed`, the start of the
    option's name (12 characters) is typed first: a list that opens low on the page draws only the
    options that fit, so a later one would never appear (the Compare page's framework, below the
    columns of excerpts). Only the start, so a long name does not time the typing."""

    def act() -> None:
        selectbox(page, label).click()
        if typed:
            page.keyboard.type(option[:12])
        page.get_by_role("option", name=option, exact=True).first.click()

    return act


def choose_in(page, multiselect, option: str) -> None:
    """An action: add `option` to `multiselect` (the list closes again afterwards)."""
    multiselect.click()
    page.get_by_role("option", name=option, exact=True).first.click()


def remove_from(page, option: str) -> None:
    """An action: remove `option` from the multiselect holding it (its tag's close button)."""
    page.get_by_role("button", name=f"Remove {option}").first.click()


def options_of(page, label: str) -> list[str]:
    """The options of the selectbox labelled `label`. A rerun that lands just after the click can
    close the list again, so the click is retried."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(5):
        page.wait_for_function(FIRST_SETTLED, timeout=120000, polling="raf")
        selectbox(page, label).click()
        try:
            page.get_by_role("option").first.wait_for(timeout=10000)
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            continue
        names = page.get_by_role("option").all_inner_texts()
        page.keyboard.press("Escape")
        return names
    raise RuntimeError(f"the options of {label!r} did not appear")


class Log(list):
    """(name, seconds) pairs, printed as they come; `missed` counts actions after which no rerun
    was seen within a minute (a click that landed as the list closed, say): they are reported,
    not timed."""

    missed = 0

    def append(self, item) -> None:
        print(f"  {item[0]}: {item[1] * 1000:.0f} ms", flush=True)
        super().append(item)

    def record(self, page, name: str, action, *, rerun: bool = True) -> None:
        """Time `action`: to the rerun it starts, drawn; without `rerun`, to the chart it
        restyles in the browser, drawn."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            self.append(
                (name, timed(page, action, timeout=60000) if rerun else timed_restyle(page, action))
            )
        except PlaywrightTimeout:
            self.missed += 1
            print(f"  {name}: no rerun seen within 60 s; not timed", flush=True)
            page.keyboard.press("Escape")


def interaction_steps(page, out: Log) -> list:
    """Widget interactions on each page (selectboxes, a radio, a multiselect, a text filter; the
    Map's colour buttons), timed into `out`: one step per page, so that two apps can take turns
    page by page."""

    def go(title: str) -> None:
        timed(page, lambda: page.get_by_role("link", name=title).first.click())

    def start() -> None:
        go("Start here")
        families = options_of(page, "Example definitions from each field for the family")
        for option in families[1:3] + families[:1]:
            out.record(
                page,
                "Start: definition family",
                choose(page, "Example definitions from each field for the family", option),
            )

    def compare() -> None:
        go("Compare")
        out.record(
            page, "Compare: on a theme", lambda: page.get_by_text("a theme", exact=True).click()
        )
        out.record(
            page, "Compare: on a concept", lambda: page.get_by_text("a concept", exact=True).click()
        )
        for framework in ["Recovery capital", "CHIME personal recovery processes"]:
            out.record(
                page,
                "Compare: coverage framework (typed)",
                choose(page, "Framework", framework, typed=True),
            )

    def themes() -> None:
        go("Themes")
        options = options_of(page, "Theme")
        for option in options[1:3] + options[:1]:
            out.record(page, "Themes: theme", choose(page, "Theme", option))

    def map_() -> None:
        go("Map")
        buttons = page.locator(".updatemenu-button")
        for option in ["theme", "evidence", "field"]:
            if buttons.count():  # recoloured in the browser
                button = buttons.filter(has_text=option).first
                out.record(page, "Map: colour by", button.click, rerun=False)
            else:  # an app from before #5's colour buttons: a selectbox, and a rerun
                old = "field name" if option == "field" else option
                out.record(page, "Map: colour by", choose(page, "Colour by", old))
        fields = page.locator("[data-testid='stMultiSelect']").first
        for field in ["Mental health", "Criminal justice"]:
            out.record(page, "Map: fields filter", lambda f=field: choose_in(page, fields, f))
            page.keyboard.press("Escape")
        for field in ["Mental health", "Criminal justice"]:
            out.record(page, "Map: fields filter", lambda f=field: remove_from(page, f))

    def concepts() -> None:
        go("Concepts")
        tools = options_of(page, "Outcome tool")
        for option in tools[1:] + tools[:1]:
            out.record(page, "Concepts: outcome tool", choose(page, "Outcome tool", option))

    def corpus() -> None:
        go("Corpus")
        box = page.get_by_label("Contains")
        for text in ["hope", ""]:
            out.record(
                page, "Corpus: contains filter", lambda t=text: (box.fill(t), box.press("Enter"))
            )

    return [start, compare, themes, map_, concepts, corpus]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def ms(values: list[float], q: float) -> str:
    return f"{pct(values, q) * 1000:.0f} ms"


def measure(
    browser, apps: dict[str, Path], db: Path, rounds: int, *, floor: bool = False
) -> dict[str, dict]:
    """Page switches, widget interactions and searches on each served app (the apps, or with
    `floor` the minimal one). With two apps (this and `--before`) both are served at once and the
    measurements alternate between them (switches round by round, widgets page by page, searches
    one by one), so a drift in the machine's speed falls on both alike."""
    served, pages = {}, {}
    try:
        for name, app in apps.items():
            process, url, _ = serve(app, db)
            served[name] = process
            wait_healthy(url)
            page = pages[name] = browser.new_page(viewport={"width": 1400, "height": 1000})
            watch_runs(page)
            page.set_default_timeout(120000)
            page.goto(url)
            page.get_by_role("heading", name="Start here").first.wait_for(timeout=300000)
            page.wait_for_function(FIRST_SETTLED, timeout=300000, polling="raf")
        for process in served.values():
            wait_quiet(process)
        titles = FLOOR_PAGES if floor else PAGES
        found = {name: {"switches": {title: [] for title in titles}} for name in apps}
        for _ in range(rounds * (len(PAGES) // len(FLOOR_PAGES)) if floor else rounds):
            for name, page in pages.items():
                print(f"  ({name})", flush=True)
                for title in titles[1:] + titles[:1]:
                    found[name]["switches"][title].append(
                        timed(
                            page,
                            lambda p=page, t=title: p.get_by_role("link", name=t).first.click(),
                            title,
                        )
                    )
        if floor:
            for name, page in pages.items():
                found[name]["widgets"] = floor_interactions(page, rounds)
        else:
            # Page by page, each app in turn, like the switches.
            steps = {}
            for name, page in pages.items():
                found[name]["widgets"] = Log()
                steps[name] = interaction_steps(page, found[name]["widgets"])
            for turn in zip(*steps.values(), strict=True):
                for name, step in zip(steps, turn, strict=True):
                    print(f"  ({name})", flush=True)
                    step()
        for name, page in pages.items():
            timed(page, lambda p=page: p.get_by_role("link", name="Search").first.click())
            found[name]["searches"] = []
        for query in QUERIES * rounds:
            for name, page in pages.items():
                box = page.get_by_label("Search the excerpts by meaning")
                found[name]["searches"].append(
                    timed(
                        page,
                        lambda b=box, q=query: (b.fill(q), b.press("Enter")),
                        f"{query} ({name})",
                    )
                )
        for page in pages.values():
            page.close()
    finally:
        for process in served.values():
            process.terminate()
            process.wait(timeout=120)
    return found


def floor_interactions(page, rounds: int) -> list[tuple[str, float]]:
    """The minimal app's selectbox, each choice redrawing its plotly chart, as often as the
    app's interactions."""
    out = Log()
    timed(page, lambda: page.get_by_role("link", name="Chart").first.click())
    for option in ["b", "c", "d", "a"] * (2 * rounds):
        out.record(page, "Chart: selectbox", choose(page, "Framework", option))
    return out


def summary(cold: list, found: dict) -> dict[str, str]:
    med = statistics.median
    switches = [t for times in found["switches"].values() for t in times]
    landing = next(iter(found["switches"]))
    firsts = [times[0] for page, times in found["switches"].items() if page != landing]
    laters = [t for page, times in found["switches"].items() for t in times[page != landing :]]
    widgets = [t for _, t in found["widgets"]]
    by_widget: dict[str, list[float]] = {}
    for name, t in found["widgets"]:
        by_widget.setdefault(name, []).append(t)
    return {
        "spawn": f"{med([c[0] for c in cold]):.2f} s / {max(c[0] for c in cold):.2f} s",
        "health": f"{med([c[1] for c in cold]):.2f} s / {max(c[1] for c in cold):.2f} s",
        "switch": f"{ms(switches, 0.5)} / {ms(switches, 0.95)}",
        # A page's first visit in a session fills its caches and the browser's; the rounds after
        # are what a reader going back and forth sees. (The first page was loaded at the start,
        # so every switch to it is a return.)
        "switch_first": f"{ms(firsts, 0.5)} / {ms(firsts, 0.95)}",
        "switch_later": f"{ms(laters, 0.5)} / {ms(laters, 0.95)}",
        "widget": f"{ms(widgets, 0.5)} / {ms(widgets, 0.95)}",
        "search": f"{ms(found['searches'], 0.5)} / {ms(found['searches'], 0.95)}",
        "driver": ", ".join(
            f"{what} {ms(d, 0.5)} / {ms(d, 0.95)}"
            for what, times in (
                ("switch", switches),
                ("interaction", widgets),
                ("search", found["searches"]),
            )
            for d in [[t.driver for t in times]]
        ),
        "per_switch": "; ".join(
            f"{t} {med(v) * 1000:.0f} / {max(v) * 1000:.0f} ms"
            for t, v in found["switches"].items()
        ),
        "per_widget": "; ".join(
            f"{n} {med(v) * 1000:.0f} / {max(v) * 1000:.0f} ms" for n, v in by_widget.items()
        ),
        "counts": f"{len(switches)} switches, {len(widgets)} interactions, {len(found['searches'])} searches"
        + (
            f"; {found['widgets'].missed} interactions saw no rerun within 60 s and are not timed"
            if found["widgets"].missed
            else ""
        ),
    }


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--starts", type=int, default=3, help="cold starts of each server")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "app.md"))
    parser.add_argument(
        "--store",
        help="keep the built store here; reuse it when it already holds a complete run",
    )
    parser.add_argument(
        "--build-only", action="store_true", help="build (or check) the store, then stop"
    )
    parser.add_argument(
        "--before",
        help="another checkout's app.py (e.g. the main branch) measured in the same run, for a before/after",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        choices=sorted(VARIANTS),
        help="also measure, in the same run, a copy of this app with one piece taken out or put "
        "back (repeatable; benchmarks/app_variants.py)",
    )
    parser.add_argument(
        "--committed",
        action="store_true",
        help="measure this checkout's last commit, not its files as they are",
    )
    return parser.parse_args()


def main() -> int:
    args = _arguments()
    folder = Path(tempfile.mkdtemp(prefix="crosswalk-app-bench-"))
    db = Path(args.store) if args.store else folder / "store.sqlite"
    build_note = build_store(db, args.n, folder)
    print(build_note, flush=True)
    if args.build_only:
        shutil.rmtree(folder, ignore_errors=True)
        return 0
    from playwright.sync_api import sync_playwright

    hello = folder / "hello.py"
    hello.write_text("import streamlit as st\nst.title('Hello')\n", encoding="utf-8")
    # Served from copies made now, so that editing the tree during a run changes nothing measured.
    copies, committed = folder / "apps", args.committed
    apps = {"this": app_variants.snapshot(ROOT, copies, committed=committed)}
    apps |= {"before": Path(args.before)} if args.before else {}
    apps |= {v: app_variants.variant(ROOT, copies, v, committed=committed) for v in args.variant}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS)
        baseline: list = []
        cold: dict[str, list] = {name: [] for name in apps}
        for start in range(args.starts):  # alternated, so all see the same load
            baseline.append(first_render(browser, hello, db, "Hello"))
            # Each start in the other order: the app started right after the one-line page
            # was otherwise always the same one.
            for name, app in list(apps.items())[:: -1 if start % 2 else 1]:
                cold[name].append(first_render(browser, app, db, "Start here"))
                print(f"first page, {name}: {cold[name][-1]}; hello: {baseline[-1]}", flush=True)
        print(f"measuring {', '.join(apps)}", flush=True)
        found = measure(browser, apps, db, args.rounds)
        print("measuring the minimal app (Streamlit's floor)", flush=True)
        floor_app = folder / "floor.py"
        floor_app.write_text(FLOOR_APP, encoding="utf-8")
        floor_found = measure(browser, {"floor": floor_app}, db, args.rounds, floor=True)["floor"]
        floor = summary(cold["this"], floor_found)
        browser.close()
    results = {name: summary(cold[name], found[name]) for name in apps}
    text = report(args, build_note, results, floor, baseline)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    shutil.rmtree(folder, ignore_errors=True)
    return 0


def _cpu() -> str:
    """The processor's model name and the vector instruction flags that matter for the model."""
    info = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in info.splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    flags = next(
        (line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")),
        [],
    )
    wanted = (
        "sse4_2",
        "avx",
        "avx2",
        "fma",
        "f16c",
        "avx512f",
        "avx512_vnni",
        "avx_vnni",
        "amx_tile",
        "sha_ni",
        "vaes",
    )
    return f"{model}; flags: {' '.join(f for f in wanted if f in flags)} (no {', '.join(f for f in wanted if f not in flags) or 'none missing'})"


def report(args, build_note: str, results: dict, floor: dict, baseline: list) -> str:
    """The results as Markdown: a column for this app, one for each other app of the run."""
    med = statistics.median
    hello_spawn = f"{med([b[0] for b in baseline]):.2f} s / {max(b[0] for b in baseline):.2f} s"
    hello_health = f"{med([b[1] for b in baseline]):.2f} s / {max(b[1] for b in baseline):.2f} s"
    this = results["this"]
    others = {name: r for name, r in results.items() if name != "this"}
    heads = "".join(f" {name} (same run) |" for name in others)

    def row(what: str, key: str, floor_text: str, target: str) -> str:
        cells = "".join(f" {r[key]} |" for r in others.values())
        return f"| {what} | {this[key]} |{cells} {floor_text} | {target} |"

    rows = [
        row(
            "first page rendered, from spawning the server process",
            "spawn",
            f"{hello_spawn} (a one-line page)",
            "≤ 3 s",
        ),
        row(
            "first page rendered, from the server's first answer to /_stcore/health",
            "health",
            f"{hello_health} (a one-line page)",
            "≤ 3 s",
        ),
        row(
            f"page switch ({len(PAGES)} pages × {args.rounds})",
            "switch",
            f"{floor['switch']} (between a one-line page, a one-chart page and a text box)",
            "p95 < 500 ms",
        ),
        row(
            "page switch, a page's first visit in the session",
            "switch_first",
            floor["switch_first"],
            "(in the above)",
        ),
        row(
            "page switch, every later visit",
            "switch_later",
            floor["switch_later"],
            "(in the above)",
        ),
        row(
            "widget interaction (selectboxes, a radio, a multiselect, a text filter and the Map's colour buttons on 6 pages)",
            "widget",
            f"{floor['widget']} (a selectbox redrawing one small plotly heatmap)",
            "p95 < 500 ms",
        ),
        row(
            f"search answered in the browser ({len(QUERIES) * args.rounds} queries)",
            "search",
            f"{floor['search']} (a text box answered with 15 lines, no search)",
            "< 300 ms",
        ),
    ]
    variants = "".join(
        f"- *{name}*: this app {name.split()[0]} {app_variants.VARIANTS[name].what}.\n"
        for name in args.variant
    )
    before = f"- *before*: {args.before}.\n" if args.before else ""
    details = "".join(
        f"Per page switch, {name} (median / max): {r['per_switch']}.\n"
        f"Per widget, {name} (median / max): {r['per_widget']}.\n"
        f"Driver's clock, {name}: {r['driver']}.\n"
        for name, r in results.items()
    )
    return f"""App benchmark: {args.n:,} excerpts (the bundled corpus grown by perturbation), real model, {os.cpu_count()} cores ({_cpu()}); browser: headless Chromium.
{build_note}
Load average when the run ended: {os.getloadavg()[0]:.1f} (other work shares the machine; compare columns of the same run).
Apps served in the same run, their measurements alternated:
- *this app*: this checkout{"'s last commit" if args.committed else ""} as it was when the run started.
{before}{variants}
| measure (median / p95; first page: median / max of {args.starts} cold starts) | this app |{heads} Streamlit's floor (same run) | target |
| --- | --- |{" --- |" * len(others)} --- | --- |
{chr(10).join(rows)}

Each time runs, on the browser's clock, from the press of the mouse button (or of Enter) to the app's
rerun having finished and its charts drawn ({this["counts"]}; the minimal app: {floor["counts"]}).
The driver's clock runs from the start of each action (so with the time Playwright takes to find
the element, check that it can be clicked and click it; median / p95).
{details}Per page switch, the minimal app: {floor["per_switch"]}.
"""


if __name__ == "__main__":
    sys.exit(main())
