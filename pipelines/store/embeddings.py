"""Embeddings in the store: float32 blobs keyed by model id and text hash."""

from __future__ import annotations

import sqlite3

import numpy as np

from pipelines.store.connection import transaction

# --- embeddings ---------------------------------------------------------------------------------


# Fewer hashes than this are looked up by key; more, by one scan of the model's rows. Naming
# embeds some forty phrases per theme: scanning 100,000 stored vectors for each of 200 themes and
# families was 64 s of a 100,000-excerpt analysis.
LOOKUP_BY_KEY = 5000
_CHUNK = 500  # hashes per `IN (...)` query, well under SQLite's limit on parameters


def cached_hashes(
    conn: sqlite3.Connection, model_id: str, among: list[str] | None = None
) -> set[str]:
    """The text hashes with an embedding for `model_id`: all of them, or those of `among`."""
    if among is not None and len(among) < LOOKUP_BY_KEY:
        return {h for h, _ in _by_key(conn, model_id, among, "text_hash, NULL")}
    return {
        r[0]
        for r in conn.execute("SELECT text_hash FROM embeddings WHERE model_id = ?", (model_id,))
    }


def _by_key(conn: sqlite3.Connection, model_id: str, hashes: list[str], columns: str):
    unique = sorted(set(hashes))
    for start in range(0, len(unique), _CHUNK):
        part = unique[start : start + _CHUNK]
        marks = ",".join("?" * len(part))
        yield from conn.execute(
            f"SELECT {columns} FROM embeddings WHERE model_id = ? AND text_hash IN ({marks})",
            (model_id, *part),
        )


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
    if len(hashes) < LOOKUP_BY_KEY:
        rows = _by_key(conn, model_id, hashes, "text_hash, vector")
    else:
        rows = conn.execute(
            "SELECT text_hash, vector FROM embeddings WHERE model_id = ?", (model_id,)
        )
    lookup = {h: np.frombuffer(vector, dtype=np.float32) for h, vector in rows}
    missing = [h for h in hashes if h not in lookup]
    if missing:
        raise KeyError(f"{len(missing)} texts have no embedding for {model_id}")
    if not hashes:
        return np.zeros((0, 0), dtype=np.float32)
    matrix = np.vstack([lookup[h] for h in hashes]).astype(np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)
