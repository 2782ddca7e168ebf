"""Performance benchmarks (#7): embedding throughput, the analysis against BERTopic, and scale.

Every comparison measures its baseline in the same run on the same data, alternating the two, and
quotes medians and ratios (the machines are shared and noisy). Corpora are the bundled corpus
grown by perturbation (`app_perf.grow_corpus`). Writes benchmarks/results/perf.md (which the
README includes) and prints it.

Run: `python benchmarks/perf.py [--embed-n 5000] [--sizes 1000,10000,100000] [--ray-n 10000]`;
`--ray-only` runs the Ray engine's section alone (`perf_ray`) and rewrites only that section.

Synthetic embeddings: the bundled excerpts are embedded with the real model; a grown excerpt's
vector is its parent excerpt's real vector plus Gaussian noise scaled so that it agrees with the
parent as well as real perturbed variants do (measured in the same run on a sample of real
variants). The analysis, BERTopic and scale figures use these, so that 100,000 excerpts can be
analysed without embedding them for an hour; the embedding benchmark and the "adding 100 excerpts"
figure use the real model.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from benchmarks.app_perf import QUERIES as APP_QUERIES  # noqa: E402
from benchmarks.app_perf import grow_corpus  # noqa: E402
from pipelines import store  # noqa: E402
from pipelines.embed.embedders import BUNDLED, agreement, bundled_model_path, get_embedder  # noqa: E402
from pipelines.ingest.files import BUNDLED_SOURCES, ingest_paths  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
LABELS = ROOT / "benchmarks" / "devset" / "labels.csv"
QUERIES = APP_QUERIES + [
    "identity change after prison",
    "recovery capital and relationships",
    "coercion in mental health services",
    "employment as a turning point",
    "setbacks and relapse in a long process",
]


def _timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q * 100))


def machine() -> str:
    flags = ""
    cpuinfo = Path("/proc/cpuinfo")
    model = platform.processor() or "unknown CPU"
    if cpuinfo.exists():
        text = cpuinfo.read_text()
        for line in text.splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                flags = ", ".join(
                    f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in have
                )
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import torch

    return (
        f"{model}, {os.cpu_count()} cores ({flags or 'no vector flags found'}), "
        f"{memory:.0f} GiB RAM, Python {platform.python_version()}, torch {torch.__version__}; "
        f"load average at start {os.getloadavg()[0]:.1f}"
    )


def grown_texts(n: int, folder: Path) -> tuple[Path, list[dict]]:
    path = folder / f"grown-{n}.csv"
    grow_corpus(n, path)
    with path.open(encoding="utf-8") as handle:
        return path, list(csv.DictReader(handle))


# 1. Embedding throughput ----------------------------------------------------------------------


def bench_embedding(n: int, rounds: int, folder: Path) -> dict:
    """The pipeline's embedder against plain `SentenceTransformer.encode` (fp32, default batch
    size) on the same n texts, in `rounds` alternating slices; the median of the per-slice
    ratios, total throughput of each, and the worst cosine between the two."""
    from sentence_transformers import SentenceTransformer

    _, rows = grown_texts(n, folder)
    texts = [r["text"] for r in rows]
    plain = SentenceTransformer(str(bundled_model_path()), device="cpu")
    ours = get_embedder(BUNDLED)
    ours.encode(texts[:8])
    plain.encode(texts[:8])
    ratios, plain_time, ours_time, worst = [], 0.0, 0.0, 1.0
    step = -(-n // rounds)
    for start in range(0, n, step):
        part = texts[start : start + step]
        want, t_plain = _timed(lambda part=part: plain.encode(part, normalize_embeddings=True))
        got, t_ours = _timed(lambda part=part: ours.encode(part))
        ratios.append(t_plain / t_ours)
        plain_time += t_plain
        ours_time += t_ours
        worst = min(worst, agreement(got, want))
    return {
        "n": n,
        "rounds": len(ratios),
        "backend": type(ours).__name__,
        "ratio_median": statistics.median(ratios),
        "ratios": [round(r, 2) for r in ratios],
        "plain_per_s": n / plain_time,
        "ours_per_s": n / ours_time,
        "min_cosine": worst,
        "words_mean": float(np.mean([len(t.split()) for t in texts])),
    }


# Synthetic embeddings for grown corpora ----------------------------------------------------------


class Vectors:
    """Real vectors of the bundled excerpts and the noise scale that makes synthetic variants agree
    with their parent as real variants do."""

    def __init__(self, folder: Path, *, sample: int = 48):
        self.embedder = get_embedder(BUNDLED)
        conn = store.connect(folder / "bundled.sqlite")
        ingest_paths(conn, [ROOT / "corpus" / "excerpts.csv"], sources_path=BUNDLED_SOURCES)
        frame = store.excerpts(conn)
        vectors = self.embedder.encode(frame["text"].tolist())
        self.by_external = dict(zip(frame["external_id"], vectors, strict=True))
        # Calibrate: real perturbed variants of the bundled excerpts against their parents.
        _, rows = grown_texts(471 + sample, folder)
        variants = rows[471:]
        real = self.embedder.encode([r["text"] for r in variants])
        parents = np.vstack([self.parent(r["id"]) for r in variants])
        self.agreement = float(np.mean((real * parents).sum(axis=1)))
        # For noise of norm s added to a unit vector, the cosine is about 1 / sqrt(1 + s^2).
        self.noise = float(np.sqrt(max(1 / self.agreement**2 - 1, 0.0)))
        conn.close()

    def parent(self, external_id: str) -> np.ndarray:
        base, _, piece = external_id.partition("#")
        base = base.split("-v")[0]
        for key in (f"{base}#{piece}" if piece else base, base, f"{base}#1"):
            if key in self.by_external:
                return self.by_external[key]
        raise KeyError(external_id)

    def for_store(self, conn, *, seed: int = 0) -> None:
        """Save a vector for every stored excerpt under the bundled model's id."""
        frame = store.excerpts(conn)
        rng = np.random.default_rng(seed)
        cached = store.cached_hashes(conn, BUNDLED)
        frame = frame[~frame["text_hash"].isin(cached)].drop_duplicates("text_hash")
        for start in range(0, len(frame), 20000):
            part = frame.iloc[start : start + 20000]
            parents = np.vstack([self.parent(e) for e in part["external_id"]])
            real = ~part["external_id"].str.contains("-v").to_numpy()
            noise = rng.normal(size=parents.shape).astype(np.float32)
            noise *= self.noise / np.sqrt(parents.shape[1])
            vectors = parents + np.where(real[:, None], 0, noise)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            store.save_embeddings(conn, BUNDLED, part["text_hash"].tolist(), vectors)


