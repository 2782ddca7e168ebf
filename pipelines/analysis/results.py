"""Reading a run back: the themes with the user's edits applied, and the analysis exporters.

User edits live in the `annotations` table keyed by the stable theme key (`theme:T7`), so a
rename, a merge or a note survives every rebuild that matches the theme again.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from typing import TYPE_CHECKING

import pandas as pd

from pipelines import store
from pipelines.errors import input_error
from pipelines.exports import register

if TYPE_CHECKING:
    import networkx as nx


def current_run_id(conn: sqlite3.Connection) -> int:
    run = store.latest_run(conn)
    if run is None:
        raise input_error("E027")
    return int(run["id"])


def effective_themes(
    conn: sqlite3.Connection, run_id: int | None = None
) -> tuple[list[dict], dict[str, str]]:
    """The run's themes with user renames, notes and merges applied, and the excerpt -> theme key
    map after merges. A merged theme's excerpts count towards the theme it was merged into."""
    run_id = run_id or current_run_id(conn)
    themes = store.run_result(conn, run_id, "themes") or []
    assignments = store.run_result(conn, run_id, "assignments") or {}
    edits = store.annotations(conn, "theme:")
    keys = {t["theme_key"] for t in themes}
    merged_into = {}
    for theme in themes:
        target = edits.get((f"theme:{theme['theme_key']}", "merged_into"))
        if target and target in keys and target != theme["theme_key"]:
            merged_into[theme["theme_key"]] = target

    def final(key: str) -> str:
        seen = set()
        while key in merged_into and key not in seen:
            seen.add(key)
            key = merged_into[key]
        return key

    mapped = {excerpt: final(key) for excerpt, key in assignments.items()}
    sizes = Counter(mapped.values())
    out = []
    for theme in themes:
        key = theme["theme_key"]
        if key in merged_into:
            continue
        shown = dict(theme)
        shown["machine_label"] = theme["label"]
        shown["label"] = edits.get((f"theme:{key}", "label")) or theme["label"]
        shown["note"] = edits.get((f"theme:{key}", "note")) or ""
        shown["merged_from"] = sorted(k for k in merged_into if final(k) == key)
        shown["size"] = sizes.get(key, 0)
        out.append(shown)
    return out, mapped


def rename_theme(conn: sqlite3.Connection, theme_key: str, label: str | None) -> None:
    store.set_annotation(conn, f"theme:{theme_key}", "label", (label or "").strip() or None)


def annotate_theme(conn: sqlite3.Connection, theme_key: str, note: str | None) -> None:
    store.set_annotation(conn, f"theme:{theme_key}", "note", (note or "").strip() or None)


def merge_themes(conn: sqlite3.Connection, source_key: str, target_key: str | None) -> None:
    store.set_annotation(conn, f"theme:{source_key}", "merged_into", target_key)


@register("themes")
def themes_table(conn: sqlite3.Connection) -> pd.DataFrame:
    themes, _ = effective_themes(conn)
    rows = []
    for t in themes:
        rows.append(
            {
                "theme_id": t["theme_key"],
                "theme_label": t["label"],
                "machine_label": t["machine_label"],
                "size": t["size"],
                "verdict": t["verdict"],
                "verdict_field": t["verdict_field"] or "",
                "verdict_reason": t["verdict_reason"],
                "stability": t["stability"],
                "fragile": t["fragile"],
                "key_terms": "; ".join(t["key_terms"]),
                "concepts": "; ".join(f"{k} ({s:.0%})" for k, s in t.get("concepts", [])),
                "merged_from": "; ".join(t["merged_from"]),
                "note": t["note"],
            }
        )
    return pd.DataFrame(rows)


@register("assignments")
def assignments_table(conn: sqlite3.Connection) -> pd.DataFrame:
    run_id = current_run_id(conn)
    themes, mapped = effective_themes(conn, run_id)
    labels = {t["theme_key"]: t["label"] for t in themes}
    tags = store.run_result(conn, run_id, "tags") or {}
    frame = store.excerpts(conn)
    return pd.DataFrame(
        {
            "excerpt_id": frame["excerpt_id"],
            "external_id": frame["external_id"],
            "field": frame["field"],
            "theme_id": [mapped.get(str(i), "") for i in frame["excerpt_id"]],
            "theme_label": [labels.get(mapped.get(str(i), ""), "") for i in frame["excerpt_id"]],
            "concepts": [
                ";".join(t["concept"] for t in tags.get(str(i), [])) for i in frame["excerpt_id"]
            ],
        }
    )


@register("concepts")
def concepts_table(conn: sqlite3.Connection) -> pd.DataFrame:
    run_id = current_run_id(conn)
    tags = store.run_result(conn, run_id, "tags") or {}
    frame = store.excerpts(conn).set_index("excerpt_id")
    rows = []
    for excerpt_id, items in tags.items():
        row = frame.loc[int(excerpt_id)]
        for rank, tag in enumerate(items, start=1):
            rows.append(
                {
                    "excerpt_id": int(excerpt_id),
                    "external_id": row["external_id"],
                    "field": row["field"],
                    "concept": tag["concept"],
                    "rank": rank,
                    "score": tag["score"],
                    "similarity": tag["similarity"],
                    "evidence": tag["evidence"],
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "excerpt_id",
            "external_id",
            "field",
            "concept",
            "rank",
            "score",
            "similarity",
            "evidence",
        ],
    )


@register("comparisons", formats=("json",))
def comparisons(conn: sqlite3.Connection) -> dict:
    run_id = current_run_id(conn)
    names = (
        "composition",
        "evidence_composition",
        "field_similarity",
        "vocabulary",
        "term_contexts",
        "coverage",
    )
    return {name: store.run_result(conn, run_id, name) for name in names}


@register("definitions", formats=("json",))
def definitions(conn: sqlite3.Connection) -> dict:
    run_id = current_run_id(conn)
    return {
        "definitions": store.run_result(conn, run_id, "definitions"),
        "defined_words": store.run_result(conn, run_id, "defined_words"),
    }


@register("graph", formats=("graphml", "json"))
def graph(conn: sqlite3.Connection) -> nx.Graph:
    import networkx as nx  # here, not at the top: the app's first page reads themes, not graphs

    run_id = current_run_id(conn)
    data = store.run_result(conn, run_id, "graph")
    g = nx.node_link_graph(data, edges="links")
    labels = {t["theme_key"]: t["label"] for t in effective_themes(conn, run_id)[0]}
    for node, attrs in g.nodes(data=True):
        if node.startswith("theme:") and node[6:] in labels:
            attrs["label"] = labels[node[6:]]
        for key, value in list(attrs.items()):
            if value is None:
                attrs[key] = ""
    return g
