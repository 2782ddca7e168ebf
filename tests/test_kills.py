"""SIGKILL `ingest` and `build` at random moments, then check the store (#8).

After every kill: `PRAGMA integrity_check` passes; every file of the killed command is in the store
entirely or not at all; the previous analysis run is intact and still the current one (or a newer
complete run has replaced it); and running the same command again completes. CI runs a few kills;
`make reliability` runs at least 50.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.cli import main
from tests.reliability import ROOT, count, integrity, record, subprocess_env

WORDS = [
    "hope",
    "identity",
    "recovery",
    "housing",
    "work",
    "family",
    "peer",
    "support",
    "stigma",
    "meaning",
    "control",
    "abstinence",
    "harm",
    "reduction",
    "desistance",
    "probation",
    "community",
    "belonging",
    "trauma",
    "relapse",
    "choice",
    "agency",
    "trust",
    "service",
    "clinician",
    "label",
    "offender",
    "patient",
    "treatment",
    "capital",
    "friendship",
    "purpose",
    "routine",
]
FIELDS = ("mental_health", "substance_use", "criminal_justice")


def _write_file(path: Path, prefix: str, rows: int, rng: random.Random) -> None:
    """A CSV whose ids all start with `prefix`, so its rows can be counted in the store."""
    lines = ["id,text,field"]
    for i in range(rows):
        words = " ".join(rng.choice(WORDS) for _ in range(12))
        lines.append(f"{prefix}-{i},{prefix} {i} {words},{FIELDS[i % 3]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _rows_of(conn: sqlite3.Connection, prefix: str) -> int:
    return conn.execute(
        "SELECT COUNT(*) FROM excerpts WHERE external_id LIKE ?", (prefix + "-%",)
    ).fetchone()[0]


def _run_snapshot(conn: sqlite3.Connection, run_id: int) -> list:
    return conn.execute(
        "SELECT name, value FROM run_results WHERE run_id = ? ORDER BY name", (run_id,)
    ).fetchall()


def _check(db: Path, files: dict[str, int], previous: tuple[int, list] | None) -> dict:
    """The checks after a kill; returns what the store holds of the killed command's files."""
    assert integrity(db) == "ok"
    conn = sqlite3.connect(db)
    try:
        present = {prefix: _rows_of(conn, prefix) for prefix in files}
        for prefix, rows in files.items():
            assert present[prefix] in (0, rows), (prefix, present[prefix], rows)
        for file_id, n_new in conn.execute("SELECT id, n_new FROM files"):
            stored = conn.execute(
                "SELECT COUNT(*) FROM excerpts WHERE file_id = ?", (file_id,)
            ).fetchone()[0]
            assert stored == n_new, (file_id, stored, n_new)
        assert (
            conn.execute("SELECT COUNT(*) FROM runs WHERE status != 'complete'").fetchone()[0] == 0
        )
        if previous is not None:
            run_id, snapshot = previous
            assert _run_snapshot(conn, run_id) == snapshot
            current = conn.execute("SELECT MAX(id) FROM runs WHERE status = 'complete'").fetchone()[
                0
            ]
            assert current >= run_id
            if current > run_id:
                assert _run_snapshot(conn, current), "a newer run must be complete"
        return present
    finally:
        conn.close()


