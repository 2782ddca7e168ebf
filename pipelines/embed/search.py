"""Semantic search and cross-field analogues over the store's embedding matrix (exact, by matrix
product: fast well past 100k excerpts)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from pipelines import store
from pipelines.analysis.compare import analogues as nearest_per_field
from pipelines.analysis.themes import theme_space
from pipelines.errors import input_error


def top_k(scores: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """The `k` best-scoring candidates, best first, ties in candidate order: the same as a stable
    sort of all of them, but a partial selection first (a full sort of 100,000 scores was most
    of a search)."""
    values = scores[candidates]
    if k < len(values):
        threshold = np.partition(values, len(values) - k)[len(values) - k]
        keep = np.flatnonzero(values >= threshold)  # every tie at the boundary, in order
        candidates, values = candidates[keep], values[keep]
    return candidates[np.argsort(-values, kind="stable")[:k]]


def pending_note(count: int) -> str:
    """The one line that says how many excerpts a search leaves out until the next build."""
    if count == 1:
        return "1 new excerpt awaits a build (`python -m pipelines build`)."
    return f"{count} new excerpts await a build (`python -m pipelines build`)."


@dataclass
class Index:
    """The embedded excerpts, their embeddings and their field-centred form, loaded once.

    Only excerpts with an embedding under the model are in it: after an ingest without a build
    (or a build killed while embedding) the new ones are left out, counted in `pending`, and
    `covered` marks, per row of the frame it was loaded from, the rows that are in."""

    frame: pd.DataFrame
    vectors: np.ndarray
    model_id: str
    pending: int = 0
    covered: np.ndarray | None = None

    @cached_property
    def centred(self) -> np.ndarray:
        """The field-centred vectors analogues compare, made on first use: search and the
        workshop never need them (a second copy of the matrix)."""
        return theme_space(self.vectors, self.frame["field"].tolist())

    @classmethod
    def load(
        cls, conn: sqlite3.Connection, model_id: str, *, frame: pd.DataFrame | None = None
    ) -> Index:
        """The index of the store's embedded excerpts; `frame` is `store.excerpts(conn)` when the
        caller has it already (the app shares one copy between its pages and the index). Raises
        E064 when none is embedded yet (nothing to search: build first)."""
        frame = store.excerpts(conn) if frame is None else frame
        if frame.empty:
            raise input_error("E024")
        covered = frame["text_hash"].isin(store.cached_hashes(conn, model_id)).to_numpy()
        if not covered.any():
            raise input_error("E064", None, count=len(frame), model=model_id)
        pending = int((~covered).sum())
        if pending:
            frame = frame[covered].reset_index(drop=True)
        vectors = store.load_embeddings(conn, model_id, frame["text_hash"].tolist())
        return cls(frame, vectors, model_id, pending, covered)

    def search(
        self,
        query_vector: np.ndarray,
        *,
        k: int = 10,
        fields: list[str] | None = None,
        evidence_types: list[str] | None = None,
        kinds: list[str] | None = None,
        years: tuple[int, int] | None = None,
    ) -> pd.DataFrame:
        mask = np.ones(len(self.frame), dtype=bool)
        if fields:
            mask &= self.frame["field"].isin(fields).to_numpy()
        if evidence_types:
            mask &= self.frame["evidence_type"].isin(evidence_types).to_numpy()
        if kinds:
            mask &= self.frame["kind"].isin(kinds).to_numpy()
        if years:
            year = self.frame["year"].astype("float").to_numpy()
            mask &= (year >= years[0]) & (year <= years[1])
        scores = self.vectors @ query_vector
        candidates = np.flatnonzero(mask)
        if len(candidates) == 0:
            return self.frame.iloc[0:0].assign(score=[])
        top = top_k(scores, candidates, k)
        return self.frame.iloc[top].assign(score=np.round(scores[top], 4))

    @cached_property
    def _positions(self) -> dict[int, int]:
        return {int(e): i for i, e in enumerate(self.frame["excerpt_id"].to_numpy())}

    def analogues(self, excerpt_id: int, *, k: int = 3) -> pd.DataFrame:
        """The nearest excerpts in each other field. Field-centred vectors are compared, so a
        counterpart is found by what it says rather than by sharing the other field's register
        (on the development set this raises the share of analogues that make the same point)."""
        return self.analogues_of([excerpt_id], k=k)[excerpt_id]

    def analogues_of(self, excerpt_ids: list[int], *, k: int = 3) -> dict[int, pd.DataFrame]:
        """`analogues` of several excerpts at once (one matrix product for all of them): the
        `k` nearest in each other field, fields in name order, with `rank` and `similarity`."""
        positions = []
        for excerpt_id in excerpt_ids:
            if int(excerpt_id) not in self._positions:
                raise input_error("E028", None, value=excerpt_id)
            positions.append(self._positions[int(excerpt_id)])
        out: dict[int, pd.DataFrame] = {}
        found = nearest_per_field(positions, self.centred, self.frame["field"].to_numpy(), k=k)
        for excerpt_id, per_field in zip(excerpt_ids, found, strict=True):
            # The similarity shown is the one they were ranked by (of the field-centred
            # vectors): the raw vectors' similarity put rank 1 below rank 2 now and then.
            picked = [i for items in per_field.values() for i, _ in items]
            ranks = [rank for items in per_field.values() for rank in range(1, len(items) + 1)]
            similarity = [score for items in per_field.values() for _, score in items]
            out[excerpt_id] = self.frame.iloc[picked].assign(
                rank=ranks, similarity=np.round(np.asarray(similarity, dtype=float), 4)
            )
        return out

    def no_analogues_reason(self, excerpt_id: int) -> str | None:
        """Why `excerpt_id` has no analogues (it awaits a build, or there is no other field), or
        None when it has some."""
        if int(excerpt_id) not in self._positions:
            return (
                f"excerpt {excerpt_id} has no embedding yet, so it has no analogues: run "
                "`python -m pipelines build` first."
            )
        fields = set(self.frame["field"])
        if len(fields) < 2:
            return f"no other field: every embedded excerpt is in {fields.pop()}."
        return None


def resolve_excerpt(frame: pd.DataFrame, value: str) -> tuple[int, str | None]:
    """The excerpt that `value` names, by its id or its external id (from the user's file), and a
    note saying which was used when that is not plain. The id wins when a value is both
    (`analogues EXCERPT_ID` has always meant the id); the note names the other excerpt."""
    value = value.strip()
    if not value:  # excerpts without an id in their file have an empty external id
        raise input_error("E067", None, value=value)
    ids = frame["external_id"]
    external = [int(i) for i in frame.loc[ids.notna() & (ids.astype(str) == value), "excerpt_id"]]
    internal = int(value) if value.isdigit() and int(value) in set(frame["excerpt_id"]) else None
    if internal is not None:
        others = [i for i in external if i != internal]
        if not others:
            return internal, None
        return internal, (
            f"'{value}' is excerpt {internal}'s id and the external id of excerpt "
            f"{', '.join(map(str, others))}; used excerpt {internal} (the internal id)."
        )
    if not external:
        raise input_error("E067", None, value=value)
    if len(external) > 1:
        raise input_error(
            "E068", None, value=value, count=len(external), ids=", ".join(map(str, external))
        )
    return external[0], f"'{value}' is the external id of excerpt {external[0]}."
