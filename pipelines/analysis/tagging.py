"""The concept-tagging step of a run: tags per excerpt, and each concept's coverage per field."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipelines.analysis.calibration import (
    Calibration,
    FrameworkCalibration,
    calibrate_framework,
    coded_positions,
)
from pipelines.analysis.coded import CodedExcerpts
from pipelines.analysis.concepts import (
    Framework,
    _standardise,
    all_concepts,
    concept_prototypes,
    is_bundled,
    tag_excerpts,
)
from pipelines.analysis.contract import Tag


@dataclass
class ConceptTags:
    tags: list[list[Tag]]  # per excerpt, best first
    coverage: dict[str, dict[str, float]]  # concept key -> field -> share of the field's excerpts
    coverage_counts: dict[str, dict[str, int]]  # concept key -> field -> excerpts tagged
    # Each framework group's concepts and Tagging (scores), for `calibrate_codebook`; not stored.
    lenses: list = field(default_factory=list, repr=False)
    calibration: Calibration | None = None  # set by `calibrate_codebook`

    def tagged(self) -> list[set[str]]:
        return [{t.concept for t in row} for row in self.tags]


def framework_groups(frameworks: list[Framework]) -> list[list[Framework]]:
    """The bundled frameworks together, and each other codebook on its own."""
    bundled = [f for f in frameworks if is_bundled(f)]
    return ([bundled] if bundled else []) + [[f] for f in frameworks if f not in bundled]


def tag_by_framework_group(
    texts: list[str],
    vectors: np.ndarray,
    frameworks: list[Framework],
    *,
    embedder,
    encode=None,
    lenses: list | None = None,
) -> list[list[dict]]:
    """Concept tags per excerpt, best first: the bundled frameworks tagged together, and each
    other codebook (`build --concepts`) tagged on its own.

    Calibration and the cap of three tags then hold within a user's codebook, so its tags do not
    depend on which other frameworks happen to be loaded, and its concepts are not crowded out by
    the bundled ones. `vectors` are the field-centred embeddings (`theme_space`)."""
    out: list[list[dict]] = [[] for _ in texts]
    for group in framework_groups(frameworks):
        concepts = all_concepts(group)
        proto_texts, owners = concept_prototypes(concepts)
        proto_vectors = (encode or embedder.encode)(proto_texts)
        tagging = tag_excerpts(texts, vectors, concepts, proto_vectors, owners)
        for row, found in zip(out, tagging.tags, strict=True):
            row.extend(found)
        if lenses is not None:
            lenses.append((concepts, tagging))
    return [sorted(row, key=lambda tag: -tag["score"]) for row in out]


def tag_concepts(
    texts: list[str],
    vectors: np.ndarray,
    fields: list[str],
    field_order: list[str],
    frameworks: list[Framework],
    *,
    embedder,
    encode=None,
    tagger=None,
    keep_lenses: bool = False,
) -> ConceptTags:
    """Tag every excerpt and measure each concept's share of each field's excerpts. `tagger` is
    `tag_by_framework_group` or an engine's function with its arguments (the Ray engine's).
    `keep_lenses` keeps each framework group's scores for `calibrate_codebook`; without it they
    are let go here (several hundred MB at 100,000 excerpts)."""
    found: list = []
    rows = (tagger or tag_by_framework_group)(
        texts, vectors, frameworks, embedder=embedder, encode=encode, lenses=found
    )
    tags = [[Tag.from_json(t) for t in row] for row in rows]
    fields_arr = np.asarray(fields)
    coverage: dict[str, dict[str, float]] = {}
    counts: dict[str, dict[str, int]] = {}
    carried = {}
    for concepts, tagging in found:
        carried.update(framework_lens(concepts, tagging))
    for concept in all_concepts(frameworks):
        counts[concept.key], coverage[concept.key] = field_shares(
            carried[concept.key], fields_arr, field_order
        )
    return ConceptTags(tags, coverage, counts, lenses=found if keep_lenses else [])


def field_shares(
    has: np.ndarray, fields: np.ndarray, field_order: list[str]
) -> tuple[dict[str, int], dict[str, float]]:
    """(excerpts carrying a concept per field, their share of the field's excerpts)."""
    counts = {f: int(has[fields == f].sum()) for f in field_order}
    shares = {f: round(float(has[fields == f].mean()), 4) for f in field_order}
    return counts, shares


def calibrate_codebook(
    tags: ConceptTags,
    coded: CodedExcerpts,
    *,
    ids: list[int],
    vectors: np.ndarray,
    fields: list[str],
    field_order: list[str],
) -> ConceptTags:
    """`tags` with the concepts of every framework the coded file speaks for re-tagged by the
    calibration (`calibration.calibrate_framework`), and their coverage counted from those tags,
    with the `calibration` report. Other frameworks' tags and coverage are unchanged.

    `vectors` are the raw embeddings (not field-centred: a field's own wording is what the
    calibration must see); `ids` are the excerpt ids in the run's order."""
    rows = coded_positions(coded, ids)
    fields_arr = np.asarray(fields)
    out = [list(row) for row in tags.tags]
    coverage, counts = dict(tags.coverage), dict(tags.coverage_counts)
    report = []
    for concepts, tagging in tags.lenses:
        if tagging.z is None:
            continue
        cue_members = framework_lens(concepts, tagging)
        for framework_id, columns in _columns_by_framework(concepts).items():
            if framework_id not in coded.frameworks:
                continue
            keys = [concepts[j].key for j in columns]
            scores = framework_scores(tagging, columns)
            found = calibrate_framework(keys, scores, cue_members, vectors, rows)
            report.extend(found.report)
            _retag(out, keys, found, scores, _tag_parts(tagging, columns), rows, coded.path)
            for key in keys:
                counts[key], coverage[key] = field_shares(
                    found.members[key], fields_arr, field_order
                )
    return ConceptTags(
        [sorted(row, key=lambda tag: -tag.score) for row in out],
        coverage,
        counts,
        lenses=tags.lenses,
        calibration=Calibration(coded.path, len(rows), report),
    )


def _columns_by_framework(concepts: list) -> dict[str, list[int]]:
    by_framework: dict[str, list[int]] = {}
    for j, concept in enumerate(concepts):
        by_framework.setdefault(concept.framework, []).append(j)
    return by_framework


def _tag_parts(tagging, columns: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(similarity, word overlap) of `columns` for a tag's record; zeros when the tagger did not
    keep them (the Ray engine's)."""
    n = len(tagging.tags)
    parts = []
    for values in (tagging.similarity, tagging.lexical):
        parts.append(np.zeros((n, len(columns))) if values is None else values[:, columns])
    return parts[0], parts[1]


def _retag(
    rows: list[list[Tag]],
    keys: list[str],
    found: FrameworkCalibration,
    scores: np.ndarray,
    parts: tuple[np.ndarray, np.ndarray],
    coded_rows: dict[int, frozenset[str]],
    source: str,
) -> None:
    """Replace each excerpt's tags of `keys` with the calibrated ones, in place. A fallback
    concept's tag keeps its cue-based evidence."""
    bars = {c.concept: c for c in found.report if c.calibrated}
    wanted = set(keys)
    for i, row in enumerate(rows):
        before = {t.concept: t for t in row if t.concept in wanted}
        row[:] = [t for t in row if t.concept not in wanted]
        for j, key in enumerate(keys):
            if not found.members[key][i]:
                continue
            if i in coded_rows:
                evidence = f"hand-coded in {source}"
            elif key in bars:
                evidence = (
                    f"calibrated on {bars[key].positives + bars[key].negatives} hand-coded "
                    f"excerpts (probability {found.probability[key][i]:.2f}, bar {bars[key].bar:.2f})"
                )
            elif key in before:
                row.append(before[key])
                continue
            else:
                evidence = "passes the tagging bar read through its framework alone"
            row.append(
                Tag(
                    key,
                    round(float(scores[i, j]), 3),
                    round(float(parts[0][i, j]), 3),
                    round(float(parts[1][i, j]), 3),
                    evidence,
                )
            )


def framework_lens(
    concepts: list,
    tagging,
    *,
    z_threshold: float = 1.2,
    max_tags: int = 3,
    cue_bonus: float = 1.5,
) -> dict[str, np.ndarray]:
    """Which excerpts carry each concept when read through its own framework alone: the same
    calibration and bar as `concepts.tag_excerpts`, with the excerpt's ranking and the cap of
    `max_tags` taken among that framework's concepts only.

    This is what coverage counts. With every bundled framework in one ranking, the 118 concepts
    shared three places per excerpt, and the concepts written in one field's own words (the
    desistance phases, the Housing First principles) took them in that field's excerpts: CHIME's
    identity was tagged on 1 of 127 substance-use excerpts, and on 6 of 127 criminal-justice ones.
    Read through CHIME alone it is carried by 11% and 13%."""
    if tagging.z is None or not concepts:
        return {c.key: np.zeros(len(tagging.tags), dtype=bool) for c in concepts}
    n = tagging.z.shape[0]
    out = {}
    for columns in _columns_by_framework(concepts).values():
        calibrated = framework_scores(tagging, columns, cue_bonus=cue_bonus)
        order = np.argsort(-calibrated, axis=1, kind="stable")[:, :max_tags]
        top = np.zeros_like(calibrated, dtype=bool)
        np.put_along_axis(top, order, True, axis=1)
        chosen = top & (calibrated >= z_threshold)
        for k, j in enumerate(columns):
            out[concepts[j].key] = chosen[:, k] if n else np.zeros(0, dtype=bool)
    return out


def framework_scores(tagging, columns: list[int], *, cue_bonus: float = 1.5) -> np.ndarray:
    """Excerpts x `columns`: the tagging scores of one framework's concepts as if that framework
    had been tagged alone (each excerpt's ranking among its concepts only), which is what
    `framework_lens` puts the bar on and what calibration learns from."""
    z = tagging.z[:, columns]
    return 0.5 * z + 0.5 * _standardise(z, 1) + cue_bonus * tagging.cue[:, columns]


def theme_concepts(
    tags: ConceptTags, members: np.ndarray, *, top: int = 8
) -> list[tuple[str, float]]:
    """The concepts most often tagged among a theme's members, with the share of members tagged."""
    counter: dict[str, int] = {}
    for i in members:
        for tag in tags.tags[i]:
            counter[tag.concept] = counter.get(tag.concept, 0) + 1
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [(k, round(v / max(len(members), 1), 4)) for k, v in ranked]