def gold_labels(external_ids) -> list[str | None]:
    with LABELS.open(encoding="utf-8") as handle:
        labels = {r["id"]: r["theme"] for r in csv.DictReader(handle)}
    return [labels.get(e.split("#")[0].split("-v")[0]) for e in external_ids]


# 2. Analysis against BERTopic ------------------------------------------------------------------


def bench_bertopic(n: int, vectors: Vectors, folder: Path, *, repeats: int) -> dict:
    """The analysis part of `build` (run_analysis: themes, stability, lenses, tags, comparisons,
    graph, 2-D map, saving) against `BERTopic().fit_transform(docs, embeddings=...)` with its
    default settings, alternately, on the same texts and vectors; NMI with the hand labels that
    grown excerpts inherit from their parents."""
    from bertopic import BERTopic
    from sklearn.metrics import normalized_mutual_info_score

    from pipelines.analysis.run import run_analysis

    path, _ = grown_texts(n, folder)
    conn = store.connect(folder / f"bertopic-{n}.sqlite")
    ingest_paths(conn, [path], sources_path=BUNDLED_SOURCES)
    vectors.for_store(conn)
    frame = store.excerpts(conn)
    texts = frame["text"].tolist()
    matrix = store.load_embeddings(conn, BUNDLED, frame["text_hash"].tolist())
    gold = gold_labels(frame["external_id"])
    labelled = np.array([g is not None for g in gold])

    def ours():
        outcome = run_analysis(conn, embedder=vectors.embedder, frameworks=None, force=True)
        assignments = store.run_result(conn, outcome.run_id, "assignments")
        return [assignments[str(i)] for i in frame["excerpt_id"]]

    def theirs():
        topics, _ = BERTopic().fit_transform(texts, embeddings=matrix)
        return list(topics)

    ours_times, their_times = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeats):
            ours_labels, seconds = _timed(ours)
            ours_times.append(seconds)
            their_labels, seconds = _timed(theirs)
            their_times.append(seconds)
    gold_arr = np.array([g or "" for g in gold])
    conn.close()
    return {
        "n": n,
        "repeats": repeats,
        "ours_s": statistics.median(ours_times),
        "bertopic_s": statistics.median(their_times),
        "ratio": statistics.median(ours_times) / statistics.median(their_times),
        "labelled": int(labelled.sum()),
        "nmi_ours": normalized_mutual_info_score(
            gold_arr[labelled], np.array(ours_labels)[labelled]
        ),
        "nmi_bertopic": normalized_mutual_info_score(
            gold_arr[labelled], np.array(their_labels)[labelled]
        ),
        "themes": len(set(ours_labels)),
        "topics": len(set(their_labels) - {-1}),
        "outliers": float(np.mean(np.array(their_labels) == -1)),
    }


