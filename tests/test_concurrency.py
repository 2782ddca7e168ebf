"""Concurrent use (#8): the app reading while the CLI ingests and builds, two ingests at once, and
several app sessions writing at once. No "database is locked" (or any other error) may reach a
user, and the app sees a new run without a restart."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pipelines import store
from pipelines.cli import main
from tests.reliability import ROOT, integrity, record, subprocess_env
from tests.test_kills import _write_file


def _start(db: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines", args[0], "--db", str(db), *args[1:]],
        env=subprocess_env(db),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=900)
    assert process.returncode == 0, err
    assert "locked" not in err and "busy" not in err
    return out


@pytest.mark.slow
def test_two_ingests_at_once_into_a_new_store(tmp_path):
    rng = random.Random(3)
    db = tmp_path / "store.sqlite"
    paths = []
    for name in ("left", "right"):
        paths.append(tmp_path / f"{name}.csv")
        _write_file(paths[-1], name, 3000, rng)
    # Both start on a store that does not exist yet, so they also race to create the schema.
    processes = [_start(db, "ingest", str(p)) for p in paths]
    for process in processes:
        _finish(process)
    conn = store.connect(db)
    for name in ("left", "right"):
        stored = conn.execute(
            "SELECT COUNT(*) FROM excerpts WHERE external_id LIKE ?", (name + "-%",)
        ).fetchone()[0]
        assert stored == 3000, name
    assert integrity(db) == "ok"


@pytest.mark.slow
def test_app_reads_while_the_cli_ingests_and_builds_and_sees_the_new_run(tmp_path, monkeypatch):
    """The app's own data layer (crosswalk_ui.data) reads in a loop while `ingest` and `build`
    run in other processes; then, in the same process, it shows the new excerpts and run."""
    from crosswalk_ui import data

    rng = random.Random(5)
    db = tmp_path / "store.sqlite"
    monkeypatch.setenv("CROSSWALK_DB", str(db))
    monkeypatch.setenv("CROSSWALK_MODEL", "hash-256")
    start = tmp_path / "start.csv"
    _write_file(start, "start", 90, rng)
    assert main(["ingest", "--db", str(db), str(start)]) == 0
    assert main(["build", "--db", str(db)]) == 0
    first_run = data.run_id()
    first_excerpts = len(data.excerpts())
    more = tmp_path / "more.csv"
    _write_file(more, "more", 300, rng)

    errors: list[BaseException] = []
    reads = 0
    stop = threading.Event()

    def read_like_the_app() -> None:
        nonlocal reads
        try:
            while not stop.is_set():
                data.store_version()
                frame = data.excerpts()
                run = data.run_id()
                if run is not None:
                    data.result("summary")
                    data.themes()
                assert len(frame) >= first_excerpts
                reads += 1
        except BaseException as exc:  # noqa: BLE001 - any error would reach a user
            errors.append(exc)

    readers = [threading.Thread(target=read_like_the_app) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        _finish(_start(db, "ingest", str(more)))
        _finish(_start(db, "build"))
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    assert not errors, errors
    assert reads > 0
    assert data.run_id() > first_run
    assert len(data.excerpts()) == first_excerpts + 300
    record("concurrency app reads during ingest and build", reads=reads, errors=len(errors))


def test_app_sessions_writing_at_once_do_not_collide(tmp_path, monkeypatch):
    """Several app sessions (threads) rename themes at the same time through the app's connection."""
    from crosswalk_ui import data

    db = tmp_path / "store.sqlite"
    monkeypatch.setenv("CROSSWALK_DB", str(db))
    store.connect(db).close()
    errors: list[BaseException] = []

    def session(n: int) -> None:
        try:
            for i in range(40):
                store.set_annotation(data.conn(), "theme:t", f"s{n}-{i}", "a name")
        except BaseException as exc:  # noqa: BLE001 - any error would reach a user
            errors.append(exc)

    threads = [threading.Thread(target=session, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]
    assert len(store.annotations(store.connect(db), "theme:")) == 160
