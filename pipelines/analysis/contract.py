"""The run contract: what an analysis run produces, as typed objects that own their JSON form.

A run is stored as one JSON value per result name (`run_results` rows); `RunResults.to_json()`
gives those values and `load_result` reads one back as its object. The app reads results one name
at a time (a page needs a few, and the per-excerpt ones are large), so every name is loadable on
its own. The JSON form is the stored format: change it only compatibly.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field, fields
from typing import Any

from pipelines import store
from pipelines.analysis.calibration import Calibration
from pipelines.analysis.concepts import Framework

THEME_FINE = 2
THEME_BROAD = 1


@dataclass
class Theme:
    """A cluster of excerpts. Fine themes (level 2) nest in exactly one broad theme (level 1)."""

    key: str  # stable across rebuilds ("T7" fine, "B2" broad): user edits are keyed by it
    index: int  # position in this run's clustering
    label: str  # the readable name
    size: int
    key_terms: list[str]
    term_weights: list[float]
    stability: float
    fragile: bool
    verdict: str  # shared, distinctive or mixed
    verdict_field: str | None
    verdict_reason: str
    representatives: dict[str, list[int]]  # field -> excerpt ids, closest to the centre first
    concepts: list[tuple[str, float]] = field(default_factory=list)  # concept key, share tagged
    level: int = THEME_FINE
    parent: str | None = None  # the broad theme's key, for a fine theme
    naming: str = ""  # how the name was made (which rule named it)
    # Set when read with the user's edits (`results.effective_themes`), never stored.
    machine_label: str = ""
    note: str = ""
    merged_from: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        out = {
            "theme_key": self.key,
            "index": self.index,
            "label": self.label,
            "size": self.size,
            "key_terms": self.key_terms,
            "term_weights": self.term_weights,
            "stability": self.stability,
            "fragile": self.fragile,
            "verdict": self.verdict,
            "verdict_field": self.verdict_field,
            "verdict_reason": self.verdict_reason,
            "representatives": self.representatives,
            "concepts": [list(c) for c in self.concepts],
            "level": self.level,
            "parent": self.parent,
        }
        if self.naming:
            out["naming"] = self.naming
        return out

    @classmethod
    def from_json(cls, value: dict) -> Theme:
        return cls(
            key=value["theme_key"],
            index=int(value["index"]),
            label=value["label"],
            size=int(value["size"]),
            key_terms=list(value["key_terms"]),
            term_weights=list(value.get("term_weights", [])),
            stability=float(value["stability"]),
            fragile=bool(value["fragile"]),
            verdict=value["verdict"],
            verdict_field=value.get("verdict_field"),
            verdict_reason=value.get("verdict_reason", ""),
            representatives={f: list(v) for f, v in value.get("representatives", {}).items()},
            concepts=[(k, float(s)) for k, s in value.get("concepts", [])],
            level=int(value.get("level", THEME_FINE)),
            parent=value.get("parent"),
            naming=value.get("naming", ""),
        )


@dataclass
class Family:
    """A definition family: one theme of a lens (the themes among definitions alone)."""

    family: int
    label: str
    size: int
    key_terms: list[str]
    counts: dict[str, int]
    share_of_field: dict[str, float]
    verdict: str
    verdict_field: str | None
    verdict_reason: str
    exemplars: dict[str, list[int]]

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, value: dict) -> Family:
        return cls(**{f.name: value[f.name] for f in fields(cls)})


@dataclass
class Lens:
    """The theme analysis of a subset of the corpus (its definitions, say)."""

    families: list[Family]
    count: int
    assignments: dict[str, int] | None = None  # excerpt id -> family number

    def to_json(self) -> dict:
        out: dict[str, Any] = {
            "families": [f.to_json() for f in self.families],
            "count": self.count,
        }
        if self.assignments is not None:
            out["assignments"] = self.assignments
        return out

    @classmethod
    def from_json(cls, value: dict) -> Lens:
        return cls(
            [Family.from_json(f) for f in value.get("families", [])],
            int(value.get("count", 0)),
            value.get("assignments"),
        )


@dataclass
class Tag:
    """One concept tagged on one excerpt, with what matched."""

    concept: str
    score: float
    similarity: float
    word_overlap: float
    evidence: str

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, value: dict) -> Tag:
        return cls(**{f.name: value[f.name] for f in fields(cls)})


@dataclass
class Layout:
    """The 2-D map: one point per excerpt id."""

    method: str
    ids: list[int]
    x: list[float]
    y: list[float]

    def to_json(self) -> dict:
        return {"method": self.method, "ids": self.ids, "x": self.x, "y": self.y}

    @classmethod
    def from_json(cls, value: dict) -> Layout:
        return cls(value["method"], list(value["ids"]), list(value["x"]), list(value["y"]))


@dataclass
class ThemeIdentity:
    """What the next build needs to recognise this run's themes: members and centres by key."""

    members: dict[str, list[int]]
    centres: dict[str, list[float]]
    next_key: int
    broad_members: dict[str, list[int]] = field(default_factory=dict)
    broad_centres: dict[str, list[float]] = field(default_factory=dict)
    next_broad_key: int = 1

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, value: dict) -> ThemeIdentity:
        return cls(**{f.name: value[f.name] for f in fields(cls) if f.name in value})


