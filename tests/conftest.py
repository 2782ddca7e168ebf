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


@pytest.fixture(scope="session")
def real_store(tmp_path_factory):
    """The bundled corpus ingested and built with the real bundled model, once per session."""
    path = tmp_path_factory.mktemp("real") / "store.sqlite"
    env = {"CROSSWALK_MODEL": os.environ.get("CROSSWALK_MODEL")}
    os.environ["CROSSWALK_MODEL"] = "all-MiniLM-L6-v2"
    try:
        assert (
            main(
                [
                    "ingest",
                    "--db",
                    str(path),
                    str(ROOT / "corpus" / "excerpts.csv"),
                    "--sources",
                    str(ROOT / "corpus" / "sources.csv"),
                ]
            )
            == 0
        )
        assert main(["build", "--db", str(path)]) == 0
    finally:
        os.environ["CROSSWALK_MODEL"] = env["CROSSWALK_MODEL"] or "hash-256"
    return path
