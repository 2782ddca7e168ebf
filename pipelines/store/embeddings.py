"""Embeddings in the store: float32 blobs keyed by model id and text hash."""

from __future__ import annotations

import sqlite3

import numpy as np

from pipelines.store.connection import transaction

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
