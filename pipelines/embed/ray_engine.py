"""The Ray engine (`build --engine ray`): the per-excerpt heavy work as Ray Data batch jobs.

Embedding: the texts with no cached embedding go to a pool of actors, each holding one embedder
(loaded once per actor), and the vectors stream back to the driver, which saves them in the same
transactions (`cache.SLICE` texts each) and drives the same progress bar as the local engine.
Tagging: the per-excerpt part of concept tagging (similarity to the concept prototypes, cue
phrases, choosing the tags) runs on the same kind of pool; what needs the whole corpus at once
(the TF-IDF weights and each concept's calibration over all excerpts) stays on the driver.

The pool is the cluster's CPUs less one, each actor one CPU: the CPU left over runs Ray Data's
read and hand-off tasks, without which the actors wait for input. Nothing imports this module,
or Ray, unless the engine is asked for.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from pipelines.embed.cache import SLICE
from pipelines.errors import input_error

BLOCK = 256  # texts per Ray block: one actor batch, and the progress bar's step
SETTINGS = ("CROSSWALK_BACKEND", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def _ray():
    try:
        import ray
        import ray.data
    except ImportError:
        raise input_error("E051") from None
    _quiet(ray)
    return ray


def connect(address: str | None = None) -> None:
    """Join the Ray cluster at `address` (else $RAY_ADDRESS, else a Ray already started in this
    process, else a new local one). An address that does not answer is E052, raised before
    anything is embedded or written."""
    ray = _ray()
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address and address not in ("auto", "local"):
        _check_reachable(address)
    if ray.is_initialized():
        current = ray.get_runtime_context().gcs_address
        if not address or address in ("auto", current):
            return
        ray.shutdown()
    # Ray's own INFO lines (execution plans, log paths) would break through the progress bar.
    logging.getLogger("ray").setLevel(logging.WARNING)
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, TimeoutError, RuntimeError) as exc:
        raise input_error("E052", None, address=address or "local", detail=str(exc)[:200]) from None


def _quiet(ray) -> None:
    """Ray Data's own progress bars and INFO lines off the console: the CLI draws one bar."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    # Ray Data logs to its session's file and to stderr; only the stderr copy is quietened.
    for handler in logging.getLogger("ray.data").handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            handler.setLevel(logging.WARNING)


def _check_reachable(address: str, *, timeout: float = 3.0) -> None:
    """A TCP connection to the head node's HOST:PORT (or ray://HOST:PORT), so that a wrong
    address fails in seconds with a clear message instead of Ray's long retries."""
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise input_error("E052", None, address=address, detail="expected HOST:PORT")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise input_error(
            "E052", None, address=address, detail=exc.strerror or type(exc).__name__
        ) from None


