"""The swappable clustering and 2-D reduction stages, registered by name.

A clusterer takes unit vectors and a seed and returns a `Clustering`; a reducer takes vectors and a
seed and returns the 2-D coordinates and a sentence naming its method. `build` picks them by name
(its parameters are stored with the run); an unknown name is an error that lists the known ones.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.metrics import silhouette_score

from pipelines.analysis.layout import layout_2d
from pipelines.analysis.themes import SILHOUETTE_SAMPLE, Clustering, cluster, normalise
from pipelines.errors import input_error

Clusterer = Callable[..., Clustering]
Reducer = Callable[..., tuple[np.ndarray, str]]

CLUSTERERS: dict[str, Clusterer] = {}
REDUCERS: dict[str, Reducer] = {}


def register_clusterer(name: str):
    def add(function: Clusterer) -> Clusterer:
        CLUSTERERS[name] = function
        return function

    return add


def register_reducer(name: str):
    def add(function: Reducer) -> Reducer:
        REDUCERS[name] = function
        return function

    return add


def _lookup(registry: dict, kind: str, name: str):
    if name not in registry:
        raise input_error("E050", kind=kind, value=name, known=", ".join(sorted(registry)))
    return registry[name]


def cluster_by_name(name: str, vectors: np.ndarray, *, seed: int) -> Clustering:
    return _lookup(CLUSTERERS, "clusterer", name)(vectors, seed=seed)


def reduce_by_name(name: str, vectors: np.ndarray, *, seed: int) -> tuple[np.ndarray, str]:
    return _lookup(REDUCERS, "reducer", name)(vectors, seed=seed)


def check_names(*, clusterer: str, reducer: str) -> None:
    """Refuse unknown names before any work is done."""
    _lookup(CLUSTERERS, "clusterer", clusterer)
    _lookup(REDUCERS, "reducer", reducer)


@register_clusterer("ward")
def ward(vectors: np.ndarray, *, seed: int) -> Clustering:
    """Ward's tree, each cut refined by k-means from its own centres, k chosen by silhouette."""
    return cluster(vectors, seed=seed)


@register_clusterer("kmeans")
def kmeans(vectors: np.ndarray, *, seed: int) -> Clustering:
    """k-means (k-means++ starts) with k chosen by silhouette, for comparison with Ward."""
    from sklearn.cluster import KMeans

    from pipelines.analysis.themes import candidate_ks, relabel_by_size

    n = len(vectors)
    if n < 3:
        return cluster(vectors, seed=seed)
    best, best_score = None, -2.0
    scores = {}
    for k in candidate_ks(n):
        labels = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(vectors)
        scores[k] = silhouette_of(vectors, labels, seed=seed)
        if scores[k] > best_score:
            best, best_score = labels, scores[k]
    labels = relabel_by_size(best)
    k = int(labels.max()) + 1
    centres = normalise(np.vstack([vectors[labels == t].mean(axis=0) for t in range(k)]))
    return Clustering(labels, centres, k, scores)


@register_reducer("tsne")
def tsne(vectors: np.ndarray, *, seed: int) -> tuple[np.ndarray, str]:
    return layout_2d(vectors, seed=seed)


@register_reducer("pca")
def pca(vectors: np.ndarray, *, seed: int) -> tuple[np.ndarray, str]:
    """The first two principal components: instant, and a fair map when t-SNE is too slow."""
    from sklearn.decomposition import PCA

    n = len(vectors)
    if n < 3:
        return np.column_stack([np.arange(n, dtype=float), np.zeros(n)]), "index"
    coords = PCA(n_components=2, random_state=seed).fit_transform(vectors)
    coords = coords - coords.mean(axis=0)
    return np.round(coords / (np.abs(coords).max() or 1.0), 5), "PCA (first two components)"


def silhouette_of(vectors: np.ndarray, labels: np.ndarray, *, seed: int) -> float:
    """Cosine silhouette of a labelling, on a fixed-seed sample above `SILHOUETTE_SAMPLE`."""
    if len(set(labels.tolist())) < 2:
        return -1.0
    n = len(vectors)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, size=min(n, SILHOUETTE_SAMPLE), replace=False))
    if len(set(labels[sample].tolist())) < 2:
        return -1.0
    return float(silhouette_score(vectors[sample], labels[sample], metric="cosine"))


def broad_cuts(centres: np.ndarray, sizes: np.ndarray, ks: list[int]) -> list[np.ndarray]:
    """Ward's tree over the fine themes' centres, cut at each k: the broad index of each fine
    theme per cut. A theme's centre is repeated in proportion to its size by weighting its
    coordinates (Ward on weighted centroids is the size-aware merge order)."""
    weighted = normalise(centres) * np.sqrt(sizes / sizes.mean())[:, None]
    tree = linkage(weighted.astype(np.float64), method="ward")
    cuts = []
    for k in ks:
        labels = fcluster(tree, k, criterion="maxclust") - 1
        # Number broad themes by total size, largest first, so keys and order are stable.
        totals = np.bincount(labels, weights=sizes)
        order = np.argsort(-totals, kind="stable")
        cuts.append(np.argsort(order)[labels])
    return cuts


def broad_partitions(
    features: np.ndarray, fine_labels: np.ndarray, ks: list[int], *, seed: int, rounds: int = 8
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """For each k, the broad level with k themes and its clusterwise stability.

    Ward's tree over the excerpts is cut at k; each fine theme joins the broad theme holding most
    of its excerpts, so fine themes nest exactly. Stability is measured as for fine themes
    (`themes.stability`, Hennig 2007) against bootstrap cuts at the same k, with the bootstrap trees
    built once and cut at every k. Returns k -> (broad index of each fine theme, stability per
    broad theme)."""
    from pipelines.analysis.themes import (
        STABILITY_SAMPLE,
        _cut,
        _partition_tree,
        clusterwise_jaccard,
        relabel_by_size,
    )

    tree = _partition_tree(features, seed=seed)
    fine_k = int(fine_labels.max()) + 1
    parents: dict[int, np.ndarray] = {}
    for k in ks:
        direct = _cut(tree, k)
        parent = np.array(
            [np.bincount(direct[fine_labels == f], minlength=k).argmax() for f in range(fine_k)]
        )
        # Number broad themes by size and drop any index no fine theme chose.
        parents[k] = relabel_by_size(parent[fine_labels])[
            [int(np.flatnonzero(fine_labels == f)[0]) for f in range(fine_k)]
        ]
    totals = {k: np.zeros(int(parents[k].max()) + 1) for k in ks}
    rng = np.random.default_rng(seed + 7919)
    n = len(features)
    for r in range(rounds):
        index = np.unique(rng.choice(n, size=min(n, STABILITY_SAMPLE), replace=True))
        boot_tree = _partition_tree(features[index], seed=seed + r + 1)
        for k in ks:
            boot = _cut(boot_tree, k)
            totals[k] += clusterwise_jaccard(parents[k][fine_labels[index]], boot, len(totals[k]))
    return {k: (parents[k], totals[k] / rounds) for k in ks}
