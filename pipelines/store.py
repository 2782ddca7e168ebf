"""The SQLite store: schema, migrations, and the queries the rest of the engine uses.

WAL mode lets the app read while the CLI writes; every write path runs in one explicit
transaction so a file, a build or an edit lands whole or not at all.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.ingest.records import DEFAULT_FIELDS, EVIDENCE_TYPES, PALETTE

PROJECT_ROOT = Path(__file__).resolve().parent.parent
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


# --- vocabularies -------------------------------------------------------------------------------


def fields(conn: sqlite3.Connection) -> pd.DataFrame:
    return pd.read_sql_query("SELECT slug, label, colour FROM fields ORDER BY position", conn)


def field_colours(conn: sqlite3.Connection) -> dict[str, str]:
    return {r["slug"]: r["colour"] for r in conn.execute("SELECT slug, colour FROM fields")}


def field_labels(conn: sqlite3.Connection) -> dict[str, str]:
    return {r["slug"]: r["label"] for r in conn.execute("SELECT slug, label FROM fields")}


def fields_closed(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT value FROM meta WHERE key = 'closed_fields'").fetchone()
    return bool(row) and row[0] == "1"


def set_fields_closed(conn: sqlite3.Connection, closed: bool) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT INTO meta VALUES ('closed_fields', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            ("1" if closed else "0",),
        )


def add_field(conn: sqlite3.Connection, slug: str, label: str | None = None) -> None:
    """Insert a field (inside the caller's transaction) with the next palette colour."""
    position = conn.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM fields").fetchone()[0]
    conn.execute(
        "INSERT OR IGNORE INTO fields VALUES (?, ?, ?, ?)",
        (
            slug,
            label or slug.replace("_", " ").capitalize(),
            PALETTE[position % len(PALETTE)],
            position,
        ),
    )


# --- reading the corpus -------------------------------------------------------------------------

EXCERPT_COLUMNS = """
    e.id AS excerpt_id, e.external_id, e.field, e.kind, e.location, e.text, e.text_hash,
    e.split_index, e.split_count, e.meta, s.id AS source_id, s.title, s.authors, s.year,
    s.venue, s.doi, s.url, s.evidence_type, s.citation
"""


def excerpts(conn: sqlite3.Connection, *, ids: list[int] | None = None) -> pd.DataFrame:
    """Every excerpt (or those with `ids`) joined to its source, ordered by id (the order every
    matrix uses)."""
    where, params = "", ()
    if ids is not None:
        params = tuple(int(i) for i in ids)
        where = f"WHERE e.id IN ({', '.join('?' * len(params))})" if params else "WHERE 0"
    frame = pd.read_sql_query(
        f"SELECT {EXCERPT_COLUMNS} FROM excerpts e JOIN sources s ON s.id = e.source_id {where} ORDER BY e.id",
        conn,
        params=params,
    )
    frame["year"] = frame["year"].astype("Int64")
    # Citations depend on the source only: format each source once, not once per excerpt (at
    # 10,000 excerpts the per-row loop was most of the time the app took to read the store).
    sources = frame.drop_duplicates("source_id")
    short, full = {}, {}
    for s, c, a, y, t, v in zip(
        sources["source_id"],
        sources["citation"],
        sources["authors"],
        sources["year"],
        sources["title"],
        sources["venue"],
        strict=True,
    ):
        short[s] = short_citation(a, y)
        full[s] = c or fallback_citation(a, y, t, v)
    frame["short_citation"] = frame["source_id"].map(short)
    frame["citation"] = frame["source_id"].map(full)
    return frame


def excerpt_facets(conn: sqlite3.Connection) -> pd.DataFrame:
    """Field, source, evidence type and year of every excerpt, without text: enough to count the
    corpus, at a fraction of the cost of `excerpts`."""
    frame = pd.read_sql_query(
        "SELECT e.id AS excerpt_id, e.field, s.id AS source_id, s.evidence_type, s.year "
        "FROM excerpts e JOIN sources s ON s.id = e.source_id ORDER BY e.id",
        conn,
    )
    frame["year"] = frame["year"].astype("Int64")
    return frame


def short_citation(authors: str | None, year) -> str:
    """'Leamy et al., 2011' style, from 'Surname, I.; Surname, I.' author lists."""
    names = [a.strip() for a in (authors or "").split(";") if a.strip()]
    surnames = [n.split(",")[0].strip() for n in names]
    year_text = "n.d." if year is None or pd.isna(year) else str(int(year))
    if not surnames:
        return year_text
    if len(surnames) == 1:
        who = surnames[0]
    elif len(surnames) == 2:
        who = f"{surnames[0]} & {surnames[1]}"
    else:
        who = f"{surnames[0]} et al."
    return f"{who}, {year_text}"


def fallback_citation(authors, year, title, venue) -> str:
    year_text = "n.d." if year is None or pd.isna(year) else str(int(year))
    parts = [
        p for p in ((authors or "").replace(";", ","), f"({year_text}).", f"{title}.", venue) if p
    ]
    return " ".join(parts).strip()


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    return {
        "excerpts": one("SELECT COUNT(*) FROM excerpts"),
        "sources": one("SELECT COUNT(*) FROM sources"),
        "files": one("SELECT COUNT(*) FROM files"),
        "fields": one("SELECT COUNT(DISTINCT field) FROM excerpts"),
        "runs": one("SELECT COUNT(*) FROM runs WHERE status = 'complete'"),
    }


def corpus_hash(conn: sqlite3.Connection) -> str:
    """A hash of every excerpt's (id, field, text hash): what a run was computed from."""
    import hashlib

    digest = hashlib.sha256()
    for row in conn.execute("SELECT id, field, kind, text_hash FROM excerpts ORDER BY id"):
        digest.update(f"{row[0]}|{row[1]}|{row[2]}|{row[3]}\n".encode())
    return digest.hexdigest()


def delete_source(conn: sqlite3.Connection, source_id: int) -> int:
    """Delete a source and its excerpts (cached embeddings stay, keyed by text). Returns the
    number of excerpts deleted."""
    with transaction(conn):
        count = conn.execute(
            "SELECT COUNT(*) FROM excerpts WHERE source_id = ?", (source_id,)
        ).fetchone()[0]
        conn.execute("DELETE FROM excerpts WHERE source_id = ?", (source_id,))
        conn.execute("DELETE FROM sources WHERE id = ?", (source_id,))
    return count


# --- embeddings ---------------------------------------------------------------------------------


def cached_hashes(conn: sqlite3.Connection, model_id: str) -> set[str]:
    return {
        r[0]
        for r in conn.execute("SELECT text_hash FROM embeddings WHERE model_id = ?", (model_id,))
    }


def save_embeddings(
    conn: sqlite3.Connection, model_id: str, hashes: list[str], vectors: np.ndarray
) -> None:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    with transaction(conn):
        conn.executemany(
            "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)",
            [
                (model_id, h, vectors.shape[1], v.tobytes())
                for h, v in zip(hashes, vectors, strict=True)
            ],
        )


def load_embeddings(conn: sqlite3.Connection, model_id: str, hashes: list[str]) -> np.ndarray:
    """The embeddings of `hashes`, in that order, as one float32 matrix (rows L2-normalised)."""
    lookup: dict[str, np.ndarray] = {}
    for row in conn.execute(
        "SELECT text_hash, dim, vector FROM embeddings WHERE model_id = ?", (model_id,)
    ):
        lookup[row[0]] = np.frombuffer(row[2], dtype=np.float32)
    missing = [h for h in hashes if h not in lookup]
    if missing:
        raise KeyError(f"{len(missing)} texts have no embedding for {model_id}")
    if not hashes:
        return np.zeros((0, 0), dtype=np.float32)
    matrix = np.vstack([lookup[h] for h in hashes]).astype(np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


# --- runs and annotations -----------------------------------------------------------------------


def latest_run(conn: sqlite3.Connection) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT * FROM runs WHERE status = 'complete' ORDER BY id DESC LIMIT 1"
    ).fetchone()


def save_run(
    conn: sqlite3.Connection,
    *,
    params: dict,
    model_id: str,
    corpus_hash: str,
    seed: int,
    software_version: str,
    timings: dict,
    summary: dict,
    results: dict,
) -> int:
    """Persist a complete run and its results (name -> JSON value) in one transaction; its id."""
    from pipelines.analysis.contract import json_default

    with transaction(conn):
        cursor = conn.execute(
            "INSERT INTO runs (created_at, finished_at, status, params, model_id, corpus_hash, "
            "seed, software_version, timings, summary) VALUES (?, ?, 'complete', ?, ?, ?, ?, ?, ?, ?)",
            (
                now(),
                now(),
                json.dumps(params),
                model_id,
                corpus_hash,
                seed,
                software_version,
                json.dumps(timings),
                json.dumps(summary),
            ),
        )
        run_id = int(cursor.lastrowid)
        conn.executemany(
            "INSERT INTO run_results (run_id, name, value) VALUES (?, ?, ?)",
            [
                (run_id, name, json.dumps(value, default=json_default))
                for name, value in results.items()
            ],
        )
    return run_id


def run_result(conn: sqlite3.Connection, run_id: int, name: str):
    row = conn.execute(
        "SELECT value FROM run_results WHERE run_id = ? AND name = ?", (run_id, name)
    ).fetchone()
    return None if row is None else json.loads(row[0])


def annotations(conn: sqlite3.Connection, prefix: str = "") -> dict[tuple[str, str], str]:
    rows = conn.execute(
        "SELECT target, key, value FROM annotations WHERE target LIKE ?", (prefix + "%",)
    )
    return {(r[0], r[1]): r[2] for r in rows}


def set_annotation(conn: sqlite3.Connection, target: str, key: str, value: str | None) -> None:
    with transaction(conn):
        if value is None:
            conn.execute("DELETE FROM annotations WHERE target = ? AND key = ?", (target, key))
        else:
            conn.execute(
                "INSERT INTO annotations (target, key, value, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(target, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (target, key, value, now()),
            )


def contents_version(conn: sqlite3.Connection) -> tuple:
    """(excerpt count, highest excerpt id, highest complete run id): changes whenever excerpts or
    runs do, so the app can key what it caches by it."""
    row = conn.execute(
        "SELECT (SELECT COUNT(*) FROM excerpts), (SELECT MAX(id) FROM excerpts), "
        "(SELECT MAX(id) FROM runs WHERE status = 'complete')"
    ).fetchone()
    return tuple(row)