def pool_size(*, cpus_per_worker: int = 1) -> int:
    """Actors for a job: the cluster's CPUs less one (for the read tasks), at least one."""
    cpus = int(_ray().cluster_resources().get("CPU", 1))
    return max(1, (cpus - 1) // cpus_per_worker)


class EmbedBatches:
    """Ray Data's callable class for embedding: one embedder per actor, loaded once."""

    def __init__(self, model: str, settings: dict[str, str], threads: int):
        os.environ.update(settings)
        from pipelines.embed.embedders import get_embedder

        self.embedder = get_embedder(model, threads=threads)

    def __call__(self, batch: dict) -> dict:
        vectors = self.embedder.encode([str(t) for t in batch["text"]])
        return {
            "text_hash": batch["text_hash"],
            "vector": vectors,
            "model_id": np.full(len(vectors), self.embedder.model_id),
        }


@dataclass
class RayEncoder:
    """The engine `cache.embed_missing` takes: the texts embedded by a pool of actors, yielded
    in chunks of SLICE as the results arrive (in any order: each row carries its hash)."""

    model: str | None = None
    workers: int | None = None  # default: `pool_size()`
    cpus_per_worker: int = 1

    def __call__(
        self, embedder, hashes: list[str], texts: list[str], *, progress=None
    ) -> Iterator[tuple[list[str], np.ndarray]]:
        ray = _ray()
        from pipelines.embed.embedders import DEFAULT_MODEL

        model = self.model or os.environ.get("CROSSWALK_MODEL") or DEFAULT_MODEL
        # The driver's precision, resolved, so every actor embeds as the driver would.
        settings = {k: os.environ[k] for k in SETTINGS if k in os.environ}
        settings["CROSSWALK_PRECISION"] = embedder.precision
        vectors = _dataset({"text_hash": hashes, "text": texts}).map_batches(
            EmbedBatches,
            fn_constructor_kwargs={
                "model": model,
                "settings": settings,
                "threads": self.cpus_per_worker,
            },
            batch_size=BLOCK,
            compute=ray.data.ActorPoolStrategy(
                size=self.workers or pool_size(cpus_per_worker=self.cpus_per_worker)
            ),
            num_cpus=self.cpus_per_worker,
        )
        done = 0
        pending_hashes: list[str] = []
        pending: list[np.ndarray] = []
        for batch in vectors.iter_batches(batch_size=None, batch_format="numpy"):
            ids = set(batch["model_id"].tolist())
            if ids != {embedder.model_id}:
                raise RuntimeError(
                    f"a Ray worker embedded with {', '.join(sorted(ids))} where this process "
                    f"uses {embedder.model_id}: the workers' settings or CPUs differ"
                )
            pending_hashes.extend(batch["text_hash"].tolist())
            pending.append(np.asarray(batch["vector"], dtype=np.float32))
            done += len(batch["text_hash"])
            if progress:
                progress(done, len(texts))
            while len(pending_hashes) >= SLICE or (pending_hashes and done == len(texts)):
                stacked = np.vstack(pending)
                yield pending_hashes[:SLICE], stacked[:SLICE]
                pending_hashes, pending = pending_hashes[SLICE:], [stacked[SLICE:]]


# --- concept tagging ----------------------------------------------------------------------------


def framework_groups(frameworks: list) -> list[list]:
    """The local tagger's grouping: the bundled frameworks together, each codebook alone."""
    from pipelines.analysis.tagging import framework_groups as local_groups

    return local_groups(frameworks)


def tag_by_framework_group(
    texts: list[str],
    vectors: np.ndarray,
    frameworks: list,
    *,
    embedder,
    encode=None,
    workers: int | None = None,
    lenses: list | None = None,
) -> list[list[dict]]:
    """The local `tag_by_framework_group` (same arguments, same tags), its per-excerpt work on
    Ray: concept tags per excerpt, best first, each framework group calibrated on its own. With
    `lenses`, each group's concepts and calibration are appended to it, as the local one does,
    for the coverage of each framework read on its own (`analysis.tagging.framework_lens`)."""
    from pipelines.analysis.concepts import Tagging, all_concepts, concept_prototypes

    out: list[list[dict]] = [[] for _ in texts]
    for group in framework_groups(frameworks):
        concepts = all_concepts(group)
        proto_texts, owners = concept_prototypes(concepts)
        proto_vectors = (encode or embedder.encode)(proto_texts)
        calibration: dict = {}
        found = tag_excerpts(
            texts,
            vectors,
            concepts,
            proto_vectors,
            owners,
            workers=workers,
            calibration=calibration,
        )
        for row, tags in zip(out, found, strict=True):
            row.extend(tags)
        if lenses is not None:
            lenses.append(
                (
                    concepts,
                    Tagging(
                        [c.key for c in concepts],
                        found,
                        calibration.get("calibrated"),
                        calibration.get("z"),
                        calibration.get("cue"),
                    ),
                )
            )
    return [sorted(row, key=lambda tag: -tag["score"]) for row in out]


def tag_excerpts(
    texts: list[str],
    vectors: np.ndarray,
    concepts: list,
    prototype_vectors: np.ndarray,
    owners: list[int],
    *,
    z_threshold: float = 1.2,
    max_tags: int = 3,
    cue_bonus: float = 1.5,
    lexical_weight: float = 0.5,
    workers: int | None = None,
    calibration: dict | None = None,
) -> list[list[dict]]:
    """`concepts.tag_excerpts(...).tags` with the per-excerpt steps as two Ray Data jobs: first
    each excerpt's similarity to each concept and its cue phrases, then, once the driver has
    calibrated the scores over the corpus, each excerpt's choice of tags."""
    from pipelines.analysis.concepts import _standardise, lexical_scores

    ray = _ray()
    n, m = len(texts), len(concepts)
    if n == 0 or m == 0:
        return [[] for _ in range(n)]
    rows = np.arange(n)
    scored = _collect(
        _dataset({"row": rows, "text": list(texts), "vector": vectors}).map_batches(
            ScoreConcepts,
            fn_constructor_kwargs={
                "concepts": concepts,
                "prototype_vectors": np.asarray(prototype_vectors, dtype=np.float32),
                "owners": list(owners),
            },
            batch_size=BLOCK,
            compute=ray.data.ActorPoolStrategy(size=workers or pool_size()),
            num_cpus=1,
        ),
        n,
    )
    raw, best = scored["raw"], scored["best"]
    hits = [{int(j): cue for j, cue in json.loads(h).items()} for h in scored["hits"]]
    # The corpus-wide steps, on the driver, as the local tagger does them.
    lexical = lexical_scores(texts, concepts)
    z = _standardise(raw, 0) + lexical_weight * _standardise(lexical, 0)
    calibrated = 0.5 * z + 0.5 * _standardise(z, 1)
    cue = np.zeros((n, m), dtype=bool)
    for i, found in enumerate(hits):
        for j in found:
            calibrated[i, j] += cue_bonus
            cue[i, j] = True
    if calibration is not None:
        calibration.update(z=z, cue=cue, calibrated=calibrated)
    columns = {"row": rows, "calibrated": calibrated, "raw": raw, "lexical": lexical}
    chosen = _collect(
        _dataset({**columns, "best": best, "hits": scored["hits"]}).map_batches(
            choose_tags,
            fn_kwargs={
                "concepts": [(c.key, list(c.cues)) for c in concepts],
                "first": [int(np.flatnonzero(np.asarray(owners) == j)[0]) for j in range(m)],
                "z_threshold": z_threshold,
                "max_tags": max_tags,
            },
            batch_size=BLOCK,
            num_cpus=1,
        ),
        n,
    )
    return [json.loads(t) for t in chosen["tags"]]


class ScoreConcepts:
    """Ray Data's callable class for tagging's first step: per excerpt, each concept's raw
    similarity (half its description's, half its cues' mean), its closest prototype, and the
    concepts whose cue phrase occurs in the text."""

    def __init__(self, concepts: list, prototype_vectors: np.ndarray, owners: list[int]):
        self.concepts = concepts
        self.prototypes = prototype_vectors
        owners_arr = np.asarray(owners)
        self.columns = [np.flatnonzero(owners_arr == j) for j in range(len(concepts))]

    def __call__(self, batch: dict) -> dict:
        from pipelines.analysis.concepts import cue_hits

        sims = np.asarray(batch["vector"], dtype=np.float32) @ self.prototypes.T
        n, m = len(sims), len(self.concepts)
        raw = np.full((n, m), -1.0, dtype=np.float32)
        best = np.zeros((n, m), dtype=np.int64)
        for j, columns in enumerate(self.columns):
            block = sims[:, columns]
            cues = block[:, 1:] if block.shape[1] > 1 else block
            raw[:, j] = 0.5 * block[:, 0] + 0.5 * cues.mean(axis=1)
            best[:, j] = columns[block.argmax(axis=1)]
        hits = cue_hits([str(t) for t in batch["text"]], self.concepts)
        return {
            "row": batch["row"],
            "raw": raw,
            "best": best,
            "hits": np.array([json.dumps(h) for h in hits], dtype=object),
        }


def choose_tags(
    batch: dict, *, concepts: list[tuple[str, list[str]]], first: list[int], z_threshold, max_tags
) -> dict:
    """Tagging's last step, per excerpt: the best-scoring concepts over the bar, at most
    `max_tags`, each with its score and the evidence that matched (as `concepts.tag_excerpts`)."""
    out = []
    for calibrated, raw, lexical, best, hits in zip(
        batch["calibrated"],
        batch["raw"],
        batch["lexical"],
        batch["best"],
        batch["hits"],
        strict=True,
    ):
        found = json.loads(str(hits))
        chosen = []
        for j in np.argsort(-calibrated, kind="stable")[:max_tags]:
            if calibrated[j] < z_threshold:
                break
            key, cues = concepts[j]
            if str(j) in found:
                matched = f'cue phrase "{found[str(j)]}" in the text'
            elif best[j] == first[j]:
                matched = "close to the concept's description"
            else:
                matched = f'close to the cue "{cues[best[j] - first[j] - 1]}"'
            chosen.append(
                {
                    "concept": key,
                    "score": round(float(calibrated[j]), 3),
                    "similarity": round(float(raw[j]), 3),
                    "word_overlap": round(float(lexical[j]), 3),
                    "evidence": matched,
                }
            )
        out.append(json.dumps(chosen))
    return {"row": batch["row"], "tags": np.array(out, dtype=object)}


def _dataset(columns: dict):
    """A Ray dataset of `columns` (1-D arrays or lists, or 2-D arrays as tensor columns) in
    blocks of BLOCK rows, so every actor of the pool gets work."""
    import pyarrow as pa
    from ray.data.extensions import ArrowTensorArray

    arrays = {
        name: ArrowTensorArray.from_numpy(np.ascontiguousarray(value))
        if isinstance(value, np.ndarray) and value.ndim == 2
        else pa.array(value)
        for name, value in columns.items()
    }
    table = pa.table(arrays)
    return _ray().data.from_arrow(
        [table.slice(start, BLOCK) for start in range(0, table.num_rows, BLOCK)]
    )


def _collect(dataset, n: int) -> dict[str, np.ndarray]:
    """Every column of `dataset`, its rows put back in the order of its `row` column."""
    parts: dict[str, list] = {}
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        for name, value in batch.items():
            parts.setdefault(name, []).append(value)
    joined = {name: np.concatenate(values) for name, values in parts.items()}
    order = np.argsort(joined.pop("row"), kind="stable")
    if len(order) != n:
        raise RuntimeError(f"a Ray job returned {len(order)} rows for {n}")
    return {name: value[order] for name, value in joined.items()}
