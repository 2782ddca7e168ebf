"""Incremental analysis: place a few new excerpts into the current themes instead of re-clustering.

Rule: the current run's themes are kept, and each new excerpt joins the theme whose centre (in
theme space) is most similar, when
- the current run was computed with the same model, frameworks, method and seed,
- every excerpt of the current run is still in the store, in the same field and of the same kind,
- no new field appears, and
- the excerpts placed since the last full clustering are at most `MAX_SHARE` of that clustering's
  excerpts (and at most `MAX_COUNT`).
Anything else, or `build --full`, re-clusters from scratch.

A placed excerpt is *far* when its similarity to its theme's centre is below the `FAR_QUANTILE`
quantile of the existing excerpts' similarities to their own centres. When the share of far new
excerpts is more than twice that quantile's (and at least `MIN_FAR`), the new excerpts do not fit
the themes well and a full rebuild would change them: the run records it, `build` prints it and
the Themes page says so.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pipelines import store

# Importing themes loads scikit-learn; the app's Themes page needs only `rebuild_notice`.
if TYPE_CHECKING:
    from pipelines.analysis.themes import Clustering

MAX_SHARE = 0.05
MAX_COUNT = 2000
FAR_QUANTILE = 0.05
MIN_FAR = 3


@dataclass
class Placement:
    clustering: Clustering  # the previous themes, with the new excerpts placed
    stability: np.ndarray  # carried from the previous run, by theme index
    base_run: int  # the last run that clustered from scratch
    placed: int  # excerpts placed into existing themes since that run (this run's included)
    new: int  # excerpts placed in this run
    far: int  # of those, how many are far from every theme centre
    threshold: float
    rebuild_would_change: bool

    def record(self) -> dict:
        return {
            "base_run": self.base_run,
            "placed_since_full": self.placed,
            "new": self.new,
            "far": self.far,
            "far_threshold": round(self.threshold, 4),
            "rebuild_would_change_themes": self.rebuild_would_change,
            "rule": f"new excerpts since the last full clustering <= {MAX_SHARE:.0%} of it "
            f"(and <= {MAX_COUNT}); none removed or moved",
        }


def previous_labels(conn: sqlite3.Connection, run) -> tuple[dict[int, int], list[dict], dict]:
    """The previous run's theme index per excerpt id, its themes and its incremental record."""
    themes = store.run_result(conn, run["id"], "themes") or []
    index_of = {t["theme_key"]: t["index"] for t in themes}
    assignments = store.run_result(conn, run["id"], "assignments") or {}
    record = store.run_result(conn, run["id"], "incremental") or {}
    return {int(i): index_of[k] for i, k in assignments.items()}, themes, record


def plan(
    conn: sqlite3.Connection,
    latest,
    *,
    params_hash: str,
    frame,
    theme_vectors: np.ndarray,
) -> Placement | None:
    """The placement of the new excerpts into the latest run's themes, or None when the rule
    (module docstring) calls for a full re-clustering."""
    from pipelines.analysis.themes import Clustering, normalise

    if latest is None or json.loads(latest["params"]).get("hash") != params_hash:
        return None
    labels_by_id, themes, record = previous_labels(conn, latest)
    if not themes or not labels_by_id:
        return None
    previous = store.run_result(conn, latest["id"], "layout") or {}
    kinds = store.run_result(conn, latest["id"], "excerpt_fields") or {}
    ids = frame["excerpt_id"].astype(int).to_numpy()
    known = np.array([i in labels_by_id for i in ids])
    if known.sum() != len(labels_by_id) or known.all():
        return None  # an excerpt was removed (or nothing is new: a plain recompute)
    current = {
        int(i): [f, k]
        for i, f, k in zip(ids, frame["field"], frame["kind"].fillna(""), strict=True)
    }
    if any(current[int(i)] != kinds.get(str(i)) for i in ids[known]):
        return None  # an excerpt changed field or kind
    if set(frame["field"][~known]) - set(frame["field"][known]):
        return None  # a new field
    full_size = record.get("full_size", int(known.sum()))
    placed = record.get("placed_since_full", 0) + int((~known).sum())
    if placed > min(MAX_SHARE * full_size, MAX_COUNT):
        return None
    if len(previous.get("ids", [])) != int(known.sum()):
        return None

    k = len(themes)
    labels = np.full(len(ids), -1)
    labels[known] = [labels_by_id[int(i)] for i in ids[known]]
    centres = normalise(np.vstack([theme_vectors[labels == t].mean(axis=0) for t in range(k)]))
    own = (theme_vectors[known] * centres[labels[known]]).sum(axis=1)
    threshold = float(np.quantile(own, FAR_QUANTILE))
    sims = theme_vectors[~known] @ centres.T
    labels[~known] = np.argmax(sims, axis=1)
    far = int((sims.max(axis=1) < threshold).sum())
    new = int((~known).sum())
    centres = normalise(np.vstack([theme_vectors[labels == t].mean(axis=0) for t in range(k)]))
    by_index = {t["index"]: t for t in themes}
    stability = np.array([by_index[t]["stability"] for t in range(k)], dtype=float)
    clustering = Clustering(labels, centres, k, {})
    return Placement(
        clustering=clustering,
        stability=stability,
        base_run=int(record.get("base_run", latest["id"])),
        placed=placed,
        new=new,
        far=far,
        threshold=threshold,
        rebuild_would_change=far >= MIN_FAR and far / new > 2 * FAR_QUANTILE,
    )


def rebuild_notice(conn: sqlite3.Connection, run_id: int) -> str | None:
    """A sentence for the app when the run placed new excerpts into existing themes and a full
    rebuild would change the themes; None otherwise."""
    record = store.run_result(conn, run_id, "incremental") or {}
    if not record.get("rebuild_would_change_themes"):
        return None
    return (
        f"{record['placed_since_full']} excerpts added since run {record['base_run']} were placed "
        f"into its themes without re-clustering, and {record['far']} of the latest "
        f"{record['new']} are far from every theme: a full rebuild "
        "(`python -m pipelines build --full`) would change the themes."
    )
