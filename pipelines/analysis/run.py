"""The analysis run: a short list of named steps, each a function with typed inputs and outputs.

themes (fine, then broad) -> the definitions lenses -> concept tags -> theme names -> field
comparisons -> the concept graph -> the 2-D map, saved by `store` as one run in one transaction.
Every result is addressable by run id; the latest complete run is current. A build whose corpus,
frameworks and parameters match the current run reuses it instead of recomputing.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines import __version__, store
from pipelines.analysis.clusterers import check_names, reduce_by_name
from pipelines.analysis.compare import field_similarity, log_odds, term_contexts
from pipelines.analysis.concepts import Framework, load_frameworks
from pipelines.analysis.contract import (
    ClusteringSummary,
    Incremental,
    Layout,
    Lens,
    RunResults,
    Theme,
    ThemeIdentity,
    load_result,
)
from pipelines.analysis.graph import concept_graph, graph_layout
from pipelines.analysis.incremental import Placement, plan
from pipelines.analysis.layout import place_by_neighbours
from pipelines.analysis.naming import banned_words, name_families, name_themes

# `tag_by_framework_group` and `theme_analysis` are part of this module's public face.
from pipelines.analysis.tagging import (
    ConceptTags,
    tag_by_framework_group,  # noqa: F401, E402
    tag_concepts,
    theme_concepts,
)
from pipelines.analysis.themes import author_surnames, theme_space
from pipelines.analysis.theming import broad_level, carry_keys, lens, theme_analysis
from pipelines.embed.embedders import embed_cached

METHOD = "field-centred-ward+lsa-silhouette/ctfidf/binomial-bh/z-calibrated-lexical-tags/broad-ward-on-centres/phrase-names/v5"
COMPARISON_TERMS = ("recovery", "desistance", "abstinence", "identity", "community", "housing")
DEFINED_WORDS = ("recovery", "recover", "desistance", "desist")
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


@dataclass
class Corpus:
    """The excerpts a run analyses, in store order, with their embeddings."""

    frame: pd.DataFrame
    ids: list[int]
    texts: list[str]
    fields: list[str]
    field_order: list[str]
    field_labels: dict[str, str]
    vectors: np.ndarray  # raw embeddings, unit length
    surnames: frozenset[str]  # cited authors' surnames: never theme words


@dataclass
class Themes:
    """Both theme levels of a run, keyed; representatives are excerpt ids."""

    fine: list[Theme]
    broad: list[Theme]
    labels: np.ndarray  # fine theme index per excerpt
    broad_labels: np.ndarray
    vectors: np.ndarray  # field-centred
    identity: ThemeIdentity
    silhouette: dict[int, float]
    composition: pd.DataFrame

    def key_of(self) -> list[str]:
        return [self.fine[t].key for t in self.labels]

    def broad_key_of(self) -> list[str]:
        return [self.broad[t].key for t in self.broad_labels]


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
) -> RunOutcome:
    """Run the analysis and persist it, or reuse the current run when nothing changed.

    When only a few excerpts were added (the rule in `incremental`), they are placed into the
    current run's themes instead of re-clustering; `full=True` always re-clusters (and recomputes
    an unchanged corpus whose current run was incremental)."""
    check_names(clusterer=clusterer, reducer=reducer)
    clock = _Clock(progress)
    frameworks = frameworks if frameworks is not None else load_frameworks([])
    params = run_params(embedder, frameworks, seed=seed, clusterer=clusterer, reducer=reducer)
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
    tags = tag_concepts(
        corpus.texts,
        themes.vectors,
        corpus.fields,
        corpus.field_order,
        frameworks,
        embedder=embedder,
        encode=lambda phrases: embed_cached(conn, embedder, phrases),
    )
    for level, labels in ((themes.fine, themes.labels), (themes.broad, themes.broad_labels)):
        for theme in level:
            theme.concepts = theme_concepts(tags, np.flatnonzero(labels == theme.index))
    name_themes(
        themes.broad + themes.fine,
        [
            themes.broad_labels if t.level == 1 else themes.labels
            for t in themes.broad + themes.fine
        ],
        corpus.texts,
        corpus.vectors,
        tags,
        frameworks,
        encode=lambda phrases: embed_cached(conn, embedder, phrases),
        surnames=corpus.surnames,
    )
    for found in (definitions, defined_words):
        name_families(
            found,
            corpus.ids,
            corpus.texts,
            corpus.vectors,
            frameworks,
            encode=lambda phrases: embed_cached(conn, embedder, phrases),
            surnames=corpus.surnames,
        )
    clock("concepts")
    comparisons = compare_fields(corpus, banned_words(corpus.texts, corpus.surnames, frameworks))
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
    embedder, frameworks: list[Framework], *, seed: int, clusterer: str, reducer: str
) -> dict:
    """The parameters a run is reproducible from, with their hash (what `reusable` compares)."""
    params = {
        "seed": seed,
        "model_id": embedder.model_id,
        "frameworks": _frameworks_hash(frameworks),
        "software_version": __version__,
        "method": METHOD,
    }
    if (clusterer, reducer) != ("ward", "tsne"):
        params["clusterer"], params["reducer"] = clusterer, reducer
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


def load_corpus(conn: sqlite3.Connection, embedder) -> Corpus:
    frame = store.excerpts(conn)
    fields = frame["field"].tolist()
    present = set(fields)
    return Corpus(
        frame=frame,
        ids=frame["excerpt_id"].astype(int).tolist(),
        texts=frame["text"].tolist(),
        fields=fields,
        field_order=[f for f in store.fields(conn)["slug"] if f in present],
        field_labels=store.field_labels(conn),
        vectors=store.load_embeddings(conn, embedder.model_id, frame["text_hash"].tolist()),
        surnames=author_surnames(frame["authors"].tolist()),
    )


def plan_placement(conn, latest, params: dict, corpus: Corpus) -> Placement | None:
    return plan(
        conn,
        latest,
        params_hash=params["hash"],
        frame=corpus.frame,
        theme_vectors=theme_space(corpus.vectors, corpus.fields),
    )


def find_themes(
    conn: sqlite3.Connection,
    corpus: Corpus,
    latest,
    *,
    seed: int,
    placement: Placement | None,
    clusterer: str,
) -> Themes:
    """Fine themes, the broad level over them, and stable keys matched to the previous run's."""
    fine = theme_analysis(
        corpus.vectors,
        corpus.texts,
        corpus.fields,
        corpus.field_order,
        seed=seed,
        stop_words=corpus.surnames,
        placement=placement,
        clusterer=clusterer,
    )
    parent, broad, broad_labels = broad_level(
        fine,
        corpus.texts,
        corpus.fields,
        corpus.field_order,
        seed=seed,
        stop_words=corpus.surnames,
        with_stability=placement is None,
    )
    previous = load_result(conn, latest["id"], "theme_identity") if latest is not None else None
    ids = np.asarray(corpus.ids)
    fine_members = [set(ids[fine.labels == t].tolist()) for t in range(fine.k)]
    broad_centres = np.vstack(
        [fine.vectors[broad_labels == b].mean(axis=0) for b in range(len(broad))]
    )
    broad_centres /= np.maximum(np.linalg.norm(broad_centres, axis=1, keepdims=True), 1e-12)
    broad_members = [set(ids[broad_labels == b].tolist()) for b in range(len(broad))]
    fine_keys, next_key = carry_keys(previous, fine_members, fine.centres)
    broad_keys, next_broad = carry_keys(previous, broad_members, broad_centres, broad=True)
    for level, keys in ((fine.themes, fine_keys), (broad, broad_keys)):
        for theme in level:
            theme.key = keys[theme.index]
            theme.representatives = {
                f: [corpus.ids[i] for i in reps] for f, reps in theme.representatives.items()
            }
    for theme in fine.themes:
        theme.parent = broad_keys[int(parent[theme.index])]
    identity = ThemeIdentity(
        members={fine_keys[t]: sorted(m) for t, m in enumerate(fine_members)},
        centres={fine_keys[t]: fine.centres[t].round(5).tolist() for t in range(fine.k)},
        next_key=next_key,
        broad_members={broad_keys[b]: sorted(m) for b, m in enumerate(broad_members)},
        broad_centres={
            broad_keys[b]: broad_centres[b].round(5).tolist() for b in range(len(broad))
        },
        next_broad_key=next_broad,
    )
    table = fine.composition.copy()
    table["theme_key"] = table["theme"].map(lambda t: fine_keys[int(t)])
    return Themes(
        fine.themes,
        broad,
        fine.labels,
        broad_labels,
        fine.vectors,
        identity,
        fine.silhouette,
        table,
    )


