"""The analysis run: a short list of named steps (`steps`), saved by `store` as one run.

themes (fine, then broad) -> the definitions lenses -> concept tags and theme names -> field
comparisons -> the concept graph -> the 2-D map. Every result is addressable by run id; the latest
complete run is current. A build whose corpus, frameworks and parameters match the current run
reuses it instead of recomputing.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines import __version__, store
from pipelines.analysis.clusterers import check_names
from pipelines.analysis.coded import CodedExcerpts
from pipelines.analysis.concepts import Framework, load_frameworks
from pipelines.analysis.contract import (
    ClusteringSummary,
    Incremental,
    Layout,
    Lens,
    RunResults,
    load_result,
)
from pipelines.analysis.findings import concept_verdicts
from pipelines.analysis.naming import banned_words
from pipelines.analysis.steps import (
    Comparisons,
    Corpus,
    Themes,
    build_graph,
    compare_fields,
    find_themes,
    incremental_record,
    load_corpus,
    map_layout,
    plan_placement,
    read_lenses,
    tag_and_name,
)
from pipelines.analysis.tagging import (
    ConceptTags,
    tag_by_framework_group,  # noqa: F401  (public here too)
)

METHOD = "field-centred-ward+lsa-silhouette/ctfidf/binomial-bh/z-calibrated-lexical-tags/broad-kmeans-on-pcs-silhouette+fine-within/phrase-names/framework-lens-coverage/v9"
STEPS = (
    "loaded",
    "themes",
    "stability",
    "definitions",
    "concepts",
    "comparisons",
    "graph",
    "layout",
    "saved",
)


@dataclass
class RunOutcome:
    run_id: int
    reused: bool
    summary: dict


class _Clock:
    """Times each step and reports progress as `progress(done, total, step)`."""

    def __init__(self, progress):
        self.progress = progress
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}

    def __call__(self, name: str) -> None:
        elapsed = time.perf_counter() - self.started - sum(self.timings.values())
        self.timings[name] = round(elapsed, 3)
        if self.progress:
            self.progress(len(self.timings), len(STEPS), name)


def run_analysis(
    conn: sqlite3.Connection,
    *,
    embedder,
    frameworks: list[Framework] | None,
    seed: int = 42,
    progress=None,
    force: bool = False,
    full: bool = False,
    clusterer: str = "ward",
    reducer: str = "tsne",
    engine: str = "local",
    coded: CodedExcerpts | None = None,
) -> RunOutcome:
    """Run the analysis and persist it, or reuse the current run when nothing changed.

    When only a few excerpts were added (the rule in `incremental`), they are placed into the
    current run's themes instead of re-clustering; `full=True` always re-clusters (and recomputes
    an unchanged corpus whose current run was incremental). `coded` (read by
    `coded.read_coded`) calibrates the tags of the frameworks it codes (`calibration`)."""
    check_names(clusterer=clusterer, reducer=reducer)
    clock = _Clock(progress)
    frameworks = frameworks if frameworks is not None else load_frameworks([])
    params = run_params(
        embedder, frameworks, seed=seed, clusterer=clusterer, reducer=reducer, coded=coded
    )
    latest = store.latest_run(conn)
    corpus_hash = store.corpus_hash(conn)
    if not force and reusable(conn, latest, params, corpus_hash, full=full):
        return RunOutcome(latest["id"], True, json.loads(latest["summary"] or "{}"))

    corpus = load_corpus(conn, embedder)
    clock("loaded")
    placement = None if full or force else plan_placement(conn, latest, params, corpus)
    themes = find_themes(conn, corpus, latest, seed=seed, placement=placement, clusterer=clusterer)
    clock("themes")
    clock("stability")  # measured within the themes step; kept as a step for progress output
    definitions, defined_words = read_lenses(corpus, seed=seed)
    clock("definitions")
    # The words no name, key term or distinctive word may contain, found once for the run.
    banned = banned_words(corpus.texts, corpus.surnames, frameworks)
    tags = tag_and_name(
        conn,
        corpus,
        themes,
        (definitions, defined_words),
        frameworks,
        embedder=embedder,
        engine=engine,
        banned=banned,
        coded=coded,
    )
    clock("concepts")
    comparisons = compare_fields(corpus, banned)
    clock("comparisons")
    graph, positions = build_graph(frameworks, themes, tags, corpus, seed=seed)
    clock("graph")
    layout = map_layout(conn, latest, corpus, placement, seed=seed, reducer=reducer)
    clock("layout")
    results = assemble(
        corpus,
        themes,
        (definitions, defined_words),
        tags,
        comparisons,
        (graph, positions),
        layout,
        frameworks,
        incremental_record(conn, latest, corpus, placement),
    )
    summary = summarise(corpus, themes, definitions, tags, placement)
    clock.timings["total"] = round(time.perf_counter() - clock.started, 3)
    run_id = store.save_run(
        conn,
        params=params,
        model_id=embedder.model_id,
        corpus_hash=corpus_hash,
        seed=seed,
        software_version=__version__,
        timings=clock.timings,
        summary=summary,
        results=results.to_json(),
    )
    clock("saved")
    return RunOutcome(run_id, False, summary)


def run_params(
    embedder,
    frameworks: list[Framework],
    *,
    seed: int,
    clusterer: str,
    reducer: str,
    coded: CodedExcerpts | None = None,
) -> dict:
    """The parameters a run is reproducible from, with their hash (what `reusable` compares). A
    run without hand codes has the parameters (and hash) it had before `--coded` existed."""
    params = {
        "seed": seed,
        "model_id": embedder.model_id,
        "frameworks": _frameworks_hash(frameworks),
        "software_version": __version__,
        "method": METHOD,
    }
    if (clusterer, reducer) != ("ward", "tsne"):
        params["clusterer"], params["reducer"] = clusterer, reducer
    if coded is not None:
        params["coded"] = {"file": coded.path, "excerpts": len(coded.codes), "hash": coded.digest()}
    params["hash"] = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
    return params


def reusable(
    conn: sqlite3.Connection, latest, params: dict, corpus_hash: str, *, full: bool
) -> bool:
    """Whether the current run already answers this build: same corpus and parameters, and (for a
    `full` build) not a run that placed excerpts into older themes."""
    if latest is None or latest["corpus_hash"] != corpus_hash:
        return False
    if json.loads(latest["params"]).get("hash") != params["hash"]:
        return False
    record = load_result(conn, latest["id"], "incremental")
    return not (full and record is not None and record.placed)


def assemble(
    corpus,
    themes: Themes,
    lenses,
    tags: ConceptTags,
    comparisons: Comparisons,
    graph,
    layout: Layout,
    frameworks,
    incremental: Incremental,
) -> RunResults:
    keys, broad_keys = themes.key_of(), themes.broad_key_of()
    evidence = corpus.frame["evidence_type"].fillna("unspecified").tolist()
    evidence_table = pd.crosstab(
        pd.Series(keys, name="theme_key"), pd.Series(evidence, name="evidence_type")
    )
    return RunResults(
        themes=themes.fine,
        broad_themes=themes.broad,
        assignments={str(i): k for i, k in zip(corpus.ids, keys, strict=True)},
        broad_assignments={str(i): k for i, k in zip(corpus.ids, broad_keys, strict=True)},
        composition=json.loads(themes.composition.to_json(orient="records")),
        broad_composition=json.loads(themes.broad_composition.to_json(orient="records")),
        evidence_composition={
            k: {c: int(v) for c, v in row.items()} for k, row in evidence_table.iterrows()
        },
        clustering=ClusteringSummary(
            k=len(themes.fine),
            silhouette=themes.silhouette,
            method="Ward on field-centred embeddings joined with field-centred LSA of the words, k by silhouette",
            broad_k=len(themes.broad),
            broad_method="Ward on the fine themes' centres (weighted by size), k in 4-10 by silhouette",
        ),
        theme_identity=themes.identity,
        incremental=incremental,
        excerpt_fields={
            str(i): [f, k]
            for i, f, k in zip(
                corpus.ids, corpus.fields, corpus.frame["kind"].fillna(""), strict=True
            )
        },
        definitions=lenses[0],
        defined_words=lenses[1],
        tags={str(i): tags.tags[n] for n, i in enumerate(corpus.ids)},
        coverage=tags.coverage,
        coverage_counts=tags.coverage_counts,
        concept_verdicts=concept_verdicts(
            tags.coverage_counts, Counter(corpus.fields), corpus.field_order
        ),
        field_similarity=json.loads(comparisons.similarity.to_json(orient="split")),
        vocabulary=json.loads(comparisons.vocabulary.to_json(orient="records")),
        term_contexts=comparisons.contexts,
        graph=graph[0],
        graph_layout=graph[1],
        layout=layout,
        frameworks=frameworks,
        calibration=tags.calibration,
    )


def summarise(
    corpus: Corpus, themes: Themes, definitions: Lens, tags: ConceptTags, placement
) -> dict:
    fine = themes.fine
    summary = {
        "excerpts": len(corpus.ids),
        "themes": len(fine),
        "broad themes": len(themes.broad),
        "shared": sum(t.verdict == "shared" for t in fine),
        "distinctive": sum(t.verdict == "distinctive" for t in fine),
        "mixed": sum(t.verdict == "mixed" for t in fine),
        "fragile": sum(t.fragile for t in fine),
        "fragile broad themes": sum(t.fragile for t in themes.broad),
        "definition families": len(definitions.families),
        "concepts tagged per excerpt": round(float(np.mean([len(t) for t in tags.tags] or [0])), 2),
        "unassigned": 0,
    }
    if tags.calibration is not None:
        summary["concepts calibrated on hand codes"] = (
            f"{tags.calibration.calibrated} of {len(tags.calibration.concepts)} "
            f"({tags.calibration.coded} excerpts coded)"
        )
    if placement:
        summary["placed into existing themes"] = placement.new
        summary["far from every theme"] = placement.far
        summary["full rebuild would change the themes"] = placement.rebuild_would_change
    return summary


def _frameworks_hash(frameworks: list[Framework]) -> str:
    digest = hashlib.sha256()
    for framework in frameworks:
        digest.update(
            Path(framework.path).read_bytes() if framework.path else framework.id.encode()
        )
    return digest.hexdigest()
