"""Concept tags calibrated on hand-coded excerpts (`build --coded FILE`, issue #23).

The cues of a concept are written in some fields' words and not others', so tagging by cues
undercounts a concept in a field that says the same thing differently (coverage per field was off
by 0.07 on the development set, and named the wrong top field for half the labels). A person's
codes say what the cues miss. For each concept with enough coded examples either way, a logistic
regression learns from the coded excerpts' raw embeddings (which carry each field's own wording)
joined with their concept scores; its bar is set so that, on the coded excerpts (predicted out of
fold), it tags the concept as often as the coders did. Every other concept keeps its cue-based tags.
Coded excerpts carry their hand codes: they are the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from pipelines.analysis.coded import MIN_EXAMPLES, CodedExcerpts

SCORE_SCALE = 5.0  # tagging scores run to about 5; divided, they weigh like the embedding's parts
# Added to a calibrated concept's probability when it ranks against fallback concepts' scores
# (which stay well under 100), so every calibrated concept that passes its bar ranks first.
CALIBRATED_FIRST = 1e6
FOLDS = 5
MAX_TAGS = 3
METHOD = (
    "logistic regression (C=1) on the raw embedding and the framework's concept scores / 5; "
    "bar matched to the coded share, out of fold"
)


@dataclass
class ConceptCalibration:
    """How one concept of a coded framework was tagged."""

    concept: str
    calibrated: bool  # False: too few coded examples, the cues alone tag it
    positives: int  # coded excerpts with the concept
    negatives: int  # coded excerpts without it
    bar: float | None = None  # the probability at or above which it is tagged, when calibrated

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, value: dict) -> ConceptCalibration:
        return cls(**{f.name: value[f.name] for f in fields(cls) if f.name in value})


@dataclass
class Calibration:
    """The `calibration` run result: what the app and exports say about calibrated coverage."""

    source: str  # the coded file, as given
    coded: int  # excerpts coded by hand
    concepts: list[ConceptCalibration]
    method: str = METHOD

    @property
    def calibrated(self) -> int:
        return sum(c.calibrated for c in self.concepts)

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "coded": self.coded,
            "concepts": [c.to_json() for c in self.concepts],
            "method": self.method,
        }

    @classmethod
    def from_json(cls, value: dict) -> Calibration:
        return cls(
            value["source"],
            int(value["coded"]),
            [ConceptCalibration.from_json(c) for c in value["concepts"]],
            value.get("method", METHOD),
        )


@dataclass
class FrameworkCalibration:
    """One coded framework's concepts read through the calibration, per excerpt."""

    members: dict[str, np.ndarray]  # concept key -> bool per excerpt, after the cap
    probability: dict[str, np.ndarray]  # calibrated concept key -> probability per excerpt
    report: list[ConceptCalibration]


def calibrate_framework(
    keys: list[str],
    scores: np.ndarray,
    cue_members: dict[str, np.ndarray],
    vectors: np.ndarray,
    coded_rows: dict[int, frozenset[str]],
    *,
    need: int = MIN_EXAMPLES,
    max_tags: int = MAX_TAGS,
) -> FrameworkCalibration:
    """Calibrated membership of one framework's concepts (`keys`, the columns of `scores`).

    `cue_members` is the uncalibrated membership (`framework_lens`), kept for concepts with fewer
    than `need` coded excerpts either way; `vectors` are the raw embeddings; `coded_rows` maps an
    excerpt's position to its hand codes. An excerpt not coded takes the calibrated concepts whose
    probability reaches their bar, most probable first, then the cue-tagged fallback concepts,
    strongest first, at most `max_tags` in all; a coded excerpt takes its hand codes."""
    features = np.hstack([vectors, scores / SCORE_SCALE]).astype(np.float64)
    rows = np.array(sorted(coded_rows), dtype=np.int64)
    report, probability = [], {}
    for key in keys:
        truth = np.array([key in coded_rows[i] for i in rows], dtype=bool)
        positives, negatives = int(truth.sum()), int((~truth).sum())
        if positives < need or negatives < need:
            report.append(ConceptCalibration(key, False, positives, negatives))
            continue
        probability[key], bar = fit_concept(features, rows, truth)
        report.append(ConceptCalibration(key, True, positives, negatives, round(bar, 6)))
    bars = {c.concept: c.bar for c in report if c.calibrated}
    members = capped_members(keys, scores, cue_members, probability, bars, max_tags=max_tags)
    for i in rows:
        for key in keys:
            members[key][i] = key in coded_rows[i]
    return FrameworkCalibration(members, probability, report)


def fit_concept(
    features: np.ndarray, rows: np.ndarray, truth: np.ndarray
) -> tuple[np.ndarray, float]:
    """(the probability of the concept for every excerpt, the bar). The bar is the out-of-fold
    probability that as many coded excerpts reach as the coders gave the concept: an in-sample
    probability would be overconfident on the very excerpts it learnt from, and the bar too high."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    def model() -> LogisticRegression:
        return LogisticRegression(C=1.0, max_iter=5000)

    positives = int(truth.sum())
    folds = StratifiedKFold(
        n_splits=min(FOLDS, positives, len(truth) - positives), shuffle=True, random_state=0
    )
    held_out = np.zeros(len(rows))
    for train, test in folds.split(rows, truth):
        fitted = model().fit(features[rows[train]], truth[train])
        held_out[test] = fitted.predict_proba(features[rows[test]])[:, 1]
    bar = float(np.sort(held_out)[::-1][positives - 1])
    everyone = model().fit(features[rows], truth).predict_proba(features)[:, 1]
    return everyone, bar


def capped_members(
    keys: list[str],
    scores: np.ndarray,
    cue_members: dict[str, np.ndarray],
    probability: dict[str, np.ndarray],
    bars: dict[str, float],
    *,
    max_tags: int,
) -> dict[str, np.ndarray]:
    """Each concept's membership with at most `max_tags` concepts per excerpt: a calibrated
    concept that reaches its bar ranks by its probability, ahead of every fallback concept (the
    coders' judgement outranks the cues), which ranks by its score."""
    n = scores.shape[0]
    rank = np.full((n, len(keys)), -np.inf)
    for j, key in enumerate(keys):
        if key in probability:
            passes = probability[key] >= bars[key]
            rank[passes, j] = CALIBRATED_FIRST + probability[key][passes]
        else:
            rank[cue_members[key], j] = scores[cue_members[key], j]
    order = np.argsort(-rank, axis=1, kind="stable")[:, :max_tags]
    chosen = np.zeros((n, len(keys)), dtype=bool)
    np.put_along_axis(chosen, order, True, axis=1)
    chosen &= np.isfinite(rank)
    return {key: chosen[:, j].copy() for j, key in enumerate(keys)}


def coded_positions(coded: CodedExcerpts, ids: list[int]) -> dict[int, frozenset[str]]:
    """The hand codes by the excerpt's position in the run (excerpts coded but no longer in the
    store are not in `ids` and are left out)."""
    position = {excerpt_id: i for i, excerpt_id in enumerate(ids)}
    return {position[e]: keys for e, keys in coded.codes.items() if e in position}
