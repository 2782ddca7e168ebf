"""The steps of an analysis run (`run.run_analysis` calls them in order), each a function with
typed inputs and outputs: load the corpus, find the themes of both levels, read the definitions
lenses, tag and name, compare the fields, build the concept graph, lay out the map."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines import store
from pipelines.analysis.clusterers import reduce_by_name
from pipelines.analysis.coded import CodedExcerpts
from pipelines.analysis.compare import field_similarity, log_odds, term_contexts
from pipelines.analysis.concepts import Framework
from pipelines.analysis.contract import Incremental, Layout, Lens, Theme, ThemeIdentity, load_result
from pipelines.analysis.graph import concept_graph, graph_layout
from pipelines.analysis.incremental import Placement, plan
from pipelines.analysis.layout import place_by_neighbours
from pipelines.analysis.naming import modifiers, name_families, name_themes
from pipelines.analysis.tagging import (
    ConceptTags,
    calibrate_codebook,
    tag_concepts,
    theme_concepts,
)
from pipelines.analysis.themes import author_surnames, theme_space
from pipelines.analysis.theming import broad_level, carry_keys, lens, theme_analysis
from pipelines.embed.embedders import embed_cached

COMPARISON_TERMS = ("recovery", "desistance", "abstinence", "identity", "community", "housing")
DEFINED_WORDS = ("recovery", "recover", "desistance", "desist")


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
    broad_composition: pd.DataFrame

    def key_of(self) -> list[str]:
        return [self.fine[t].key for t in self.labels]

    def broad_key_of(self) -> list[str]:
        return [self.broad[t].key for t in self.broad_labels]


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
        broad_first=True,
    )
    parent, broad, broad_labels, broad_table = broad_level(
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
    broad_table = broad_table.copy()
    broad_table["theme_key"] = broad_table["theme"].map(lambda b: broad_keys[int(b)])
    return Themes(
        fine.themes,
        broad,
        fine.labels,
        broad_labels,
        fine.vectors,
        identity,
        fine.silhouette,
        table,
        broad_table,
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


def tag_and_name(
    conn: sqlite3.Connection,
    corpus: Corpus,
    themes: Themes,
    lenses: tuple[Lens, Lens],
    frameworks: list[Framework],
    *,
    embedder,
    engine: str = "local",
    banned: frozenset[str] | None = None,
    coded: CodedExcerpts | None = None,
) -> ConceptTags:
    """Tag every excerpt with concepts (on `engine`: local or ray), calibrate the tags of the
    frameworks `coded` codes by hand, then name the themes of both levels and the definition
    families (a concept that leads a theme's name must first be tagged on it)."""

    def encode(phrases: list[str]):
        return embed_cached(conn, embedder, phrases)

    tagger = None
    if (
        engine == "ray"
    ):  # the per-excerpt work of tagging as Ray Data jobs; Ray is imported here only
        from pipelines.embed import ray_engine

        tagger = ray_engine.tag_by_framework_group
    tags = tag_concepts(
        corpus.texts,
        themes.vectors,
        corpus.fields,
        corpus.field_order,
        frameworks,
        embedder=embedder,
        encode=encode,
        tagger=tagger,
        keep_lenses=coded is not None,
    )
    if coded is not None:
        tags = calibrate_codebook(
            tags,
            coded,
            ids=corpus.ids,
            vectors=corpus.vectors,
            fields=corpus.fields,
            field_order=corpus.field_order,
        )
    levels = [(t, themes.broad_labels) for t in themes.broad] + [
        (t, themes.labels) for t in themes.fine
    ]
    for theme, labels in levels:
        theme.concepts = theme_concepts(tags, np.flatnonzero(labels == theme.index))
    phrases_of: dict[int, set[str]] = {}  # each text's phrases, found once for all the names
    no_end = modifiers(corpus.texts)  # words that modify the next: no name ends with one
    name_themes(
        [t for t, _ in levels],
        [labels for _, labels in levels],
        corpus.texts,
        corpus.vectors,
        tags,
        frameworks,
        encode=encode,
        surnames=corpus.surnames,
        banned=banned,
        fields=corpus.fields,
        phrases_of=phrases_of,
        no_end=no_end,
    )
    for found in lenses:
        name_families(
            found,
            corpus.ids,
            corpus.texts,
            corpus.vectors,
            frameworks,
            encode=encode,
            surnames=corpus.surnames,
            banned=banned,
            fields=corpus.fields,
            phrases_of=phrases_of,
            no_end=no_end,
        )
    return tags


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
            info["distinctive_words"] = [w for w in info["distinctive_words"] if w not in banned]
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
