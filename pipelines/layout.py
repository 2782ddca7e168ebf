"""The 2-D map of all excerpts, computed at build time so the app never computes it on page load.

t-SNE (cosine, PCA-initialised, fixed seed) for corpora up to `TSNE_MAX`; above that a PCA
projection, which is linear-time. The method used is stored with the layout.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

TSNE_MAX = 15000


def layout_2d(vectors: np.ndarray, *, seed: int) -> tuple[np.ndarray, str]:
    n = len(vectors)
    if n < 5:
        return np.column_stack([np.arange(n, dtype=float), np.zeros(n)]), "index"
    if n <= TSNE_MAX:
        reduced = PCA(
            n_components=min(50, n - 1, vectors.shape[1]), random_state=seed
        ).fit_transform(vectors)
        perplexity = float(min(30, max(5, (n - 1) / 4)))
        coords = TSNE(
            n_components=2,
            perplexity=perplexity,
            init="pca",
            random_state=seed,
            metric="cosine",
            learning_rate="auto",
        ).fit_transform(reduced)
        method = "t-SNE"
    else:
        coords = PCA(n_components=2, random_state=seed).fit_transform(vectors)
        method = "PCA"
    coords = coords - coords.mean(axis=0)
    scale = np.abs(coords).max() or 1.0
    return np.round(coords / scale, 5), method
