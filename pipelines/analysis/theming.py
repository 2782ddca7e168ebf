"""Themes from clusters: the fine themes of a corpus or a lens, the broad level above them, and the
stable keys that carry a user's edits from one run to the next."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from pipelines.analysis.clusterers import (
    broad_cuts,
    broad_partitions,
    cluster_by_name,
    silhouette_of,
)
from pipelines.analysis.compare import composition, verdicts
from pipelines.analysis.contract import THEME_BROAD, Family, Lens, Theme, ThemeIdentity
from pipelines.analysis.incremental import Placement
from pipelines.analysis.levels import BROAD_KS, Levels, two_levels
from pipelines.analysis.themes import (
    key_terms,
    normalise,
    stability,
    theme_features,
    theme_label,
    theme_space,
)

FRAGILE_BELOW = 0.6  # stability under which a theme is marked fragile


@dataclass
class ThemeAnalysis:
    """Themes found in a set of excerpts. Representatives are positions in that set."""

    vectors: np.ndarray  # field-centred embeddings
    features: np.ndarray | None  # what was clustered (None when excerpts were placed)
    labels: np.ndarray  # theme index per excerpt
    centres: np.ndarray
    silhouette: dict[int, float]
    themes: list[Theme]
    composition: pd.DataFrame
    levels: Levels | None = None  # the broad level found first, when the fine themes nest in it

    @property
    def k(self) -> int:
        return len(self.themes)

    def members(self, index: int) -> np.ndarray:
        return np.flatnonzero(self.labels == index)


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
    clusterer: str = "ward",
    broad_first: bool = False,
) -> ThemeAnalysis:
    """Cluster, label and describe a set of excerpts (all of them, or one lens).

    Themes are clustered on the embeddings joined with the words (`theme_features`); their centres
    and representatives are taken in the field-centred embedding space alone, whose axes do not
    change from run to run, so a rebuild can match themes by centre. With a `placement`, its
    themes (the previous run's, new excerpts placed) replace the clustering and its carried
    stability the bootstrap. With `broad_first` (the whole corpus with the default Ward
    clusterer) the broad level is found first and the fine themes within it (`levels`)."""
    vectors = theme_space(vectors, fields)
    levels = None
    if placement:
        clustering, features = placement.clustering, None
    else:
        features = theme_features(vectors, texts, fields, extra_stop_words=stop_words)
        if broad_first and clusterer == "ward":
            levels = two_levels(features, seed=seed, with_stability=with_stability)
        clustering = levels.fine if levels else cluster_by_name(clusterer, features, seed=seed)
    labels = clustering.labels
    if placement:
        scores = placement.stability
    elif levels:
        scores = levels.fine_stability
    elif with_stability and clustering.k > 1:
        scores = stability(features, labels, k=clustering.k, seed=seed)
    else:
        scores = np.ones(clustering.k)
    themes, centres, table = describe(
        vectors, texts, fields, field_order, labels, scores, stop_words=stop_words
    )
    return ThemeAnalysis(
        vectors, features, labels, centres, clustering.scores, themes, table, levels
    )


def describe(
    vectors: np.ndarray,
    texts: list[str],
    fields: list[str],
    field_order: list[str],
    labels: np.ndarray,
    scores: np.ndarray,
    *,
    stop_words: frozenset[str] = frozenset(),
    level: int = 2,
) -> tuple[list[Theme], np.ndarray, pd.DataFrame]:
    """Each cluster as a theme: key terms, a word label, stability, the shared/distinctive verdict
    and representatives per field; with the centres and the field composition table."""
    k = int(labels.max()) + 1
    centres = normalise(np.vstack([vectors[labels == t].mean(axis=0) for t in range(k)]))
    terms = key_terms(texts, labels, extra_stop_words=stop_words)
    table = composition(labels, fields, field_order)
    verdict_list = verdicts(table)
    fields_arr = np.asarray(fields)
    themes = []
    for t in range(k):
        members = np.flatnonzero(labels == t)
        reps = {
            f: representatives(vectors, members[fields_arr[members] == f], centres[t], count=3)
            for f in field_order
        }
        verdict = verdict_list[t]
        themes.append(
            Theme(
                key="",
                index=t,
                label=theme_label(terms[t]),
                size=int(len(members)),
                key_terms=[term for term, _ in terms[t]],
                term_weights=[w for _, w in terms[t]],
                stability=round(float(scores[t]), 3),
                fragile=bool(scores[t] < FRAGILE_BELOW),
                verdict=verdict.verdict,
                verdict_field=verdict.field,
                verdict_reason=verdict.reason,
                representatives=reps,
                level=level,
            )
        )
    return themes, centres, table


def broad_level(
    fine: ThemeAnalysis,
    texts: list[str],
    fields: list[str],
    field_order: list[str],
    *,
    seed: int,
    stop_words: frozenset[str] = frozenset(),
    with_stability: bool = True,
) -> tuple[np.ndarray, list[Theme], np.ndarray, pd.DataFrame]:
    """The broad level: about 4 to 10 broad themes, every fine theme in exactly one. When the
    fine themes were found within a broad level (`levels.two_levels`) that is the level; otherwise
    (another clusterer, a lens) the fine themes are joined (`clusterers.broad_partitions`), the
    number being the k in `BROAD_KS` whose broad themes are most stable (the most robust themes,
    then the highest mean stability, then fewer). Returns the broad index of each fine theme, the broad themes, each excerpt's broad index and
    the broad themes' field composition.

    A run that placed new excerpts into the previous themes has no features to re-cluster: its
    broad themes are the fine themes joined by their centres, their stability the fine themes'
    size-weighted mean."""
    ks = [k for k in BROAD_KS if k < fine.k]
    if fine.levels is not None:
        parent, scores = fine.levels.parent, fine.levels.broad_stability
    elif not ks:
        parent = np.arange(fine.k)
        scores = np.array([t.stability for t in fine.themes])
    elif fine.features is not None and with_stability:
        found = broad_partitions(fine.features, fine.labels, ks, seed=seed)
        best = max(
            ks,
            key=lambda k: (
                round(float((found[k][1] >= FRAGILE_BELOW).mean()), 2),
                round(float(found[k][1].mean()), 2),
                -k,
            ),
        )
        parent, scores = found[best]
    else:
        sizes = np.array([t.size for t in fine.themes], dtype=float)
        space = fine.features if fine.features is not None else fine.vectors
        candidates = broad_cuts(fine.centres, sizes, ks)
        parent = max(
            candidates,
            key=lambda cut: (
                round(silhouette_of(space, cut[fine.labels], seed=seed), 3),
                -cut.max(),
            ),
        )
        scores = np.array(
            [
                np.average(
                    [t.stability for t in fine.themes if parent[t.index] == b],
                    weights=[t.size for t in fine.themes if parent[t.index] == b],
                )
                for b in range(int(parent.max()) + 1)
            ]
        )
    labels = parent[fine.labels]
    themes, _, table = describe(
        fine.vectors,
        texts,
        fields,
        field_order,
        labels,
        scores,
        stop_words=stop_words,
        level=THEME_BROAD,
    )
    return parent, themes, labels, table


def carry_keys(
    identity: ThemeIdentity | None,
    members: list[set[int]],
    centres: np.ndarray,
    *,
    broad: bool = False,
) -> tuple[dict[int, str], int]:
    """Stable keys for new themes: a theme matched to one of the previous run's (by membership
    and centre) keeps its key, and so the user's edits; the others get fresh keys."""
    prefix = "B" if broad else "T"
    matched: dict[int, str] = {}
    next_key = 1
    if identity is not None:
        old_members = identity.broad_members if broad else identity.members
        old_centres = identity.broad_centres if broad else identity.centres
        next_key = identity.next_broad_key if broad else identity.next_key
        if old_members:
            matched = match_themes(
                {key: set(m) for key, m in old_members.items()},
                {key: np.asarray(c, dtype=np.float32) for key, c in old_centres.items()},
                members,
                centres,
            )
    for t in range(len(members)):
        if t not in matched:
            matched[t] = f"{prefix}{next_key}"
            next_key += 1
    return matched, next_key


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
) -> Lens:
    """The theme analysis over a subset (a lens): its families, each field's share of each family,
    and exemplars per field."""
    if len(index) < 6:
        return Lens([], int(len(index)))
    sub = theme_analysis(
        vectors[index],
        [texts[i] for i in index],
        [fields[i] for i in index],
        field_order,
        seed=seed,
        with_stability=False,
        stop_words=stop_words,
    )
    field_totals = pd.Series([fields[i] for i in index]).value_counts()
    families = []
    for theme in sub.themes:
        counts = pd.Series([fields[i] for i in index[sub.members(theme.index)]]).value_counts()
        families.append(
            Family(
                family=theme.index + 1,
                label=theme.label,
                size=theme.size,
                key_terms=theme.key_terms,
                counts={f: int(counts.get(f, 0)) for f in field_order},
                share_of_field={
                    f: round(float(counts.get(f, 0) / field_totals.get(f, 1)), 4)
                    for f in field_order
                },
                verdict=theme.verdict,
                verdict_field=theme.verdict_field,
                verdict_reason=theme.verdict_reason,
                exemplars={
                    f: [ids[index[i]] for i in reps] for f, reps in theme.representatives.items()
                },
            )
        )
    assignments = {str(ids[i]): int(sub.labels[j]) + 1 for j, i in enumerate(index)}
    return Lens(families, int(len(index)), assignments)


