"""The SQLite store's schema, migrations, connections and transactions.

WAL mode lets the app read while the CLI writes; every write path runs in one explicit
transaction so a file, a build or an edit lands whole or not at all.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pipelines.ingest.records import DEFAULT_FIELDS, EVIDENCE_TYPES, PALETTE

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DB = PROJECT_ROOT / "data" / "crosswalk.sqlite"

MIGRATIONS: list[str] = [
    # 1: the initial schema
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
    CREATE TABLE fields (
        slug TEXT PRIMARY KEY, label TEXT NOT NULL, colour TEXT NOT NULL, position INTEGER NOT NULL
    );
    CREATE TABLE evidence_types (slug TEXT PRIMARY KEY, label TEXT NOT NULL);
    CREATE TABLE files (
        id INTEGER PRIMARY KEY, path TEXT NOT NULL, sha256 TEXT NOT NULL, format TEXT NOT NULL,
        ingested_at TEXT NOT NULL, n_new INTEGER NOT NULL, n_unchanged INTEGER NOT NULL,
        n_rejected INTEGER NOT NULL
    );
    CREATE TABLE sources (
        id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, title TEXT NOT NULL, authors TEXT,
        year INTEGER, venue TEXT, doi TEXT, url TEXT,
        evidence_type TEXT REFERENCES evidence_types(slug), citation TEXT, meta TEXT
    );
    CREATE TABLE excerpts (
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
        field TEXT NOT NULL REFERENCES fields(slug), kind TEXT, location TEXT, external_id TEXT,
        text TEXT NOT NULL, text_hash TEXT NOT NULL, meta TEXT,
        file_id INTEGER REFERENCES files(id), split_index INTEGER NOT NULL DEFAULT 0,
        split_count INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL,
        UNIQUE (field, text_hash)
    );
    CREATE INDEX excerpts_source ON excerpts(source_id);
    CREATE TABLE embeddings (
        model_id TEXT NOT NULL, text_hash TEXT NOT NULL, dim INTEGER NOT NULL,
        vector BLOB NOT NULL, PRIMARY KEY (model_id, text_hash)
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, finished_at TEXT,
        status TEXT NOT NULL, params TEXT NOT NULL, model_id TEXT NOT NULL,
        corpus_hash TEXT NOT NULL, seed INTEGER NOT NULL, software_version TEXT NOT NULL,
        timings TEXT, summary TEXT
    );
    CREATE TABLE run_results (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, name TEXT NOT NULL,
        value TEXT NOT NULL, PRIMARY KEY (run_id, name)
    );
    CREATE TABLE annotations (
        id INTEGER PRIMARY KEY, target TEXT NOT NULL, key TEXT NOT NULL, value TEXT,
        updated_at TEXT NOT NULL, UNIQUE (target, key)
    );
    """,
]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def default_db_path() -> Path:
    return Path(os.environ.get("CROSSWALK_DB") or DEFAULT_DB)


def connect(path: str | Path | None = None, *, readonly: bool = False) -> sqlite3.Connection:
    """Open the store (creating and migrating it unless read-only) with WAL and foreign keys on."""
    path = Path(path) if path is not None else default_db_path()
    if not readonly:
        path.parent.mkdir(parents=True, exist_ok=True)
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    conn = sqlite3.connect(
        uri, uri=True, isolation_level=None, timeout=30.0, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 30000")
    if not readonly:
        # Switching a new store to WAL needs a lock that SQLite does not wait for: two processes
        # creating the same store at once could fail here with "database is locked" (seen in CI).
        _retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL"))
        conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn)
    return conn


def _retry_busy(step, attempts: int = 40):
    """`step()`, retried with a growing pause (about 30 s in all) while the store is locked: for
    the locks SQLite does not wait for through busy_timeout (switching to WAL, a BEGIN that
    meets a writer about to commit)."""
    for attempt in range(attempts):
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == attempts - 1:
                raise
            time.sleep(min(0.05 * (attempt + 1), 1.5))


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection) -> None:
    """Apply forward migrations in order; each runs in its own transaction with the version bump."""
    while (version := schema_version(conn)) < len(MIGRATIONS):
        with transaction(conn):
            if schema_version(conn) != version:  # another process migrated meanwhile
                continue
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            if version == 0:
                _seed_vocabularies(conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")


def _seed_vocabularies(conn: sqlite3.Connection) -> None:
    conn.executemany("INSERT INTO evidence_types VALUES (?, ?)", EVIDENCE_TYPES.items())
    for position, (slug, label) in enumerate(DEFAULT_FIELDS.items()):
        conn.execute(
            "INSERT INTO fields VALUES (?, ?, ?, ?)", (slug, label, PALETTE[position], position)
        )
    conn.execute("INSERT INTO meta VALUES ('closed_fields', '0')")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception.

    IMMEDIATE takes the write lock up front, so a busy store makes us wait (busy_timeout) rather
    than fail half-way. A rare SQLITE_BUSY at BEGIN is retried.
    """
    _retry_busy(lambda: conn.execute("BEGIN IMMEDIATE"))
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")
