"""Two levels of themes, broad first: a few broad themes found where coarse structure re-forms,
then the fine themes found inside each broad theme, so every fine theme nests in exactly one.

Why broad first. Cutting the fine themes' Ward tree higher up (the earlier design) gave broad
themes that did not re-form: on the development set 1 of 8 was robust (bootstrap stability
>= 0.6), and no number of broad themes or method on the full features did better, because in a few
hundred dimensions the coarse optimum is flat and every resample finds another. The corpus's main
axes of variation do hold a coarse structure that re-forms: k-means on the first three principal
components of the theme features gives broad themes that are robust at k = 4 to 6, with the same
agreement with hand labels as the tree's cut (NMI 0.14 against 0.13). Nesting the fine themes of
the whole corpus into those broad themes broke them again (fine themes straddle the broad
boundaries), so the fine themes are clustered within each broad theme instead, with the same Ward
tree and refinement as before and the total number chosen by the same silhouette rule.

Stability is measured per level as it is built: a broad theme by re-running the broad step on
bootstrap resamples of the corpus; a fine theme by re-clustering bootstrap resamples of its broad
theme's excerpts at the same number of themes (`themes.stability`), that is, given its broad theme.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA

from pipelines.analysis.themes import (
    STABILITY_SAMPLE,
    Clustering,
    _cut,
    _partition_tree,
    cluster,
    clusterwise_jaccard,
    normalise,
    relabel_by_size,
    stability,
)

BROAD_DIMENSIONS = 3  # the principal components the broad level is found on
BROAD_KS = range(4, 11)  # about 4 to 10 broad themes, chosen by stability
FINE_SAMPLE_MIN = 1000  # excerpts per stability round within a broad theme, at least
ROBUST = 0.6  # the stability at which a theme counts as robust (`theming.FRAGILE_BELOW`)
REFERENCE_STARTS = 100  # k-means++ starts for the broad themes (`reference_starts`)
SILHOUETTE_SAMPLE = 5000  # excerpts the silhouette that chooses k is measured on, at most


@dataclass
class Levels:
    fine: Clustering  # fine themes over the whole corpus (labels, centres, silhouette by k)
    fine_stability: np.ndarray  # per fine theme, given its broad theme
    parent: np.ndarray  # broad index of each fine theme
    broad_stability: np.ndarray  # per broad theme


def broad_space(features: np.ndarray, *, seed: int) -> np.ndarray:
    """The first `BROAD_DIMENSIONS` principal components of the features."""
    dimensions = min(BROAD_DIMENSIONS, len(features) - 1, features.shape[1])
    # An exact decomposition: the randomised one sklearn picks for a few components turned the
    # third component a little with each seed, and the broad themes with it.
    return PCA(n_components=dimensions, svd_solver="full").fit_transform(
        features.astype(np.float64)
    )


def broad_partition(points: np.ndarray, k: int, *, seed: int, starts: int = 10) -> np.ndarray:
    """k-means (`starts` k-means++ starts, fixed seed) on the principal components, numbered by
    size."""
    labels = KMeans(n_clusters=k, n_init=starts, random_state=seed).fit_predict(points)
    return relabel_by_size(labels)


def reference_starts(n: int) -> int:
    """k-means++ starts for the broad themes themselves: with ten, another seed found another
    local optimum (ARI 0.74-0.86 between seeds at k = 7 or 8 on the development set); with a
    hundred, the same one (ARI 0.9-1.0). Fewer on a large corpus, where each start costs more and
    the optimum is sharper (at least ten)."""
    return int(min(REFERENCE_STARTS, max(10, 2_000_000 // max(n, 1))))


def broad_stability(
    features: np.ndarray,
    partitions: dict[int, np.ndarray],
    *,
    seed: int,
    draw: int,
    rounds: int = 8,
) -> dict[int, np.ndarray]:
    """Clusterwise stability of each k's broad partition over `rounds` bootstrap resamples, the
    principal components and k-means both re-run on each; `draw` picks an independent set of
    resamples."""
    totals = {k: np.zeros(k) for k in partitions}
    rng = np.random.default_rng([seed, draw, 104729])
    n = len(features)
    for r in range(rounds):
        index = np.unique(rng.choice(n, size=min(n, STABILITY_SAMPLE), replace=True))
        resampled = broad_space(features[index], seed=seed)
        for k, partition in partitions.items():
            boot = broad_partition(resampled, k, seed=seed + r + 1)
            totals[k] += clusterwise_jaccard(partition[index], boot, k)
    return {k: totals[k] / rounds for k in partitions}


def choose_broad(
    features: np.ndarray, ks: list[int], *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The broad themes: the k whose k-means partition of the principal components has the
    highest silhouette, then their stability, measured on bootstrap resamples.

    The number is chosen by a measure of the data alone, not by the stability itself: the broad
    themes' stabilities lie near the 0.6 line, so choosing the k with the most robust themes over
    a set of resamples picked 4, 5 or 7 for seeds 42 to 46 on the development set, and another
    seed gave other themes (fine themes' ARI 0.26 between seeds). The principal components are
    exact and the partitions have enough starts (`reference_starts`) to be the same for any seed.
    Returns each excerpt's broad index and each broad theme's stability."""
    from sklearn.metrics import silhouette_score

    points = broad_space(features, seed=seed)
    starts = reference_starts(len(features))
    partitions = {k: broad_partition(points, k, seed=seed, starts=starts) for k in ks}
    sample = min(len(points), SILHOUETTE_SAMPLE)
    quality = {
        k: round(float(silhouette_score(points, p, sample_size=sample, random_state=0)), 3)
        for k, p in partitions.items()
    }
    best = max(ks, key=lambda k: (quality[k], -k))
    chosen = {best: partitions[best]}
    return partitions[best], broad_stability(features, chosen, seed=seed, draw=2)[best]


