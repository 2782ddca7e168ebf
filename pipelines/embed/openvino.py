"""The bundled model run by OpenVINO: exported once from the local weights, checked against torch,
cached under `data/models/` (see `OpenVINOEmbedder`)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import numpy as np

from pipelines import store
from pipelines.embed import precision as precisions
from pipelines.embed.precision import MIN_AGREEMENT, PROBE, agreement
from pipelines.errors import input_error

# Exported OpenVINO models are cached here, keyed by the weights and the OpenVINO version.
MODEL_CACHE = store.PROJECT_ROOT / "data" / "models"


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
