"""Choosing a balanced, varied set of excerpts on one focus.

Per field, only the excerpts relevant to the focus are candidates (`pipelines.analysis.focus`
scores them, `pipelines.workshop.relevance` holds a concept to the pack's stricter rule). They are picked by maximal marginal relevance so the pack does
not repeat itself, near duplicates are skipped outright, and when the corpus cannot fill a request
the warnings say so rather than padding with off-topic excerpts. The seed breaks near-ties: the
same seed gives the same choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipelines.analysis.focus import Focus
from pipelines.workshop.relevance import recovery_definitions

if TYPE_CHECKING:
    from pipelines.workshop.pack import PackRequest

MMR_LAMBDA = 0.7  # weight of relevance against redundancy in maximal marginal relevance
NEAR_DUPLICATE = 0.9  # cosine above which a candidate repeats an item already chosen
SEED_JITTER = 0.03  # seeded noise on normalised relevance: different seeds, equally good packs
DEFINITION_BONUS = 0.15  # added to a definition's normalised relevance with `prefer_definitions`
LIVED_SHARE = 1 / 3  # the share of lived-experience items asked for by `lived_experience`


@dataclass(frozen=True)
class Selection:
    """Row positions chosen per field, each field's unchosen candidates best first, and what the
    trainer should know about the choice."""

    chosen: dict[str, list[int]]
    reserves: dict[str, list[int]]
    warnings: list[str]


def quotas(
    fields: tuple[str, ...], items: int, available: dict[str, int], *, equal_per_field: bool
) -> dict[str, int]:
    """Equal numbers per field (remainder to the fields with most to spare), or in proportion to
    what each field has when balance is off."""
    fields = list(fields)
    if equal_per_field:
        base = items // len(fields)
        out = {f: base for f in fields}
        spare = sorted(fields, key=lambda f: (-(available[f] - base), fields.index(f)))
        for f in spare[: items - base * len(fields)]:
            out[f] += 1
        return out
    total = sum(available.values()) or 1
    out = {f: int(items * available[f] / total) for f in fields}
    leftover = items - sum(out.values())
    for f in sorted(fields, key=lambda f: -available[f] / total):
        if leftover <= 0:
            break
        out[f] += 1
        leftover -= 1
    return out


def mmr(
    candidates: list[int],
    relevance: np.ndarray,
    vectors: np.ndarray,
    chosen: list[int],
    count: int,
) -> list[int]:
    """Pick `count` of `candidates` by maximal marginal relevance against `chosen` (which grows),
    skipping near duplicates of anything already chosen."""
    picked: list[int] = []
    pool = list(candidates)
    while pool and len(picked) < count:
        if chosen:
            redundancy = (vectors[pool] @ vectors[chosen].T).max(axis=1)
        else:
            redundancy = np.zeros(len(pool))
        keep = redundancy < NEAR_DUPLICATE
        pool = [p for p, k in zip(pool, keep, strict=True) if k]
        redundancy = redundancy[keep]
        if not pool:
            break
        gain = MMR_LAMBDA * relevance[pool] - (1 - MMR_LAMBDA) * redundancy
        best = int(np.argmax(gain))
        picked.append(pool[best])
        chosen.append(pool[best])
        del pool[best]
    return picked


def _relevance(
    focus: Focus, frame: pd.DataFrame, *, seed: int, prefer_definitions: bool
) -> np.ndarray:
    """The focus's scores scaled to 0-1 over the relevant excerpts, with the seeded jitter and
    the bonus for the definitions the definitions table can show (of recovery or desistance)."""
    scores = focus.scores
    finite = scores[focus.relevant]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    relevance = (scores - low) / ((high - low) or 1.0)
    relevance = relevance + np.random.default_rng(seed).uniform(0, SEED_JITTER, len(relevance))
    if prefer_definitions:
        relevance = relevance + DEFINITION_BONUS * recovery_definitions(frame)
    return relevance


def select(
    request: PackRequest,
    frame: pd.DataFrame,
    vectors: np.ndarray,
    focus: Focus,
    field_labels: dict[str, str],
) -> Selection:
    """The excerpts a pack asks for among those relevant to `focus`;
    `frame` is row-aligned with the unit `vectors`."""
    relevance = _relevance(
        focus, frame, seed=request.seed, prefer_definitions=request.prefer_definitions
    )
    pools = focus.ranked(frame["field"].to_numpy(), request.fields)
    for f in pools:
        pools[f].sort(key=lambda p: -relevance[p])
    wanted = quotas(
        request.fields,
        request.items,
        {f: len(p) for f, p in pools.items()},
        equal_per_field=request.equal_per_field,
    )
    lived = frame["evidence_type"].to_numpy() == "lived_experience"
    chosen_all: list[int] = []
    chosen: dict[str, list[int]] = {f: [] for f in request.fields}
    # Round by round, so no field's early picks crowd out another's by redundancy.
    if request.lived_experience:
        for f in request.fields:
            want = math.ceil(wanted[f] * LIVED_SHARE)
            lived_pool = [p for p in pools[f] if lived[p]]
            chosen[f] += mmr(lived_pool, relevance, vectors, chosen_all, min(want, wanted[f]))
    for f in request.fields:
        rest = [p for p in pools[f] if p not in chosen[f]]
        chosen[f] += mmr(rest, relevance, vectors, chosen_all, wanted[f] - len(chosen[f]))
    warnings = _warnings(request, pools, wanted, chosen, lived, field_labels)
    reserves = {f: [p for p in pools[f] if p not in chosen[f]] for f in request.fields}
    return Selection(chosen, reserves, warnings)


def _warnings(
    request: PackRequest,
    pools: dict[str, list[int]],
    wanted: dict[str, int],
    chosen: dict[str, list[int]],
    lived: np.ndarray,
    field_labels: dict[str, str],
) -> list[str]:
    """What the corpus could not give: a field short of relevant excerpts, too few from lived
    experience, or fewer items than asked because the rest would repeat."""
    warnings = []
    short = [f for f in request.fields if len(pools[f]) < wanted[f]]
    for f in short:
        warnings.append(
            f"The corpus has only {len(pools[f])} excerpt(s) from {field_labels.get(f, f)} relevant to this "
            f"focus; the pack includes those rather than {wanted[f]} (no padding with "
            "off-topic excerpts)."
        )
    if request.lived_experience:
        total_lived = sum(lived[p] for ps in chosen.values() for p in ps)
        target = math.ceil(request.items * LIVED_SHARE)
        if total_lived < target:
            warnings.append(
                f"Only {total_lived} of the pack's items come from lived-experience sources (a "
                f"third would be {target}): the corpus has no more that are relevant to this focus."
            )
    filled = sum(len(c) for c in chosen.values())
    if filled < request.items and not short:
        warnings.append(
            f"The pack has {filled} items, not {request.items}: the rest would have repeated "
            "items already chosen."
        )
    return warnings
