"""App benchmark: a store of N excerpts (default 10,000, grown from the bundled corpus by
perturbation) built with the real model, served by Streamlit and driven by headless Chromium.

Reports first page rendered after server start, page switches and search answers (p50/p95), and
as the same-run baseline the first render of a one-line Streamlit page. Writes
benchmarks/results/app.md. Run: `python benchmarks/app_perf.py [--n 10000]`.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines import store  # noqa: E402
from pipelines.build import run_build  # noqa: E402
from pipelines.ingest import BUNDLED_SOURCES, ingest_paths  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
PAGES = ["Start here", "Compare", "Themes", "Map", "Concepts", "Search", "Corpus"]
QUERIES = ["hope for the future", "stigma of a criminal record", "housing first and choice", "abstinence versus harm reduction", "peer support groups"]


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(script: Path, db: Path) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    env = {**os.environ, "CROSSWALK_DB": str(db)}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return process, f"http://127.0.0.1:{port}", started


def wait_rendered(page, title: str, timeout: float = 120000) -> None:
    page.get_by_role("heading", name=title).first.wait_for(timeout=timeout)
    page.wait_for_timeout(50)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="detached", timeout=timeout)
    charts = page.locator("[data-testid='stPlotlyChart']")
    for i in range(charts.count()):
        charts.nth(i).locator(".main-svg").first.wait_for(timeout=timeout)


def first_render(browser, script: Path, db: Path, title: str) -> float:
    process, url, started = serve(script, db)
    try:
        page = browser.new_page()
        deadline = time.monotonic() + 120
        while True:
            try:
                page.goto(url, timeout=2000)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        wait_rendered(page, title)
        return time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=30)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "app.md"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="crosswalk-app-bench-"))
    db = folder / "store.sqlite"
    csv_path = folder / "excerpts.csv"
    grow_corpus(args.n, csv_path)
    conn = store.connect(db)
    t0 = time.perf_counter()
    ingest_paths(conn, [csv_path], sources_path=BUNDLED_SOURCES)
    built = run_build(conn, model="all-MiniLM-L6-v2")
    build_seconds = time.perf_counter() - t0
    conn.close()
    hello = folder / "hello.py"
    hello.write_text("import streamlit as st\nst.title('Hello')\n", encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS)
        baseline = [first_render(browser, hello, db, "Hello") for _ in range(2)]
        cold = [first_render(browser, ROOT / "app.py", db, "Start here") for _ in range(2)]
        process, url, _ = serve(ROOT / "app.py", db)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            time.sleep(3)
            page.goto(url)
            wait_rendered(page, "Start here")
            switches = []
            for _ in range(args.rounds):
                for title in PAGES[1:] + PAGES[:1]:
                    start = time.perf_counter()
                    page.get_by_role("link", name=title).first.click()
                    wait_rendered(page, title)
                    switches.append(time.perf_counter() - start)
            page.get_by_role("link", name="Search").first.click()
            wait_rendered(page, "Search")
            box = page.get_by_label("Search the excerpts by meaning")
            searches = []
            for query in QUERIES * args.rounds:
                start = time.perf_counter()
                box.fill(query)
                box.press("Enter")
                page.get_by_text(f"results from").first.wait_for(timeout=60000)
                page.locator("[data-testid='stStatusWidget']").wait_for(state="detached", timeout=60000)
                searches.append(time.perf_counter() - start)
        finally:
            process.terminate()
            process.wait(timeout=30)
        browser.close()
    text = f"""App benchmark: {args.n:,} excerpts (the bundled corpus grown by perturbation), real model, {os.cpu_count()} cores; browser: headless Chromium.
Build of the store (ingest, embed, analysis): {build_seconds:.0f} s ({built.summary.get('themes')} themes).

| measure | median | p95 | baseline (same run) | ratio | target |
| --- | --- | --- | --- | --- | --- |
| first page rendered after server start | {statistics.median(cold):.2f} s | {max(cold):.2f} s | one-line Streamlit page: {statistics.median(baseline):.2f} s | {statistics.median(cold) / statistics.median(baseline):.1f}× | ≤ 3 s |
| page switch (7 pages × {args.rounds}) | {statistics.median(switches) * 1000:.0f} ms | {pct(switches, 0.95) * 1000:.0f} ms | | | p95 < 500 ms |
| search answered in the browser ({len(searches)} queries) | {statistics.median(searches) * 1000:.0f} ms | {pct(searches, 0.95) * 1000:.0f} ms | | | < 300 ms |
"""
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
