"""Tables the app shows, shaped from the store and the current run (pure functions, no widgets)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.analysis import focus
from pipelines.analysis.concepts import Framework, concepts_by_key, owners

FIELD_MIN_FOR_FINDING = 3


def corpus_counts(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Counts of excerpts by field, by evidence type and field, and by year and field."""
    by_field = frame.groupby("field").size().rename("count").reset_index()
    by_evidence = (
        frame.assign(evidence_type=frame["evidence_type"].fillna("unspecified"))
        .groupby(["evidence_type", "field"])
        .size()
        .rename("count")
        .reset_index()
    )
    years = frame.dropna(subset=["year"]).assign(decade=lambda f: (f["year"].astype(int) // 5) * 5)
    by_year = (
        years.groupby(["decade", "field"])
        .size()
        .rename("count")
        .reset_index()
        .rename(columns={"decade": "years from"})
    )
    return {"field": by_field, "evidence": by_evidence, "year": by_year}


def family_shares(lens: dict) -> pd.DataFrame:
    """One row per (definition family, field): the share of the field's definitions in the family."""
    rows = []
    for family in lens.get("families", []):
        name = f"{family['family']}. {family['label']}"
        for field, share in family["share_of_field"].items():
            rows.append(
                {"family": name, "field": field, "share": share, "count": family["counts"][field]}
            )
    return pd.DataFrame(rows, columns=["family", "field", "share", "count"])


def headline_findings(themes: list[dict]) -> dict[str, list[dict]]:
    """Shared themes, and the themes distinctive to each field, largest first, with their numbers."""
    shared = [t for t in themes if t["verdict"] == "shared"]
    distinctive: dict[str, list[dict]] = {}
    for theme in themes:
        if theme["verdict"] == "distinctive":
            distinctive.setdefault(theme["verdict_field"], []).append(theme)
    return {
        "shared": sorted(shared, key=lambda t: -t["size"]),
        "distinctive": {f: sorted(v, key=lambda t: -t["size"]) for f, v in distinctive.items()},
    }


def theme_composition(composition: list[dict], theme_key: str) -> pd.DataFrame:
    rows = [r for r in composition if r["theme_key"] == theme_key]
    return (
        pd.DataFrame(rows)[["field", "count", "share", "expected", "lift", "q_value"]]
        if rows
        else pd.DataFrame()
    )


def side_by_side(
    scores: np.ndarray, frame: pd.DataFrame, fields: list[str], *, k: int = 4
) -> dict[str, pd.DataFrame]:
    """The best excerpts of each field for a focus (scores per excerpt), definitions first among
    the field's most relevant 2k, so a definition leads only when it is on topic."""
    out = {}
    for field in fields:
        members = np.flatnonzero(frame["field"].to_numpy() == field)
        top = members[np.argsort(-scores[members], kind="stable")[: 2 * k]]
        chosen = frame.iloc[top].assign(relevance=np.round(scores[top], 3))
        chosen = chosen.assign(_order=(chosen["kind"] != "definition")).sort_values(
            ["_order", "relevance"], ascending=[True, False], kind="stable"
        )
        out[field] = chosen.drop(columns="_order").head(k)
    return out


def concept_scores(
    tags: dict[str, list[dict]], frame: pd.DataFrame, concept_key: str
) -> np.ndarray:
    """Per excerpt (frame order): the calibrated score of `concept_key` where tagged, else -inf
    (the tag half of a concept focus, `pipelines.analysis.focus`)."""
    return focus.tag_scores(tags, frame["excerpt_id"], concept_key)


def map_points(
    frame: pd.DataFrame,
    layout: dict,
    themes: list[dict],
    assignments: dict[str, str],
    tags: dict[str, list[dict]],
    field_labels: dict[str, str],
) -> pd.DataFrame:
    """One row per excerpt placed on the stored 2-D map, with what the map can be coloured by:
    field name, theme, evidence type and top concept."""
    points = frame.merge(
        pd.DataFrame({"excerpt_id": layout["ids"], "x": layout["x"], "y": layout["y"]}),
        on="excerpt_id",
    )
    names = {t["theme_key"]: f"{t['theme_key']}: {t['label']}" for t in themes}
    ids = [str(i) for i in points["excerpt_id"]]
    return points.assign(
        theme=[names.get(assignments.get(i, ""), "") for i in ids],
        **{
            "field name": points["field"].map(lambda f: field_labels.get(f, f)),
            "evidence": points["evidence_type"].fillna("unspecified"),
            "top concept": [(tags.get(i) or [{"concept": "(none)"}])[0]["concept"] for i in ids],
        },
    )


def filter_points(
    points: pd.DataFrame, *, fields: tuple | list = (), evidence_types: tuple | list = ()
) -> pd.DataFrame:
    """The rows of `points` in any of `fields` and any of `evidence_types` (empty: all)."""
    keep = np.ones(len(points), dtype=bool)
    if fields:
        keep &= points["field"].isin(fields).to_numpy()
    if evidence_types:
        keep &= points["evidence_type"].isin(evidence_types).to_numpy()
    return points if keep.all() else points[keep]


def even_sample(points: pd.DataFrame, limit: int) -> pd.DataFrame:
    """At most `limit` rows, chosen by a fixed hash of the excerpt id: the same excerpts every
    time, spread over the whole corpus, and an excerpt drawn stays drawn when a filter narrows
    the rows. Rows keep their order."""
    if len(points) <= limit:
        return points
    keys = (points["excerpt_id"].to_numpy(dtype=np.uint64) * np.uint64(2654435761)) % np.uint64(
        2**32
    )
    chosen = np.sort(np.argsort(keys, kind="stable")[:limit])
    return points.iloc[chosen]


def theme_scores(
    assignments: dict[str, str], frame: pd.DataFrame, theme_key: str, vectors: np.ndarray
) -> np.ndarray:
    """Members of a theme scored by closeness to the theme's centre; non-members -inf."""
    members = np.array([assignments.get(str(i)) == theme_key for i in frame["excerpt_id"]])
    scores = np.full(len(frame), -np.inf)
    if members.any():
        centre = vectors[members].mean(axis=0)
        scores[members] = vectors[members] @ (centre / max(np.linalg.norm(centre), 1e-12))
    return scores


def coverage_matrix(
    coverage: dict[str, dict[str, float]],
    concept_labels: dict[str, str],
    *,
    framework: str | None = None,
) -> pd.DataFrame:
    """Concept x field: the share of each field's excerpts tagged with the concept. Rows are
    named by the concepts' labels, with their keys only where two labels are the same (across
    frameworks, without `framework`)."""
    keys = [k for k in coverage if framework is None or k.split("/")[0] == framework]
    matrix = pd.DataFrame({k: coverage[k] for k in keys}).T
    names = [concept_labels.get(k, k) for k in keys]
    twice = {name for name in names if names.count(name) > 1}
    matrix.index = [
        f"{name} ({k})" if name in twice else name for name, k in zip(names, keys, strict=True)
    ]
    return matrix


def coverage_table(
    cells: pd.DataFrame, concept_labels: dict[str, str], names: dict[str, str]
) -> pd.DataFrame:
    """The coverage cells as the page shows them: a row per concept, a column per field, each cell
    "12% (7-19%) · 15 of 127", or "too few to compare (3 of 127)" below the minimum count."""
    if cells.empty:
        return pd.DataFrame()

    def cell(row) -> str:
        if row["too_small"]:
            return f"too few to compare ({row['count']} of {row['excerpts']})"
        return (
            f"{row['share']:.0%} ({row['low']:.0%}-{row['high']:.0%}) · "
            f"{row['count']} of {row['excerpts']}"
        )

    shown = cells.assign(
        text=cells.apply(cell, axis=1),
        concept=cells["concept"].map(lambda k: concept_labels.get(k, k)),
        field=cells["field"].map(lambda f: names.get(f, f)),
    )
    return shown.pivot(index="concept", columns="field", values="text")


def vocabulary_table(
    vocabulary: list[dict], fields: list[str], names: dict[str, str]
) -> pd.DataFrame:
    """Each field's distinctive words side by side: a column per field (headed by its name),
    a row per rank, each cell the word with its z-score and count."""
    columns = {}
    for field in fields:
        rows = [v for v in vocabulary if v["field"] == field]
        rows.sort(key=lambda v: -v["z"])
        columns[names.get(field, field)] = pd.Series(
            [f"{v['term']} (z {v['z']:.1f}, {v['count']}×)" for v in rows], dtype=object
        )
    table = pd.DataFrame(columns).fillna("")
    table.index = pd.RangeIndex(1, len(table) + 1, name="rank")
    return table


def related_concepts(
    frameworks: list[Framework], concept_key: str, field_labels: dict[str, str]
) -> pd.DataFrame:
    """The crosswalk links of a concept, in both directions, as a reader reads them: each
    counterpart by its label, with its framework, that framework's field by name, and why they
    correspond."""
    concepts, owner = concepts_by_key(frameworks), owners(frameworks)
    links = []
    for concept in concepts.values():
        for target, why in concept.related:
            if concept.key == concept_key and target in concepts:
                links.append((concepts[target], owner[target], why))
            elif target == concept_key:
                links.append((concept, owner[concept.key], why))
    return pd.DataFrame(
        [
            (
                concept.label,
                framework.label,
                field_labels.get(framework.field, framework.field)
                if framework.field
                else "cross-field",
                why,
            )
            for concept, framework, why in links
        ],
        columns=["counterpart", "framework", "field", "why they correspond"],
    )


def tool_lens(
    themes: list[dict],
    assignments: dict[str, str],
    tags: dict[str, list[dict]],
    tool: Framework,
    *,
    covered_at: float = 0.15,
) -> pd.DataFrame:
    """Which themes of the literature an outcome tool covers: for each theme, the share of its
    excerpts tagged with any of the tool's domains, and the (at most three) domains most often
    tagged, by name. A theme counts as covered when that share reaches `covered_at`."""
    domain_names = {c.key: c.label for c in tool.concepts}
    tool_keys = set(domain_names)
    by_theme: dict[str, list[str]] = {}
    for excerpt, key in assignments.items():
        by_theme.setdefault(key, []).append(excerpt)
    rows = []
    for theme in themes:
        members = by_theme.get(theme["theme_key"], [])
        domains: dict[str, int] = {}
        hit = 0
        for excerpt in members:
            found = {t["concept"] for t in tags.get(excerpt, [])} & tool_keys
            hit += bool(found)
            for key in found:
                domains[key] = domains.get(key, 0) + 1
        share = hit / len(members) if members else 0.0
        # Ties in key order: `found` is a set, whose order differs from one process to the next.
        top = sorted(domains, key=lambda k: (-domains[k], k))[:3]
        rows.append(
            {
                "theme": theme["label"],
                "theme_id": theme["theme_key"],
                "size": len(members),
                "share tagged with the tool's domains": round(share, 3),
                "domains": ", ".join(domain_names[k] for k in top),
                "covered": share >= covered_at,
            }
        )
    return pd.DataFrame(rows).sort_values(
        ["covered", "size"], ascending=[True, False], kind="stable"
    )


def calibration_note(calibration: dict | None) -> str | None:
    """The caption that says coverage was calibrated on hand codes (`build --coded`), or None for
    a run on the cues alone, so the reader knows which shares rest on people's judgement."""
    if not calibration:
        return None
    calibrated = sum(bool(c["calibrated"]) for c in calibration["concepts"])
    return (
        f"Coverage calibrated on {calibration['coded']} hand-coded excerpts ({calibrated} "
        f"concept{'s' if calibrated != 1 else ''} calibrated; the rest use the cues alone)."
    )
