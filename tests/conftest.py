from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from pipelines import store
from pipelines.cli import main

ROOT = Path(__file__).resolve().parent.parent

# Unit tests use the fast hash embedder unless a test asks for the real model explicitly.
os.environ.setdefault("CROSSWALK_MODEL", "hash-256")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "store.sqlite"


@pytest.fixture
def cli(db, capsys):
    """Run the CLI in-process against the test store; returns (exit status, stdout, stderr)."""

    def run(*args: str):
        status = main([*args[:1], "--db", str(db), *args[1:]])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def dump(path: Path) -> list[str]:
    """Every row of every table, to compare a store before and after a command."""
    if not path.exists():
        return []
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


@pytest.fixture
def connect(db):
    def open_():
        return store.connect(db)

    return open_