def allocate(total: int, sizes: np.ndarray) -> np.ndarray:
    """`total` fine themes shared among broad themes in proportion to their sizes (largest
    remainder), at least one each and never more than a broad theme's excerpts."""
    share = total * sizes / sizes.sum()
    counts = np.maximum(np.floor(share).astype(int), 1)
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    for b in order:
        if counts.sum() >= total:
            break
        counts[b] += 1
    return np.minimum(counts, sizes)


def fine_within(features: np.ndarray, broad: np.ndarray, total: int, *, seed: int) -> Clustering:
    """`total` fine themes inside the broad themes: one Ward tree per broad theme (refined as
    `themes.cluster` refines), each broad theme cut into its share of `total` by size."""
    groups = [np.flatnonzero(broad == b) for b in range(int(broad.max()) + 1)]
    counts = allocate(max(total, len(groups)), np.array([len(g) for g in groups]))
    labels = np.zeros(len(features), dtype=int)
    offset = 0
    for group, count in zip(groups, counts, strict=True):
        local = np.zeros(len(group), dtype=int)
        if count > 1 and len(group) > 2:
            local = _cut(_partition_tree(features[group], seed=seed), int(count))
        labels[group] = local + offset
        offset += int(local.max()) + 1
    labels = relabel_by_size(labels)
    k = int(labels.max()) + 1
    centres = normalise(np.vstack([features[labels == t].mean(axis=0) for t in range(k)]))
    return Clustering(labels, centres, k, {})


def two_levels(features: np.ndarray, *, seed: int, with_stability: bool = True) -> Levels | None:
    """Broad themes, then fine themes within them, with stability for both; None when the corpus
    is too small for a broad level of at least four themes (the caller keeps one level).

    The broad level's stability is always measured, because it chooses the number of broad
    themes; `with_stability` only skips the fine themes' (each then reads 1.0)."""
    n = len(features)
    ks = [k for k in BROAD_KS if k * 3 <= n]
    if not ks:
        return None
    broad, broad_scores = choose_broad(features, ks, seed=seed)
    # How many fine themes: the number the single-level clustering chooses (`themes.cluster`,
    # silhouette over Ward's tree of the whole corpus). Silhouette over the nested cuts always
    # preferred the fewest (8 on the development set), which tells a practitioner little.
    flat = cluster(features, seed=seed)
    fine = fine_within(features, broad, flat.k, seed=seed)
    fine.scores = flat.scores
    parent = np.array([int(broad[fine.labels == t][0]) for t in range(fine.k)])
    fine_scores = np.ones(fine.k)
    for b in range(int(broad.max()) + 1) if with_stability else ():
        group = np.flatnonzero(broad == b)
        children = np.flatnonzero(parent == b)
        if len(children) < 2:
            fine_scores[children] = broad_scores[b]
            continue
        local = np.searchsorted(children, fine.labels[group])
        # Each broad theme's share of the corpus-wide sample (at least `FINE_SAMPLE_MIN`), so the
        # fine themes' stability costs no more than one corpus-wide measurement did.
        sample = max(FINE_SAMPLE_MIN, STABILITY_SAMPLE * len(group) // n)
        fine_scores[children] = stability(
            features[group], local, k=len(children), seed=seed, sample=sample
        )
    return Levels(fine, fine_scores, parent, broad_scores)