def representatives(
    vectors: np.ndarray,
    members: np.ndarray,
    centre: np.ndarray,
    *,
    count: int = 3,
    diversity: float = 0.3,
) -> list[int]:
    """Central and diverse members (maximal marginal relevance against the theme centre)."""
    if len(members) == 0:
        return []
    relevance = vectors[members] @ centre
    chosen: list[int] = []
    candidates = list(range(len(members)))
    while candidates and len(chosen) < count:
        if chosen:
            redundancy = (vectors[members][candidates] @ vectors[members][chosen].T).max(axis=1)
        else:
            redundancy = np.zeros(len(candidates))
        scores = (1 - diversity) * relevance[candidates] - diversity * redundancy
        pick = candidates[int(np.argmax(scores))]
        chosen.append(pick)
        candidates.remove(pick)
    return [int(members[i]) for i in chosen]


def match_themes(
    old_members: dict[str, set[int]],
    old_centres: dict[str, np.ndarray],
    new_members: list[set[int]],
    new_centres: np.ndarray,
    *,
    min_score: float = 0.55,
) -> dict[int, str]:
    """Match new themes to old theme keys by membership overlap (Jaccard) and centre similarity.

    The optimal one-to-one assignment (Hungarian) on Jaccard + cosine/2; pairs scoring below
    `min_score` stay unmatched and get new keys. Old centres of another dimension (a different
    model) are ignored, so matching then rests on membership alone.
    """
    old_centres = {k: v for k, v in old_centres.items() if len(v) == new_centres.shape[1]}
    keys = list(old_members)
    if not keys or not new_members:
        return {}
    score = np.zeros((len(new_members), len(keys)))
    for i, members in enumerate(new_members):
        for j, key in enumerate(keys):
            union = len(members | old_members[key])
            jaccard = len(members & old_members[key]) / union if union else 0.0
            cosine = float(new_centres[i] @ old_centres[key]) if key in old_centres else 0.0
            score[i, j] = jaccard + 0.5 * max(cosine, 0.0)
    rows, cols = linear_sum_assignment(-score)
    return {int(r): keys[c] for r, c in zip(rows, cols, strict=True) if score[r, c] >= min_score}
