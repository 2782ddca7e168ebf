"""The cached embedding stage: embeddings are kept in the store by (model id, text hash), so only
text never seen before is embedded, by the local engine here or by another (the Ray engine).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pipelines import store
from pipelines.ingest import records

if TYPE_CHECKING:
    from pipelines.embed.embedders import Embedder

SLICE = 2048  # texts embedded and saved per transaction, so an interrupted job keeps what it did


@dataclass
class EmbedReport:
    model_id: str
    total: int
    embedded: int
    reused: int = 0  # taken from the cache of `shares_cache_with`, not embedded again


Encoder = Callable[..., Iterator[tuple[list[str], np.ndarray]]]


def encode_in_slices(
    embedder: Embedder, hashes: list[str], texts: list[str], *, progress=None
) -> Iterator[tuple[list[str], np.ndarray]]:
    """The local engine: `texts` embedded here, SLICE at a time, as (hashes, vectors)."""
    for start in range(0, len(texts), SLICE):

        def slice_progress(done, _total, offset=start):
            if progress:
                progress(offset + done, len(texts))

        yield (
            hashes[start : start + SLICE],
            embedder.encode(texts[start : start + SLICE], progress=slice_progress),
        )


def embed_missing(
    conn: sqlite3.Connection, embedder: Embedder, *, progress=None, encoder: Encoder | None = None
) -> EmbedReport:
    """Embed every stored text that has no cached embedding for this model; return the counts.

    `encoder` is the engine that embeds them (default `encode_in_slices`; the Ray engine's
    `ray_engine.RayEncoder`); each chunk it yields is saved in one transaction as it comes."""
    cached = store.cached_hashes(conn, embedder.model_id)
    texts: dict[str, str] = {}
    for text_hash, text in store.excerpt_texts(conn):
        texts.setdefault(text_hash, text)
    missing = sorted(h for h in texts if h not in cached)
    reused = _reuse_agreed(conn, embedder, missing)
    missing = [h for h in missing if h not in reused]
    if missing:
        chunks = (encoder or encode_in_slices)(
            embedder, missing, [texts[h] for h in missing], progress=progress
        )
        for hashes, vectors in chunks:
            store.save_embeddings(conn, embedder.model_id, hashes, vectors)
    return EmbedReport(embedder.model_id, len(texts), len(missing), len(reused))


def _reuse_agreed(conn: sqlite3.Connection, embedder: Embedder, missing: list[str]) -> set[str]:
    """Copy the vectors of `missing` texts that the cache holds under the id this embedder's
    precision agreed with (a bf16 model reusing fp32 vectors); the hashes copied."""
    source = embedder.shares_cache_with
    if not source or not missing:
        return set()
    found = sorted(store.cached_hashes(conn, source).intersection(missing))
    if found:
        vectors = store.load_embeddings(conn, source, found)
        for start in range(0, len(found), SLICE):
            part = slice(start, start + SLICE)
            store.save_embeddings(conn, embedder.model_id, found[part], vectors[part])
    return set(found)


def embed_cached(conn: sqlite3.Connection, embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Embeddings of other text (concept prototypes) through the same cache as the excerpts', so
    a rebuild does not embed a framework's thousand cue phrases again. Always read back from the
    store, so a first and a later build use bit-identical vectors."""
    hashes = [records.text_hash(t) for t in texts]
    cached = store.cached_hashes(conn, embedder.model_id, among=hashes)
    missing = dict(
        sorted({h: t for h, t in zip(hashes, texts, strict=True) if h not in cached}.items())
    )
    if missing:
        vectors = embedder.encode(list(missing.values()))
        store.save_embeddings(conn, embedder.model_id, list(missing), vectors)
    return store.load_embeddings(conn, embedder.model_id, hashes)