def warm_bertopic(vectors: Vectors, folder: Path) -> float:
    """BERTopic's first fit in a process compiles numba code; done once, apart, and reported."""
    from bertopic import BERTopic

    _, rows = grown_texts(600, folder)
    matrix = np.vstack([vectors.parent(r["id"]) for r in rows])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _timed(lambda: BERTopic().fit_transform([r["text"] for r in rows], matrix))[1]


# 3. Scale ---------------------------------------------------------------------------------------


def scale_one(n: int, folder: Path, *, real_upto: int) -> dict:
    """One corpus size, in its own process so its peak RSS is its own."""
    from pipelines.analysis.build import run_build
    from pipelines.embed.search import Index

    path, _ = grown_texts(n, folder)
    db = folder / f"scale-{n}.sqlite"
    conn = store.connect(db)
    out: dict = {"n": n, "real_embeddings": n <= real_upto}
    _, out["ingest_s"] = _timed(lambda: ingest_paths(conn, [path], sources_path=BUNDLED_SOURCES))
    if n > real_upto:
        vectors = Vectors(folder)
        _, out["synthetic_s"] = _timed(lambda: vectors.for_store(conn))
    first, out["build_s"] = _timed(lambda: run_build(conn, model=BUNDLED))
    out["embedded"] = first.embedded
    out["themes"] = first.summary.get("themes")
    timings = json.loads(store.latest_run(conn)["timings"])
    out["analysis_s"] = timings["total"]
    out["timings"] = timings
    out["rss_after_build_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    again, out["rebuild_s"] = _timed(lambda: run_build(conn, model=BUNDLED))
    out["rebuild_reused"] = again.reused and again.embedded == 0

    index = Index.load(conn, BUNDLED)
    embedder = get_embedder(BUNDLED)
    query_vectors = embedder.encode(QUERIES)
    bare, full = [], []
    for _ in range(5):
        for q, vector in zip(QUERIES, query_vectors, strict=True):
            bare.append(_timed(lambda v=vector: index.search(v, k=10))[1])
            full.append(_timed(lambda q=q: index.search(embedder.encode([q])[0], k=10))[1])
    out["search_p50_ms"], out["search_p95_ms"] = pct(bare, 0.5) * 1e3, pct(bare, 0.95) * 1e3
    out["search_q_p50_ms"], out["search_q_p95_ms"] = pct(full, 0.5) * 1e3, pct(full, 0.95) * 1e3

    if n == 10000:
        # Add 100 new excerpts (real text variants) and build: exactly 100 are embedded, with the
        # real model, and they are placed into the existing themes.
        extra = folder / "extra-100.csv"
        with extra.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "text", "field"])
            frame = store.excerpts(conn).head(100)
            for row in frame.itertuples():
                words = row.text.split()
                writer.writerow(
                    [f"new-{row.excerpt_id}", " ".join(words[1:] + ["(new)"]), row.field]
                )
        ingest_paths(conn, [extra])
        added, out["add100_s"] = _timed(lambda: run_build(conn, model=BUNDLED))
        out["add100_embedded"] = added.embedded
        out["add100_placed"] = added.summary.get("placed into existing themes")
        out["add100_far"] = added.summary.get("far from every theme")
        out["add100_rebuild_flag"] = added.summary.get("full rebuild would change the themes")
    conn.close()
    out["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    code = (
        "import time; t=time.perf_counter();"
        "from pipelines import store; from pipelines.embed.search import Index;"
        "from pipelines.embed.embedders import get_embedder;"
        f"c=store.connect({str(db)!r}, readonly=True); r=store.latest_run(c);"
        "store.run_result(c, r['id'], 'themes'); store.run_result(c, r['id'], 'layout');"
        "i=Index.load(c, r['model_id']); e=get_embedder(r['model_id']);"
        "i.search(e.encode(['hope'])[0]); print(time.perf_counter()-t)"
    )
    starts = []
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
        )
        starts.append(float(done.stdout.strip().splitlines()[-1]))
    out["cold_start_s"] = statistics.median(starts)
    return out


