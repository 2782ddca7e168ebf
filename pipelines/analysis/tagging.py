"""The concept-tagging step of a run: tags per excerpt, and each concept's coverage per field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.analysis.concepts import (
    CONCEPTS_DIR,
    Framework,
    all_concepts,
    concept_prototypes,
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


def tag_concepts(
    texts: list[str],
    vectors: np.ndarray,
    fields: list[str],
    field_order: list[str],
    frameworks: list[Framework],
    *,
    embedder,
    encode=None,
) -> ConceptTags:
    """Tag every excerpt and measure each concept's share of each field's excerpts."""
    rows = tag_by_framework_group(texts, vectors, frameworks, embedder=embedder, encode=encode)
    tags = [[Tag.from_json(t) for t in row] for row in rows]
    fields_arr = np.asarray(fields)
    tagged = [{t.concept for t in row} for row in tags]
    coverage: dict[str, dict[str, float]] = {}
    counts: dict[str, dict[str, int]] = {}
    for concept in all_concepts(frameworks):
        has = np.array([concept.key in s for s in tagged], dtype=bool)
        counts[concept.key] = {f: int(has[fields_arr == f].sum()) for f in field_order}
        coverage[concept.key] = {
            f: round(float(has[fields_arr == f].mean()), 4) for f in field_order
        }
    return ConceptTags(tags, coverage, counts)


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
