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
from pipelines.analysis.contract import THEME_BROAD, THEME_FINE, Theme, load_result
from pipelines.errors import input_error
from pipelines.exports import register

if TYPE_CHECKING:
    import networkx as nx


def current_run_id(conn: sqlite3.Connection) -> int:
    run = store.latest_run(conn)
    if run is None:
        raise input_error("E027")
    return int(run["id"])


def themes_with_edits(
    conn: sqlite3.Connection, run_id: int | None = None, *, level: int = THEME_FINE
) -> tuple[list[Theme], dict[str, str]]:
    """The run's themes of one level with user renames, notes and merges applied, and the
    excerpt -> theme key map after merges. A merged theme's excerpts count towards the theme it
    was merged into. Edits are keyed by theme key, so they work at both levels."""
    run_id = run_id or current_run_id(conn)
    broad = level == THEME_BROAD
    themes = load_result(conn, run_id, "broad_themes" if broad else "themes") or []
    assignments = (
        store.run_result(conn, run_id, "broad_assignments" if broad else "assignments") or {}
    )
    edits = store.annotations(conn, "theme:")
    keys = {t.key for t in themes}
    merged_into = {}
    for theme in themes:
        target = edits.get((f"theme:{theme.key}", "merged_into"))
        if target and target in keys and target != theme.key:
            merged_into[theme.key] = target

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
        if theme.key in merged_into:
            continue
        theme.machine_label = theme.label
        theme.label = edits.get((f"theme:{theme.key}", "label")) or theme.label
        theme.note = edits.get((f"theme:{theme.key}", "note")) or ""
        theme.merged_from = sorted(k for k in merged_into if final(k) == theme.key)
        theme.size = sizes.get(theme.key, 0)
        out.append(theme)
    return out, mapped


def effective_themes(
    conn: sqlite3.Connection, run_id: int | None = None, *, level: int = THEME_FINE
) -> tuple[list[dict], dict[str, str]]:
    """`themes_with_edits` as JSON rows (the stored form plus `machine_label`, `note` and
    `merged_from`), for the pages that still read rows."""
    themes, mapped = themes_with_edits(conn, run_id, level=level)
    rows = []
    for theme in themes:
        row = theme.to_json()
        row.update(
            machine_label=theme.machine_label, note=theme.note, merged_from=theme.merged_from
        )
        rows.append(row)
    return rows, mapped


def rename_theme(conn: sqlite3.Connection, theme_key: str, label: str | None) -> None:
    store.set_annotation(conn, f"theme:{theme_key}", "label", (label or "").strip() or None)


def annotate_theme(conn: sqlite3.Connection, theme_key: str, note: str | None) -> None:
    store.set_annotation(conn, f"theme:{theme_key}", "note", (note or "").strip() or None)


def merge_themes(conn: sqlite3.Connection, source_key: str, target_key: str | None) -> None:
    store.set_annotation(conn, f"theme:{source_key}", "merged_into", target_key)


def _flag(value: bool) -> str:
    return "true" if value else "false"


@register("themes")
def themes_table(conn: sqlite3.Connection) -> pd.DataFrame:
    """Broad themes (level 1) then fine themes (level 2), with the user's edits."""
    run_id = current_run_id(conn)
    rows = []
    for level in (THEME_BROAD, THEME_FINE):
        for t in themes_with_edits(conn, run_id, level=level)[0]:
            rows.append(
                {
                    "theme_id": t.key,
                    "theme_label": t.label,
                    "machine_label": t.machine_label,
                    "level": t.level,
                    "parent_id": t.parent or "",
                    "size": t.size,
                    "verdict": t.verdict,
                    "verdict_field": t.verdict_field or "",
                    "verdict_reason": t.verdict_reason,
                    "stability": t.stability,
                    "fragile": _flag(t.fragile),
                    "key_terms": "; ".join(t.key_terms),
                    "concepts": "; ".join(f"{k} ({s:.0%})" for k, s in t.concepts),
                    "merged_from": "; ".join(t.merged_from),
                    "note": t.note,
                }
            )
    return pd.DataFrame(rows)


@register("assignments")
def assignments_table(conn: sqlite3.Connection) -> pd.DataFrame:
    run_id = current_run_id(conn)
    themes, mapped = themes_with_edits(conn, run_id)
    broad, broad_mapped = themes_with_edits(conn, run_id, level=THEME_BROAD)
    labels = {t.key: t.label for t in themes}
    broad_labels = {t.key: t.label for t in broad}
    tags = load_result(conn, run_id, "tags") or {}
    frame = store.excerpts(conn)
    ids = [str(i) for i in frame["excerpt_id"]]
    return pd.DataFrame(
        {
            "excerpt_id": frame["excerpt_id"],
            "external_id": frame["external_id"],
            "field": frame["field"],
            "theme_id": [mapped.get(i, "") for i in ids],
            "theme_label": [labels.get(mapped.get(i, ""), "") for i in ids],
            "concepts": [";".join(t.concept for t in tags.get(i, [])) for i in ids],
            "broad_theme_id": [broad_mapped.get(i, "") for i in ids],
            "broad_theme_label": [broad_labels.get(broad_mapped.get(i, ""), "") for i in ids],
        }
    )


@register("concepts")
def concepts_table(conn: sqlite3.Connection) -> pd.DataFrame:
    run_id = current_run_id(conn)
    tags = load_result(conn, run_id, "tags") or {}
    frame = store.excerpts(conn).set_index("excerpt_id")
    columns = [
        "excerpt_id",
        "external_id",
        "field",
        "concept",
        "rank",
        "score",
        "similarity",
        "evidence",
    ]
    rows = []
    for excerpt_id, items in tags.items():
        row = frame.loc[int(excerpt_id)]
        for rank, tag in enumerate(items, start=1):
            rows.append(
                [
                    int(excerpt_id),
                    row["external_id"],
                    row["field"],
                    tag.concept,
                    rank,
                    tag.score,
                    tag.similarity,
                    tag.evidence,
                ]
            )
    return pd.DataFrame(rows, columns=columns)


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
        "coverage_counts",
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
    labels = {
        t.key: t.label
        for level in (THEME_FINE, THEME_BROAD)
        for t in themes_with_edits(conn, run_id, level=level)[0]
    }
    for node, attrs in g.nodes(data=True):
        if node.startswith("theme:") and node[6:] in labels:
            attrs["label"] = labels[node[6:]]
        for key, value in list(attrs.items()):
            if value is None:
                attrs[key] = ""
    return g
