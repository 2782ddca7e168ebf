"""The analysis run: themes, the definitions lens, verdicts, stability, concept tags, comparisons,
the concept graph and the 2-D map, persisted together as one run in one transaction.

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
from pipelines.analysis.compare import (
    composition,
    field_similarity,
    log_odds,
    term_contexts,
    verdicts,
)
from pipelines.analysis.concepts import (
    CONCEPTS_DIR,
    Framework,
    all_concepts,
    concept_prototypes,
    load_frameworks,
    tag_excerpts,
)
from pipelines.analysis.graph import concept_graph, graph_layout
from pipelines.analysis.incremental import Placement, plan
from pipelines.analysis.layout import layout_2d, place_by_neighbours
from pipelines.analysis.themes import (
    author_surnames,
    cluster,
    key_terms,
    match_themes,
    normalise,
    representatives,
    stability,
    theme_features,
    theme_label,
    theme_space,
)
from pipelines.embed.embedders import embed_cached

FRAGILE_BELOW = 0.6  # stability under which a theme is marked fragile
COMPARISON_TERMS = ("recovery", "desistance", "abstinence", "identity", "community", "housing")
DEFINED_WORDS = ("recovery", "recover", "desistance", "desist")


@dataclass
class RunOutcome:
    run_id: int
    reused: bool
    summary: dict


def _params_hash(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def _frameworks_hash(frameworks: list[Framework]) -> str:
    digest = hashlib.sha256()
    for framework in frameworks:
        digest.update(
            Path(framework.path).read_bytes() if framework.path else framework.id.encode()
        )
    return digest.hexdigest()


def carry_theme_keys(
    conn: sqlite3.Connection, latest, main: dict, ids: list[int]
) -> tuple[dict[int, str], int]:
    """Stable keys for the new themes: a theme matched to one of the previous run's (by membership
    and centre) keeps its key, and so the user's edits; the others get fresh keys."""
    new_members = [set(np.asarray(ids)[main["labels"] == t].tolist()) for t in range(main["k"])]
    matched: dict[int, str] = {}
    next_key = 1
    identity = (
        store.run_result(conn, latest["id"], "theme_identity") if latest is not None else None
    )
    if identity:
        old_members = {key: set(members) for key, members in identity["members"].items()}
        old_centres = {k: np.asarray(v, dtype=np.float32) for k, v in identity["centres"].items()}
        matched = match_themes(old_members, old_centres, new_members, main["centres"])
        next_key = identity["next_key"]
    for t in range(main["k"]):
        if t not in matched:
            matched[t] = f"T{next_key}"
            next_key += 1
    return matched, next_key


def tag_by_framework_group(
    texts: list[str],
    vectors: np.ndarray,
    frameworks: list[Framework],
    *,
    embedder,
    encode=None,
) -> list[list[dict]]:
    """Concept tags per excerpt, best first: the bundled frameworks tagged together, and each
    other codebook (`build --concepts`) tagged on its own.

    Calibration and the cap of three tags then hold within a user's codebook, so its tags do not
    depend on which other frameworks happen to be loaded, and its concepts are not crowded out by
    the bundled ones. `vectors` are the field-centred embeddings (`theme_space`)."""
    bundled = [f for f in frameworks if f.path and Path(f.path).parent == CONCEPTS_DIR]
    groups = ([bundled] if bundled else []) + [[f] for f in frameworks if f not in bundled]
    out: list[list[dict]] = [[] for _ in texts]
    for group in groups:
        concepts = all_concepts(group)
        proto_texts, owners = concept_prototypes(concepts)
        proto_vectors = (encode or embedder.encode)(proto_texts)
        tagging = tag_excerpts(texts, vectors, concepts, proto_vectors, owners)
        for row, found in zip(out, tagging.tags, strict=True):
            row.extend(found)
    return [sorted(row, key=lambda tag: -tag["score"]) for row in out]


def lens(
    index: np.ndarray,
    vectors: np.ndarray,
    texts: list[str],
    fields: list[str],
    field_order: list[str],
    ids: list[int],
    *,
    seed: int,
    stop_words: frozenset[str] = frozenset(),
) -> dict:
    """The theme analysis over a subset (a lens): its families, each field's share of each family,
    and exemplars per field."""
    if len(index) < 6:
        return {"families": [], "count": int(len(index))}
    sub = theme_analysis(
        vectors[index],
        [texts[i] for i in index],
        [fields[i] for i in index],
        field_order,
        seed=seed,
        with_stability=False,
        stop_words=stop_words,
    )
    families = []
    field_totals = pd.Series([fields[i] for i in index]).value_counts()
    for theme in sub["themes"]:
        members = index[sub["labels"] == theme["index"]]
        counts = pd.Series([fields[i] for i in members]).value_counts()
        families.append(
            {
                "family": theme["index"] + 1,
                "label": theme["label"],
                "size": theme["size"],
                "key_terms": theme["key_terms"],
                "counts": {f: int(counts.get(f, 0)) for f in field_order},
                "share_of_field": {
                    f: round(float(counts.get(f, 0) / field_totals.get(f, 1)), 4)
                    for f in field_order
                },
                "verdict": theme["verdict"],
                "verdict_field": theme["verdict_field"],
                "verdict_reason": theme["verdict_reason"],
                "exemplars": {
                    f: [ids[index[i]] for i in reps] for f, reps in theme["representatives"].items()
                },
            }
        )
    return {
        "families": families,
        "count": int(len(index)),
        "assignments": {str(ids[i]): int(sub["labels"][j]) + 1 for j, i in enumerate(index)},
    }