def read_lenses(corpus: Corpus, *, seed: int) -> tuple[Lens, Lens]:
    """The definitions lens, and the lens over excerpts that use the defined words."""
    kinds = corpus.frame["kind"]
    uses_words = corpus.frame["text"].str.lower().str.contains("|".join(DEFINED_WORDS), regex=True)
    return tuple(
        lens(
            np.flatnonzero(members.to_numpy()),
            corpus.vectors,
            corpus.texts,
            corpus.fields,
            corpus.field_order,
            corpus.ids,
            seed=seed,
            stop_words=corpus.surnames,
        )
        for members in (kinds == "definition", uses_words)
    )


@dataclass
class Comparisons:
    similarity: pd.DataFrame
    vocabulary: pd.DataFrame
    contexts: dict


def compare_fields(corpus: Corpus, banned: frozenset[str]) -> Comparisons:
    """How the fields differ: overall similarity, each field's distinctive words (never a cited
    name or boilerplate, see `naming`) and how each field uses a few shared words."""
    contexts = {
        term: term_contexts(term, corpus.texts, corpus.vectors, corpus.fields, corpus.field_order)
        for term in COMPARISON_TERMS
    }
    for result in contexts.values():
        for info in result["fields"].values():
            info["examples"] = [corpus.ids[i] for i in info["examples"]]
    return Comparisons(
        field_similarity(corpus.vectors, corpus.fields, corpus.field_order),
        _without(log_odds(corpus.texts, corpus.fields, top=40), banned),
        contexts,
    )


