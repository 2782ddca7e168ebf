"""The concept-tagging step of a run: tags per excerpt, and each concept's coverage per field."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
) -> ConceptTags:
    """Tag every excerpt and measure each concept's share of each field's excerpts. `tagger` is
    `tag_by_framework_group` or an engine's function with its arguments (the Ray engine's)."""
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
        has = carried[concept.key]
        counts[concept.key] = {f: int(has[fields_arr == f].sum()) for f in field_order}
        coverage[concept.key] = {
            f: round(float(has[fields_arr == f].mean()), 4) for f in field_order
        }
    return ConceptTags(tags, coverage, counts)


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
    by_framework: dict[str, list[int]] = {}
    for j, concept in enumerate(concepts):
        by_framework.setdefault(concept.framework, []).append(j)
    for columns in by_framework.values():
        z = tagging.z[:, columns]
        calibrated = 0.5 * z + 0.5 * _standardise(z, 1) + cue_bonus * tagging.cue[:, columns]
        order = np.argsort(-calibrated, axis=1, kind="stable")[:, :max_tags]
        top = np.zeros_like(calibrated, dtype=bool)
        np.put_along_axis(top, order, True, axis=1)
        chosen = top & (calibrated >= z_threshold)
        for k, j in enumerate(columns):
            out[concepts[j].key] = chosen[:, k] if n else np.zeros(0, dtype=bool)
    return out


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