def theme_analysis(
    vectors: np.ndarray,
    texts: list[str],
    fields: list[str],
    field_order: list[str],
    *,
    seed: int,
    with_stability: bool = True,
    stop_words: frozenset[str] = frozenset(),
    placement: Placement | None = None,
) -> dict:
    """Cluster, label and describe a set of excerpts (all of them, or one lens).

    Themes are clustered on the embeddings joined with the words (`theme_features`); their centres
    and representatives are taken in the field-centred embedding space alone, whose axes do not
    change from run to run, so a rebuild can match themes by centre. With a `placement`, its
    themes (the previous run's, new excerpts placed) replace the clustering and its carried
    stability the bootstrap."""
    vectors = theme_space(vectors, fields)
    if placement:
        clustering, features = placement.clustering, None
    else:
        features = theme_features(vectors, texts, fields, extra_stop_words=stop_words)
        clustering = cluster(features, seed=seed)
    labels = clustering.labels
    centres = normalise(np.vstack([vectors[labels == t].mean(axis=0) for t in range(clustering.k)]))
    terms = key_terms(texts, labels, extra_stop_words=stop_words)
    if placement:
        scores = placement.stability
    elif with_stability and clustering.k > 1:
        scores = stability(features, labels, k=clustering.k, seed=seed)
    else:
        scores = np.ones(clustering.k)
    table = composition(labels, fields, field_order)
    verdict_list = verdicts(table)
    fields_arr = np.asarray(fields)
    themes = []
    for t in range(clustering.k):
        members = np.flatnonzero(labels == t)
        reps = {}
        for field in field_order:
            in_field = members[fields_arr[members] == field]
            reps[field] = representatives(vectors, in_field, centres[t], count=3)
        verdict = verdict_list[t]
        themes.append(
            {
                "index": t,
                "label": theme_label(terms[t]),
                "size": int(len(members)),
                "key_terms": [term for term, _ in terms[t]],
                "term_weights": [w for _, w in terms[t]],
                "stability": round(float(scores[t]), 3),
                "fragile": bool(scores[t] < FRAGILE_BELOW),
                "verdict": verdict.verdict,
                "verdict_field": verdict.field,
                "verdict_reason": verdict.reason,
                "representatives": reps,
            }
        )
    return {
        "vectors": vectors,
        "labels": labels,
        "centres": centres,
        "k": clustering.k,
        "silhouette": clustering.scores,
        "themes": themes,
        "composition": table,
    }


