"""Shared pieces of the reliability tests (#8): how many cases to run, and a record of what ran.

The default counts keep `make test` quick; `make reliability` sets CROSSWALK_RELIABILITY=full and
runs the full counts (at least 50 kills, hundreds of fuzzed files per format, a million-row CSV).
Each test adds its figures to test-artifacts/reliability.json for the README.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FULL = os.environ.get("CROSSWALK_RELIABILITY") == "full"
REPORT = ROOT / "test-artifacts" / "reliability.json"


def count(ci: int, full: int) -> int:
    """The CI count, or the full one under `make reliability`."""
    return full if FULL else ci


def record(name: str, **figures) -> None:
    """Merge `figures` under `name` into the reliability report."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    # Locked: `make reliability` may run test files in parallel processes.
    with (REPORT.parent / "reliability.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(REPORT.read_text()) if REPORT.exists() else {}
        data[name] = {**figures, "mode": "full" if FULL else "ci"}
        REPORT.write_text(json.dumps(data, indent=1, sort_keys=True))


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def subprocess_env(db: Path) -> dict[str, str]:
    """The environment for a CLI subprocess: the fast hash embedder, offline, this store."""
    return {
        **os.environ,
        "CROSSWALK_DB": str(db),
        "CROSSWALK_MODEL": "hash-256",
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
    }


def copy_store(source: Path, target: Path) -> None:
    """Copy a store with SQLite's backup API, so rows still in the WAL file come along."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