def _without(vocabulary: pd.DataFrame, banned: frozenset[str], *, top: int = 15) -> pd.DataFrame:
    if vocabulary.empty:
        return vocabulary
    kept = vocabulary[~vocabulary["term"].isin(banned)]
    return kept.groupby("field", sort=False).head(top).reset_index(drop=True)


def build_graph(frameworks, themes: Themes, tags: ConceptTags, corpus: Corpus, *, seed: int):
    import networkx as nx

    graph = concept_graph(
        frameworks,
        themes=themes.fine,
        concept_field_share=tags.coverage,
        field_labels={f: corpus.field_labels[f] for f in corpus.field_order},
    )
    return nx.node_link_data(graph, edges="links"), graph_layout(graph, seed=seed)


def map_layout(
    conn, latest, corpus: Corpus, placement: Placement | None, *, seed: int, reducer: str
) -> Layout:
    """The 2-D map; a run that placed new excerpts keeps the previous map and places them in it."""
    if placement:
        previous = load_result(conn, latest["id"], "layout")
        old = {i: (x, y) for i, x, y in zip(previous.ids, previous.x, previous.y, strict=True)}
        known = np.array([i in old for i in corpus.ids])
        coords = np.zeros((len(corpus.ids), 2))
        coords[known] = [old[i] for i in np.asarray(corpus.ids)[known]]
        coords[~known] = place_by_neighbours(
            corpus.vectors[~known], corpus.vectors[known], coords[known]
        )
        coords = np.round(coords, 5)
        method = previous.method + "; new excerpts placed by nearest neighbours"
    else:
        coords, method = reduce_by_name(reducer, corpus.vectors, seed=seed)
    return Layout(method, corpus.ids, coords[:, 0].tolist(), coords[:, 1].tolist())


def incremental_record(conn, latest, corpus: Corpus, placement: Placement | None) -> Incremental:
    if not placement:
        return Incremental(full_size=len(corpus.ids))
    previous = load_result(conn, latest["id"], "incremental")
    return Incremental(full_size=previous.full_size if previous else 0, **placement.record())


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
        field_similarity=json.loads(comparisons.similarity.to_json(orient="split")),
        vocabulary=json.loads(comparisons.vocabulary.to_json(orient="records")),
        term_contexts=comparisons.contexts,
        graph=graph[0],
        graph_layout=graph[1],
        layout=layout,
        frameworks=frameworks,
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