@dataclass
class Incremental:
    """Whether this run re-clustered (`new` is 0) or placed new excerpts into existing themes."""

    full_size: int
    placed_since_full: int = 0
    base_run: int | None = None
    new: int = 0
    far: int = 0
    far_threshold: float | None = None
    rebuild_would_change_themes: bool = False
    rule: str = ""

    @property
    def placed(self) -> bool:
        return self.base_run is not None

    def to_json(self) -> dict:
        if not self.placed:
            return {"full_size": self.full_size, "placed_since_full": self.placed_since_full}
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, value: dict) -> Incremental:
        return cls(**{f.name: value[f.name] for f in fields(cls) if f.name in value})


@dataclass
class ClusteringSummary:
    k: int
    silhouette: dict[str, float]
    method: str
    broad_k: int = 0
    broad_method: str = ""

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, value: dict) -> ClusteringSummary:
        return cls(**{f.name: value[f.name] for f in fields(cls) if f.name in value})


@dataclass
class RunResults:
    """Everything one run computed. Each attribute is stored under its own name."""

    themes: list[Theme]  # fine themes
    broad_themes: list[Theme]
    assignments: dict[str, str]  # excerpt id -> fine theme key
    broad_assignments: dict[str, str]  # excerpt id -> broad theme key
    composition: list[dict]  # fine theme x field counts and shares
    broad_composition: list[dict]  # broad theme x field
    evidence_composition: dict[str, dict[str, int]]
    clustering: ClusteringSummary
    theme_identity: ThemeIdentity
    incremental: Incremental
    excerpt_fields: dict[str, list[str]]  # excerpt id -> [field, kind]
    definitions: Lens
    defined_words: Lens
    tags: dict[str, list[Tag]]  # excerpt id -> tags, best first
    coverage: dict[str, dict[str, float]]  # concept key -> field -> share tagged
    coverage_counts: dict[str, dict[str, int]]  # concept key -> field -> excerpts tagged
    concept_verdicts: list[dict]  # each concept judged as themes are (`findings.concept_verdicts`)
    field_similarity: dict
    vocabulary: list[dict]
    term_contexts: dict
    graph: dict  # networkx node-link data
    graph_layout: dict
    layout: Layout
    frameworks: list[Framework]
    # How coverage was calibrated on hand-coded excerpts (`build --coded`); only such runs store it.
    calibration: Calibration | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            f.name: _encode(getattr(self, f.name))
            for f in fields(self)
            if not (f.name == "calibration" and self.calibration is None)
        }


def _encode(value):
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


_READERS = {
    "themes": lambda v: [Theme.from_json(t) for t in v],
    "broad_themes": lambda v: [Theme.from_json(t) for t in v],
    "clustering": ClusteringSummary.from_json,
    "theme_identity": ThemeIdentity.from_json,
    "incremental": Incremental.from_json,
    "definitions": Lens.from_json,
    "defined_words": Lens.from_json,
    "tags": lambda v: {i: [Tag.from_json(t) for t in tags] for i, tags in v.items()},
    "layout": Layout.from_json,
    "frameworks": lambda v: [Framework.from_json(f) for f in v],
    "calibration": Calibration.from_json,
}
RESULT_NAMES = tuple(f.name for f in fields(RunResults))


def json_default(value):
    """JSON for the numpy scalars and arrays that results may hold."""
    import numpy as np

    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(type(value).__name__)


def load_result(conn: sqlite3.Connection, run_id: int, name: str):
    """One result of a run as its object, or None when the run does not have it (a run made by an
    older version)."""
    if name not in RESULT_NAMES:
        raise KeyError(f"unknown run result {name!r}; known: {', '.join(RESULT_NAMES)}")
    value = store.run_result(conn, run_id, name)
    if value is None:
        return None
    reader = _READERS.get(name)
    return reader(value) if reader else value
