"""The real app, on a store built with the real model, in Debian's headless Chromium (Playwright).

In CI (`CROSSWALK_REQUIRE_BROWSER=1`, set by `make test`) a missing browser is a failure, not a skip.
"""

from __future__ import annotations

import os
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
def server(real_store, tmp_path_factory):
    """Streamlit serving the real store (plus one hostile excerpt) on a free localhost port."""
    store_copy = tmp_path_factory.mktemp("served") / "store.sqlite"
    import sqlite3

    sqlite3.connect(real_store).execute(f"VACUUM INTO '{store_copy}'")
    hostile = tmp_path_factory.mktemp("hostile") / "hostile.csv"
    hostile.write_text(
        f'id,text,field\nx1,"{HOSTILE} is how an attacker might try to run a script in the excerpt list",homelessness\n',
        encoding="utf-8",
    )
    assert main(["ingest", "--db", str(store_copy), str(hostile)]) == 0
    port = _free_port()
    env = {**os.environ, "CROSSWALK_DB": str(store_copy), "CROSSWALK_MODEL": "all-MiniLM-L6-v2"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
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


def test_corpus_page_shows_excerpts_with_citations(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(server + "/")
    page.get_by_text("Excerpts with their citations").wait_for(timeout=60000)
    body = page.inner_text("body")
    assert "excerpts from" in body and "sources in 4 fields" in body
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "corpus.png"), full_page=True)
    page.close()


def test_hostile_excerpt_is_shown_as_text_and_runs_nothing(browser, server):
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(server + "/")
    page.get_by_text("Excerpts with their citations").wait_for(timeout=60000)
    box = page.get_by_label("Contains")
    try:
        box.fill("attacker", timeout=15000)
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "debug.png"), full_page=True)
        raise
    box.press("Enter")
    page.get_by_text(HOSTILE, exact=False).first.wait_for(timeout=30000)
    assert page.locator("img[src='x']").count() == 0
    page.wait_for_timeout(500)
    assert dialogs == []
    page.close()