def _command(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pipelines", args[0], "--db", str(db), *args[1:]]


def _timed(db: Path, *args: str) -> float:
    started = time.monotonic()
    done = subprocess.run(
        _command(db, *args), env=subprocess_env(db), cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return time.monotonic() - started


def _kill_at_random(db: Path, args: tuple[str, ...], duration: float, rng: random.Random) -> bool:
    """Start the command, SIGKILL it after a random part of its usual duration; True if it was
    still running when killed."""
    process = subprocess.Popen(
        _command(db, *args),
        env=subprocess_env(db),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(rng.uniform(0.05, 0.95) * duration)
    alive = process.poll() is None
    if alive:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()
    return alive and process.returncode == -signal.SIGKILL


def _rerun(db: Path, *args: str) -> None:
    """Run the same command again, in this process (no start-up cost); it must complete."""
    env = {"CROSSWALK_MODEL": os.environ.get("CROSSWALK_MODEL")}
    os.environ["CROSSWALK_MODEL"] = "hash-256"
    try:
        assert main([args[0], "--db", str(db), *args[1:]]) == 0
    finally:
        os.environ["CROSSWALK_MODEL"] = env["CROSSWALK_MODEL"] or "hash-256"


@pytest.mark.slow
def test_ingest_killed_at_random_moments(tmp_path, capsys):
    rng = random.Random(8)
    db = tmp_path / "store.sqlite"
    target = count(4, 34)
    rows = 2000
    first = tmp_path / "first.csv"
    _write_file(first, "first", rows, rng)
    duration = _timed(db, "ingest", str(first))
    kills = mid_command = attempts = 0
    while kills < target and attempts < target * 4:
        attempts += 1
        files = {}
        paths = []
        for k in range(3):
            prefix = f"i{attempts}f{k}"
            path = tmp_path / f"{prefix}.csv"
            _write_file(path, prefix, rows, rng)
            files[prefix] = rows
            paths.append(str(path))
        if not _kill_at_random(db, ("ingest", *paths), duration, rng):
            _check(db, files, None)
            continue
        kills += 1
        present = _check(db, files, None)
        mid_command += 0 < sum(1 for n in present.values() if n) < len(files)
        _rerun(db, "ingest", *paths)
        assert all(n == rows for n in _check(db, files, None).values())
        capsys.readouterr()
    assert kills >= target
    conn = sqlite3.connect(db)
    expected = rows * (1 + 3 * attempts)
    stored = conn.execute("SELECT COUNT(*) FROM excerpts").fetchone()[0]
    conn.close()
    assert stored == expected
    record(
        "kills ingest",
        kills=kills,
        killed_between_files=mid_command,
        records_expected=expected,
        records_lost=expected - stored,
    )


@pytest.mark.slow
def test_build_killed_at_random_moments(tmp_path, capsys):
    rng = random.Random(80)
    db = tmp_path / "store.sqlite"
    target = count(2, 16)
    start = tmp_path / "start.csv"
    _write_file(start, "start", 90, rng)
    _rerun(db, "ingest", str(start))
    duration = _timed(db, "build")
    conn = sqlite3.connect(db)
    run_id = conn.execute("SELECT MAX(id) FROM runs").fetchone()[0]
    previous = (run_id, _run_snapshot(conn, run_id))
    conn.close()
    kills = replaced = attempts = 0
    while kills < target and attempts < target * 4:
        attempts += 1
        # A few new excerpts each time, so build has something to embed and a new run to write.
        extra = tmp_path / f"b{attempts}.csv"
        _write_file(extra, f"b{attempts}", 6, rng)
        _rerun(db, "ingest", str(extra))
        alive = _kill_at_random(db, ("build",), duration, rng)
        _check(db, {}, previous)
        kills += alive
        conn = sqlite3.connect(db)
        before_rerun = conn.execute("SELECT MAX(id) FROM runs").fetchone()[0]
        replaced += alive and before_rerun > previous[0]
        conn.close()
        _rerun(db, "build")
        conn = sqlite3.connect(db)
        run_id = conn.execute("SELECT MAX(id) FROM runs").fetchone()[0]
        corpus = conn.execute("SELECT corpus_hash FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
        from pipelines import store

        assert corpus == store.corpus_hash(conn)
        previous = (run_id, _run_snapshot(conn, run_id))
        conn.close()
        capsys.readouterr()
        # Recorded as it goes, so a run cut short still reports what it did.
        record(
            "kills build",
            kills=kills,
            attempts=attempts,
            completed_before_kill=replaced,
            runs_lost=0,
        )
    assert kills >= target
    record("kills build", kills=kills, completed_before_kill=replaced, runs_lost=0)


def test_check_catches_a_half_written_file(tmp_path):
    """The harness's own check must fail on a store where a file landed only partly."""
    db = tmp_path / "store.sqlite"
    path = tmp_path / "half.csv"
    _write_file(path, "half", 10, random.Random(1))
    _rerun(db, "ingest", str(path))
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM excerpts WHERE id IN (SELECT id FROM excerpts LIMIT 3)")
    conn.commit()
    conn.close()
    with pytest.raises(AssertionError):
        _check(db, {"half": 10}, None)
    assert json.dumps({"half": 10})