def bench_scale(sizes: list[int], folder: Path, *, real_upto: int) -> list[dict]:
    rows = []
    for n in sizes:
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--scale-one",
                str(n),
                "--folder",
                str(folder),
                "--real-upto",
                str(real_upto),
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            sys.stderr.write(done.stderr[-4000:])
            raise SystemExit(f"scale run at {n} failed")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"scale {n}: {rows[-1]}", file=sys.stderr)
    return rows


# Report -----------------------------------------------------------------------------------------


def mark(ok: bool) -> str:
    return "met" if ok else "**not met**"


def report(embedding: dict | None, bertopic: list[dict], scale: list[dict], meta: dict) -> str:
    lines = [
        f"Machine: {meta['machine']}. Run took {meta['minutes']:.1f} min.",
        "",
    ]
    if embedding:
        e = embedding
        lines += [
            f"**Embedding** ({e['n']:,} grown excerpts, mean {e['words_mean']:.0f} words; "
            f"{e['rounds']} alternating slices; pipeline backend `{e['backend']}`):",
            "",
            "| measure | pipeline | `SentenceTransformer.encode` fp32 (same run) | ratio | target |",
            "| --- | --- | --- | --- | --- |",
            f"| excerpts per second | {e['ours_per_s']:.1f} | {e['plain_per_s']:.1f} | "
            f"**{e['ratio_median']:.2f}×** (median of slices {e['ratios']}) | ≥ 2.0× "
            f"({mark(e['ratio_median'] >= 2.0)}) |",
            f"| smallest cosine with fp32 | {e['min_cosine']:.6f} | 1 | | ≥ 0.999 "
            f"({mark(e['min_cosine'] >= 0.999)}) |",
            "",
        ]
    if bertopic:
        lines += [
            "**Analysis vs BERTopic** (same texts and precomputed vectors, synthetic for grown "
            "excerpts; ours = everything `build` does after embedding; BERTopic = "
            f"`BERTopic().fit_transform(docs, embeddings=...)`, defaults; first BERTopic fit in "
            f"the process, {meta.get('bertopic_warm_s', 0):.1f} s of numba compilation, excluded):",
            "",
            "| excerpts | ours | BERTopic | ratio (target ≤ 0.5) | NMI ours | NMI BERTopic | "
            "themes / topics (outliers) |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for b in bertopic:
            lines.append(
                f"| {b['n']:,} (median of {b['repeats']}) | {b['ours_s']:.1f} s | "
                f"{b['bertopic_s']:.1f} s | **{b['ratio']:.2f}** ({mark(b['ratio'] <= 0.5)}) | "
                f"{b['nmi_ours']:.3f} | {b['nmi_bertopic']:.3f} "
                f"({mark(b['nmi_ours'] >= b['nmi_bertopic'])}) | {b['themes']} / {b['topics']} "
                f"({b['outliers']:.0%}) |"
            )
        lines += [
            "",
            f"NMI is over the {bertopic[0]['labelled']:,}+ excerpts whose parent has a hand "
            "label (benchmarks/devset), each inheriting it.",
            "",
        ]
    if scale:
        lines += [
            "**Scale** (each size in its own process; build = embed what is missing + analysis; "
            "peak RSS of that process):",
            "",
            "| excerpts | embeddings | build | analysis | unchanged rebuild (≤ 10%) | peak RSS "
            "| search p50 / p95 (no query embedding) | with query embedding p50 / p95 | cold start |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for s in scale:
            lines.append(
                f"| {s['n']:,} | {'real' if s['real_embeddings'] else 'synthetic'} "
                f"({s['embedded']:,} embedded) | {s['build_s']:.1f} s | {s['analysis_s']:.1f} s "
                f"| {s['rebuild_s']:.2f} s ({s['rebuild_s'] / s['build_s']:.1%}) | "
                f"{s['peak_rss_gib']:.2f} GiB | {s['search_p50_ms']:.1f} / "
                f"{s['search_p95_ms']:.1f} ms | {s['search_q_p50_ms']:.1f} / "
                f"{s['search_q_p95_ms']:.1f} ms | {s['cold_start_s']:.1f} s |"
            )
        biggest = scale[-1]
        ten = next((s for s in scale if "add100_embedded" in s), None)
        lines += [
            "",
            f"Targets at {biggest['n']:,}: analysis ≤ 5 min: {biggest['analysis_s']:.0f} s "
            f"({mark(biggest['analysis_s'] <= 300)}); peak ≤ 4 GiB: "
            f"{biggest['peak_rss_gib']:.2f} GiB ({mark(biggest['peak_rss_gib'] <= 4)}); search "
            f"p95 ≤ 50 ms: {biggest['search_p95_ms']:.1f} ms "
            f"({mark(biggest['search_p95_ms'] <= 50)}); with the query embedding ≤ 100 ms: "
            f"{biggest['search_q_p95_ms']:.1f} ms ({mark(biggest['search_q_p95_ms'] <= 100)}). "
            "Unchanged rebuild ≤ 10% of the first: "
            + mark(all(s["rebuild_s"] <= 0.1 * s["build_s"] for s in scale))
            + ".",
        ]
        if ten:
            lines.append(
                f"Adding 100 excerpts to 10,000: {ten['add100_embedded']} embedded with the real "
                f"model ({mark(ten['add100_embedded'] == 100)}), {ten['add100_placed']} placed into "
                f"the existing themes ({ten['add100_far']} far from every theme; full rebuild "
                f"would change the themes: {ten['add100_rebuild_flag']}), in "
                f"{ten['add100_s']:.1f} s against {ten['build_s']:.1f} s for the first build."
            )
        lines.append(
            "Cold start: a fresh process importing the engine, opening the store, reading the "
            "current run's themes and map, loading the search index and the model, and answering "
            "one query (what the app does before its first search; Streamlit's own start is in "
            "the app benchmark)."
        )
        lines.append("")
        timing_rows = [
            f"{s['n']:,}: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in s["timings"].items() if k != "total")
            for s in scale
        ]
        lines += ["Analysis steps: " + "; ".join(timing_rows) + "."]
    return "\n".join(lines) + "\n"


RAY_START, RAY_END = "<!-- ray engine -->", "<!-- /ray engine -->"


def ray_section(n: int, folder: Path) -> str:
    from benchmarks import perf_ray

    grown, _ = grown_texts(n, folder)
    result = perf_ray.bench_ray(n, folder, grown)
    print(f"ray: {json.dumps(result, default=str)}", file=sys.stderr)
    return "\n".join([RAY_START, *perf_ray.report(result), RAY_END]) + "\n"


def with_ray_section(previous: str, section: str) -> str:
    """`previous` (perf.md) with its Ray engine section replaced by `section`, or appended."""
    if RAY_START in previous and RAY_END in previous:
        head, _, rest = previous.partition(RAY_START)
        return head + section.strip("\n") + rest.partition(RAY_END)[2]
    return previous.rstrip("\n") + "\n\n" + section


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embed-n", type=int, default=5000)
    parser.add_argument("--embed-rounds", type=int, default=5)
    parser.add_argument("--bertopic-sizes", default="1000,10000")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--real-upto", type=int, default=1000)
    parser.add_argument("--out", default=str(RESULTS / "perf.md"))
    parser.add_argument("--scale-one", type=int)
    parser.add_argument("--folder")
    parser.add_argument("--ray-n", type=int, default=10000, help="0 skips the Ray section")
    parser.add_argument("--ray-only", action="store_true")
    args = parser.parse_args()
    if args.ray_only:
        out = Path(args.out)
        section = ray_section(args.ray_n, Path(tempfile.mkdtemp(prefix="crosswalk-perf-ray-")))
        previous = out.read_text(encoding="utf-8") if out.exists() else ""
        out.write_text(with_ray_section(previous, section), encoding="utf-8")
        print(section)
        return 0
    if args.scale_one:
        print(json.dumps(scale_one(args.scale_one, Path(args.folder), real_upto=args.real_upto)))
        return 0

    started = time.perf_counter()
    meta = {"machine": machine()}
    folder = Path(tempfile.mkdtemp(prefix="crosswalk-perf-"))
    embedding = bench_embedding(args.embed_n, args.embed_rounds, folder) if args.embed_n else None
    print(f"embedding: {embedding}", file=sys.stderr)
    bertopic = []
    sizes = [int(s) for s in args.bertopic_sizes.split(",") if s]
    if sizes:
        vectors = Vectors(folder)
        meta["bertopic_warm_s"] = warm_bertopic(vectors, folder)
        for n in sizes:
            bertopic.append(bench_bertopic(n, vectors, folder, repeats=3 if n <= 2000 else 1))
            print(f"bertopic {n}: {bertopic[-1]}", file=sys.stderr)
    scale = bench_scale(
        [int(s) for s in args.sizes.split(",") if s], folder, real_upto=args.real_upto
    )
    ray_text = ray_section(args.ray_n, folder) if args.ray_n else ""
    meta["minutes"] = (time.perf_counter() - started) / 60
    text = report(embedding, bertopic, scale, meta)
    if ray_text:
        text = with_ray_section(text, ray_text)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
