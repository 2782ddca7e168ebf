"""Focus: which excerpts are about a concept, a theme or a question, and how closely.

One resolver serves every place that asks "which excerpts are relevant to this?": the Workshop's
selection and Compare's columns of excerpts on a concept. A focus scores every excerpt (higher is
closer) and marks the *relevant* ones:

- a concept (`chime/hope`): closeness is the best cosine similarity to the concept's prototypes
  (its label, its description and each of its cues, `concept_prototypes`); excerpts tagged with
  the concept rank first (+1), then the rest by closeness; relevant are the tagged ones and those
  at least `RELEVANCE_Z` standard deviations closer than the corpus mean;
- a theme (`theme:T3` or `T3`): its members, by closeness to the theme's centre; only members are
  relevant;
- a question in words: closeness to the question; relevant as for a concept.

Compare used to rank a concept's excerpts its own way: tagged ones by their calibrated tag score,
then the rest by closeness to the concept's label alone. Judged by the development set's hand
codes, that way was the weaker: 0.46 against 0.49 mean precision of the workshop benchmark's packs
(`benchmarks/workshop.py`), and 0.46 against 0.54 for Compare's own columns (the top four of each
of the four fields, on the same five CHIME concepts). Both now rank as above.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.analysis.concepts import Concept, Framework, concept_prototypes, concepts_by_key
from pipelines.analysis.findings import concept_names
from pipelines.errors import input_error

RELEVANCE_Z = 1.0  # a similarity this many SDs above the corpus mean counts as relevant
CONCEPT_KEY = re.compile(r"[a-z0-9_]+/[a-z0-9_]+")


@dataclass(frozen=True)
class Focus:
    kind: str  # "concept", "theme" or "question"
    key: str
    label: str
    scores: np.ndarray  # per excerpt (corpus order), higher is closer
    relevant: np.ndarray  # per excerpt, bool

    def ranked(self, fields_of: np.ndarray, fields: Iterable[str]) -> dict[str, list[int]]:
        """Per field, the row positions of its relevant excerpts, closest first (ties in corpus
        order)."""
        out = {}
        for field in fields:
            members = np.flatnonzero((np.asarray(fields_of) == field) & self.relevant)
            order = members[np.argsort(-self.scores[members], kind="stable")]
            out[field] = [int(p) for p in order]
        return out


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def z_relevant(similarity: np.ndarray) -> np.ndarray:
    """True where `similarity` is at least `RELEVANCE_Z` SDs above its mean over the corpus."""
    spread = float(similarity.std()) or 1.0
    return (similarity - float(similarity.mean())) / spread >= RELEVANCE_Z


# --- the three kinds of focus ---------------------------------------------------------------------


def tag_scores(tags: dict[str, list[dict]], excerpt_ids: Iterable, concept_key: str) -> np.ndarray:
    """Per excerpt: the calibrated score of its `concept_key` tag, or -inf where it has none."""
    ids = list(excerpt_ids)
    scores = np.full(len(ids), -np.inf)
    for position, excerpt_id in enumerate(ids):
        for tag in tags.get(str(excerpt_id), []):
            if tag["concept"] == concept_key:
                scores[position] = tag["score"]
    return scores


def prototypes(concept: Concept) -> list[str]:
    """The texts a concept is recognised by (its label, description and cues), as the tagger uses
    them."""
    texts, _ = concept_prototypes([concept])
    return texts


def concept_closeness(
    concept: Concept,
    vectors: np.ndarray,
    encode: Callable[[list[str]], np.ndarray],
) -> np.ndarray:
    """Per excerpt: the best cosine similarity to any of the concept's `prototypes`."""
    encoded = encode(prototypes(concept))
    return (vectors @ np.stack([unit(v) for v in encoded]).T).max(axis=1)


def concept_focus(
    concept: Concept, *, tag_scores: np.ndarray, closeness: np.ndarray, label: str | None = None
) -> Focus:
    """A concept as a focus, from its `tag_scores` and `closeness` (computed once and cached by
    the app, which is why they are arguments). `label` is its name for reading (with its
    framework's); without it, the label and key."""
    tagged = ~np.isneginf(tag_scores)
    return Focus(
        "concept",
        concept.key,
        label or f"{concept.label} ({concept.key})",
        closeness + tagged,  # tagged excerpts first, then by closeness
        tagged | z_relevant(closeness),
    )


def theme_focus(
    theme: dict, excerpt_ids: Iterable, vectors: np.ndarray, assignments: dict[str, str]
) -> Focus:
    """A theme as a focus: its members by closeness to its centre; the others score -1."""
    key = theme["theme_key"]
    members = np.array([assignments.get(str(i)) == key for i in excerpt_ids], dtype=bool)
    scores = np.full(len(members), -1.0)
    if members.any():
        centre = unit(vectors[members].mean(axis=0))
        scores[members] = vectors[members] @ centre
    return Focus("theme", key, f"{theme['label']} (theme {key})", scores, members)


def question_focus(
    question: str, vectors: np.ndarray, encode: Callable[[list[str]], np.ndarray]
) -> Focus:
    similarity = vectors @ unit(encode([question])[0])
    return Focus("question", question, f"“{question}”", similarity, z_relevant(similarity))


# --- a focus as the user writes it ----------------------------------------------------------------


def resolve_focus(
    focus: str,
    frame: pd.DataFrame,
    vectors: np.ndarray,
    results: dict,
    themes: list[dict],
    assignments: dict[str, str],
    encode: Callable[[list[str]], np.ndarray],
) -> Focus:
    """A concept key (`chime/hope`), a theme (`theme:T3` or its key `T3`) or a question, against
    the corpus (`frame`, row-aligned with unit `vectors`) and the run's `results` (frameworks,
    tags). A concept key or `theme:` the run does not have is an error, not a question."""
    focus = focus.strip()
    if not focus:
        raise input_error("E040", None, detail="the focus is empty")
    frameworks = [Framework.from_json(f) for f in results.get("frameworks") or []]
    concepts = concepts_by_key(frameworks)
    theme_by_key = {t["theme_key"]: t for t in themes}
    theme_key = focus.removeprefix("theme:")
    if focus in concepts:
        return concept_focus(
            concepts[focus],
            tag_scores=tag_scores(results.get("tags") or {}, frame["excerpt_id"], focus),
            closeness=concept_closeness(concepts[focus], vectors, encode),
            label=concept_names(frameworks, quoted=False)[focus],
        )
    if theme_key in theme_by_key:
        return theme_focus(theme_by_key[theme_key], frame["excerpt_id"], vectors, assignments)
    if CONCEPT_KEY.fullmatch(focus):
        raise input_error("E040", None, detail=f"no concept '{focus}' in the current run")
    if focus.startswith("theme:"):
        raise input_error("E040", None, detail=f"no theme '{theme_key}' in the current run")
    return question_focus(focus, vectors, encode)