def run_analysis(
    conn: sqlite3.Connection,
    *,
    embedder,
    frameworks: list[Framework] | None,
    seed: int = 42,
    progress=None,
    force: bool = False,
    full: bool = False,
) -> RunOutcome:
    """Run the analysis and persist it, or reuse the current run when nothing changed.

    When only a few excerpts were added (the rule in `incremental`), they are placed into the
    current run's themes instead of re-clustering; `full=True` always re-clusters (and recomputes
    an unchanged corpus whose current run was incremental)."""
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def step(name: str, done: int, total: int = 9):
        timings[name] = round(time.perf_counter() - started - sum(timings.values()), 3)
        if progress:
            progress(done, total, name)

    frameworks = frameworks if frameworks is not None else load_frameworks([])
    frame = store.excerpts(conn)
    params = {
        "seed": seed,
        "model_id": embedder.model_id,
        "frameworks": _frameworks_hash(frameworks),
        "software_version": __version__,
        "method": "field-centred-ward+lsa-silhouette/ctfidf/binomial-bh/z-calibrated-lexical-tags/v3",
    }
    corpus = store.corpus_hash(conn)
    latest = store.latest_run(conn)
    previous_summary = json.loads(latest["summary"] or "{}") if latest is not None else {}
    if (
        latest is not None
        and not force
        and latest["corpus_hash"] == corpus
        and json.loads(latest["params"]).get("hash") == _params_hash(params)
        and not (full and "placed into existing themes" in previous_summary)
    ):
        return RunOutcome(latest["id"], True, previous_summary)

    vectors = store.load_embeddings(conn, embedder.model_id, frame["text_hash"].tolist())
    texts = frame["text"].tolist()
    fields = frame["field"].tolist()
    labels_by_field = store.field_labels(conn)
    field_order = [f for f in store.fields(conn)["slug"] if f in set(fields)]
    ids = frame["excerpt_id"].astype(int).tolist()
    step("loaded", 1)

    surnames = author_surnames(frame["authors"].tolist())
    placement = (
        None
        if full or force
        else plan(
            conn,
            latest,
            params_hash=_params_hash(params),
            frame=frame,
            theme_vectors=theme_space(vectors, fields),
        )
    )
    main = theme_analysis(
        vectors,
        texts,
        fields,
        field_order,
        seed=seed,
        stop_words=surnames,
        placement=placement,
    )
    step("themes", 2)

    matched, next_key = carry_theme_keys(conn, latest, main, ids)
    for theme in main["themes"]:
        theme["theme_key"] = matched[theme["index"]]
        theme["representatives"] = {
            f: [ids[i] for i in reps] for f, reps in theme["representatives"].items()
        }
    theme_keys = [matched[t] for t in main["labels"]]

    # Evidence-type composition of each theme.
    evidence = frame["evidence_type"].fillna("unspecified").tolist()
    evidence_table = pd.crosstab(
        pd.Series(theme_keys, name="theme_key"), pd.Series(evidence, name="evidence_type")
    )
    step("stability", 3)

    # The definitions lens, and the lens over excerpts that use the defined words.
    lens_members = {
        "definitions": (frame["kind"] == "definition").to_numpy(),
        "defined_words": frame["text"]
        .str.lower()
        .str.contains("|".join(DEFINED_WORDS), regex=True)
        .to_numpy(),
    }
    lenses = {
        name: lens(
            np.flatnonzero(members),
            vectors,
            texts,
            fields,
            field_order,
            ids,
            seed=seed,
            stop_words=surnames,
        )
        for name, members in lens_members.items()
    }
    step("definitions", 4)

    # Concept tags.
    concepts = all_concepts(frameworks)
    excerpt_tags = tag_by_framework_group(
        texts,
        main["vectors"],
        frameworks,
        embedder=embedder,
        encode=lambda phrases: embed_cached(conn, embedder, phrases),
    )
    tags = {str(ids[i]): excerpt_tags[i] for i in range(len(ids))}
    fields_arr = np.asarray(fields)
    coverage: dict[str, dict[str, float]] = {}
    tagged_sets = [{t["concept"] for t in tag_list} for tag_list in excerpt_tags]
    for concept in concepts:
        has = np.array([concept.key in s for s in tagged_sets])
        coverage[concept.key] = {
            f: round(float(has[fields_arr == f].mean()), 4) for f in field_order
        }
    theme_concepts: dict[str, list[tuple[str, float]]] = {}
    labels_arr = main["labels"]
    for theme in main["themes"]:
        members = np.flatnonzero(labels_arr == theme["index"])
        counter: dict[str, int] = {}
        for i in members:
            for key in tagged_sets[i]:
                counter[key] = counter.get(key, 0) + 1
        ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
        theme_concepts[theme["theme_key"]] = [(k, round(v / len(members), 4)) for k, v in ranked]
        theme["concepts"] = theme_concepts[theme["theme_key"]]
    step("concepts", 5)

    # Comparisons.
    similarity = field_similarity(vectors, fields, field_order)
    vocabulary = log_odds(texts, fields)
    contexts = {
        term: term_contexts(term, texts, vectors, fields, field_order) for term in COMPARISON_TERMS
    }
    for result in contexts.values():
        for info in result["fields"].values():
            info["examples"] = [ids[i] for i in info["examples"]]
    step("comparisons", 6)

    graph = concept_graph(
        frameworks,
        themes=main["themes"],
        concept_field_share=coverage,
        theme_concepts=theme_concepts,
        field_labels={f: labels_by_field[f] for f in field_order},
    )
    import networkx as nx

    graph_data = nx.node_link_data(graph, edges="links")
    positions = graph_layout(graph, seed=seed)
    step("graph", 7)

    if placement:
        coords, layout_method = _extend_layout(conn, latest["id"], ids, vectors)
    else:
        coords, layout_method = layout_2d(vectors, seed=seed)
    step("layout", 8)

    table = main["composition"].copy()
    table["theme_key"] = table["theme"].map(lambda t: matched[int(t)])
    summary = {
        "excerpts": len(ids),
        "themes": main["k"],
        "shared": sum(t["verdict"] == "shared" for t in main["themes"]),
        "distinctive": sum(t["verdict"] == "distinctive" for t in main["themes"]),
        "mixed": sum(t["verdict"] == "mixed" for t in main["themes"]),
        "fragile": sum(t["fragile"] for t in main["themes"]),
        "definition families": len(lenses["definitions"]["families"]),
        "concepts tagged per excerpt": round(float(np.mean([len(t) for t in excerpt_tags])), 2),
        "unassigned": 0,
    }
    if placement:
        summary["placed into existing themes"] = placement.new
        summary["far from every theme"] = placement.far
        summary["full rebuild would change the themes"] = placement.rebuild_would_change
    incremental = (
        {**placement.record(), "full_size": previous_full_size(conn, latest)}
        if placement
        else {"full_size": len(ids), "placed_since_full": 0}
    )
    results = {
        "themes": main["themes"],
        "assignments": {str(i): k for i, k in zip(ids, theme_keys, strict=True)},
        "composition": json.loads(table.to_json(orient="records")),
        "evidence_composition": {
            k: {c: int(v) for c, v in row.items()} for k, row in evidence_table.iterrows()
        },
        "clustering": {
            "k": main["k"],
            "silhouette": main["silhouette"],
            "method": "Ward on field-centred embeddings joined with field-centred LSA of the words, k by silhouette",
        },
        "theme_identity": {
            "members": {
                matched[t]: sorted(np.asarray(ids)[main["labels"] == t].tolist())
                for t in range(main["k"])
            },
            "centres": {matched[t]: main["centres"][t].round(5).tolist() for t in range(main["k"])},
            "next_key": next_key,
        },
        "incremental": incremental,
        "excerpt_fields": {
            str(i): [f, k] for i, f, k in zip(ids, fields, frame["kind"].fillna(""), strict=True)
        },
        "definitions": lenses["definitions"],
        "defined_words": lenses["defined_words"],
        "tags": tags,
        "coverage": coverage,
        "field_similarity": json.loads(similarity.to_json(orient="split")),
        "vocabulary": json.loads(vocabulary.to_json(orient="records")),
        "term_contexts": contexts,
        "graph": graph_data,
        "graph_layout": positions,
        "layout": {
            "method": layout_method,
            "ids": ids,
            "x": coords[:, 0].tolist(),
            "y": coords[:, 1].tolist(),
        },
        "frameworks": [
            {
                "id": f.id,
                "label": f.label,
                "field": f.field,
                "kind": f.kind,
                "citation": f.citation,
                "concepts": [
                    {
                        "key": c.key,
                        "label": c.label,
                        "description": c.description,
                        "cues": c.cues,
                        "related": c.related,
                        "distinctive": c.distinctive,
                    }
                    for c in f.concepts
                ],
            }
            for f in frameworks
        ],
    }
    timings["total"] = round(time.perf_counter() - started, 3)
    params["hash"] = _params_hash({k: v for k, v in params.items() if k != "hash"})
    with store.transaction(conn):
        cursor = conn.execute(
            "INSERT INTO runs (created_at, finished_at, status, params, model_id, corpus_hash, seed, software_version, timings, summary) "
            "VALUES (?, ?, 'complete', ?, ?, ?, ?, ?, ?, ?)",
            (
                store.now(),
                store.now(),
                json.dumps(params),
                embedder.model_id,
                corpus,
                seed,
                __version__,
                json.dumps(timings),
                json.dumps(summary),
            ),
        )
        run_id = cursor.lastrowid
        conn.executemany(
            "INSERT INTO run_results (run_id, name, value) VALUES (?, ?, ?)",
            [
                (run_id, name, json.dumps(value, default=_json_default))
                for name, value in results.items()
            ],
        )
    step("saved", 9)
    return RunOutcome(run_id, False, summary)


def previous_full_size(conn: sqlite3.Connection, run) -> int:
    record = store.run_result(conn, run["id"], "incremental") or {}
    return int(record.get("full_size", 0))


def _extend_layout(
    conn: sqlite3.Connection, run_id: int, ids: list[int], vectors: np.ndarray
) -> tuple[np.ndarray, str]:
    """The previous run's map, with each new excerpt placed among its nearest mapped neighbours."""
    previous = store.run_result(conn, run_id, "layout")
    old = {
        int(i): (x, y)
        for i, x, y in zip(previous["ids"], previous["x"], previous["y"], strict=True)
    }
    known = np.array([i in old for i in ids])
    coords = np.zeros((len(ids), 2))
    coords[known] = [old[i] for i in np.asarray(ids)[known]]
    coords[~known] = place_by_neighbours(vectors[~known], vectors[known], coords[known])
    return np.round(coords, 5), previous["method"] + "; new excerpts placed by nearest neighbours"


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(type(value).__name__)
