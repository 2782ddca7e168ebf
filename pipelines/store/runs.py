"""Analysis runs, their results (one JSON value per name) and the user's annotations."""

from __future__ import annotations

import json
import sqlite3

from pipelines.store.connection import now, transaction

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
