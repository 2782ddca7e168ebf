"""Which excerpts a workshop pack may use, and which of them the definitions table may show.

Read as a trainer reads them, about 9 of the 24 cards of a "hope" pack were not about hope (#28).
The focus resolver (`pipelines.analysis.focus`, shared with Compare) counts an excerpt relevant
to a concept when it is tagged with it or merely one standard deviation closer to it than the
corpus mean; on the bundled corpus and model only 0.19 of the excerpts of three fields it called
relevant to `chime/hope` carry the development set's hand code "hope" (`benchmarks/devset`), and
closeness alone cannot fix that: even at a cosine of 0.5 to the concept, only 0.24 of them do.

So a pack holds a concept focus to a stated rule a trainer can check on every card. An excerpt
is **on the focus** when

1. the concept's *cue* is in its text, and
2. it is at least as close to the concept as the corpus's mean excerpt (`CUE_MIN_Z`), so a
   passing mention inside a text about something else does not count.

A cue is a content word of the concept's label, matched as the start of a word ("hope" finds
"hopeful", "identity" finds "identities", "stigma" finds "stigmatised"). Label words that at
least `CUE_MAX_SHARE` of the corpus's excerpts use ("recovery", "life", "desistance") are left
out: they say nothing about the concept. Tags still rank the candidates first, but a tag alone
does not make an excerpt a candidate, and the concept's cue phrases are not cues: both were
measured and both let in what a trainer would not call on the focus (of the excerpts tagged with
`chime/identity` but without the word, 0.36 carry the hand code; with `cross_field/stigma_and_labels`
0.54; the cue phrases are generic, "quality of life", "peer support").

Measured on the bundled corpus with the bundled model against the hand codes (mental health,
substance use and criminal justice; the share of the candidates coded with the matching code,
the resolver's rule to this one): `chime/hope` 0.19 to 0.70, `chime/identity` 0.35 to 0.82,
`cross_field/stigma_and_labels` 0.45 to 0.98, `chime/meaning` 0.21 to 0.52, `chime/empowerment`
0.35 to 0.42, `cross_field/nonlinear_process` 0.33 to 0.45, `chime/connectedness` 0.43 to 1.00.
The price is fewer candidates (5 to 69 against 84 to 129): a concept whose words few excerpts use
(connectedness: 5) gets a smaller pack with a warning, never padding.

A theme focus keeps its members (they are the theme), and a question keeps the resolver's rule:
a question's words are mostly the corpus's common ones, and there are no hand codes to measure a
stricter rule against.

The definitions table shows **definitions of recovery or desistance**: excerpts the corpus marks
`kind = definition` whose text names recovery or desistance as a common noun (`DEFINES`). The
corpus's `definition` kind also covers definitions of Housing First, peer support or safe supply,
and a study that carries the word in its name ("the Liverpool Desistance Study", written with a
capital mid-sentence) is a study-design note, not a definition.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from pipelines.analysis.concepts import Concept, Framework, concepts_by_key
from pipelines.analysis.focus import Focus, tag_scores

CUE_MAX_SHARE = 0.10  # a label word this share of the corpus's excerpts use is no cue
CUE_MIN_Z = 0.0  # closeness to the concept, in SDs above the corpus mean, an item needs
MIN_WORD = 4  # shorter label words ("of", "and", "the") are never cues
DEFINES = re.compile(r"\b(?:recover|desist)\w*", re.IGNORECASE)
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|[\"'“‘(]\s*)$")
_SUFFIXES = ("istic", "ness", "ism", "es", "s", "e", "y")  # not "ing": "meaning" is not "mean"


def stem(word: str) -> str:
    """The word without one common ending, kept at least `MIN_WORD` letters long: a prefix that
    finds the word's other forms (identity, identities; label, labelled)."""
    word = word.lower()
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= MIN_WORD:
            return word[: -len(suffix)]
    return word


def _prefix_pattern(prefixes: list[str]) -> re.Pattern | None:
    if not prefixes:
        return None
    return re.compile(r"\b(?:" + "|".join(prefixes) + r")", re.IGNORECASE)


def cue_matches(concept: Concept, texts: list[str]) -> np.ndarray:
    """Per text: whether one of the concept's cues (an uncommon content word of its label) is in
    it, by the rule in the module docstring."""
    label_words = {
        stem(w)
        for w in re.findall(r"[A-Za-z]+", concept.label)
        if len(w) >= MIN_WORD and w.lower() not in ENGLISH_STOP_WORDS
    }
    found = np.zeros(len(texts), dtype=bool)
    for word in sorted(label_words):
        pattern = _prefix_pattern([re.escape(word)])
        hits = np.array([bool(pattern.search(t)) for t in texts], dtype=bool)
        if len(texts) and hits.mean() < CUE_MAX_SHARE:
            found |= hits
    return found


def on_focus(focus: Focus, frame: pd.DataFrame, results: dict) -> Focus:
    """`focus` with only the excerpts a pack may use marked relevant: for a concept, those the
    module docstring's rule accepts; a theme or a question as the resolver marked them."""
    if focus.kind != "concept":
        return focus
    frameworks = [Framework.from_json(f) for f in results.get("frameworks") or []]
    concept = concepts_by_key(frameworks)[focus.key]
    tagged = ~np.isneginf(tag_scores(results.get("tags") or {}, frame["excerpt_id"], focus.key))
    closeness = focus.scores - tagged  # the resolver ranks tagged excerpts first by adding 1
    spread = float(closeness.std()) or 1.0
    close_enough = (closeness - float(closeness.mean())) / spread >= CUE_MIN_Z
    cued = cue_matches(concept, frame["text"].astype(str).tolist())
    return replace(focus, relevant=cued & close_enough)


def defines_recovery(text: str, kind: str | None) -> bool:
    """Whether an excerpt can stand in the definitions table: a `definition` that names recovery
    or desistance as a common noun (lower case, or capitalised only to start a sentence)."""
    if kind != "definition":
        return False
    for match in DEFINES.finditer(text):
        word = match.group(0)
        if word[0].islower() or _SENTENCE_START.search(text[: match.start()]):
            return True
    return False


def recovery_definitions(frame: pd.DataFrame) -> np.ndarray:
    """Per excerpt of `frame`: `defines_recovery`."""
    return np.array(
        [defines_recovery(str(t), k) for t, k in zip(frame["text"], frame["kind"], strict=True)],
        dtype=bool,
    )
