"""Readable names for themes: a short phrase a practitioner would use, never citation debris.

A theme's name is built from what it is about, in two ways, in this order:

1. **A concept that is clearly over-represented leads.** When a framework or codebook concept is
   tagged on at least `CONCEPT_SHARE` of the theme's excerpts (and on at least `CONCEPT_MIN` of
   them) and that share is at least `CONCEPT_LIFT` times its share of the whole corpus, the concept
   with the largest share x lift names the theme (its label shortened to five words).
2. **Otherwise, a phrase from its excerpts.** Two- to four-word phrases that occur in at least two
   of the theme's excerpts are ranked by how close their embedding is to the theme's centre, with
   maximal marginal relevance for diversity (in the spirit of BERTopic's KeyBERT-inspired and MMR
   representations); the best phrase is the name and the next two are kept as key phrases.

Names, phrases, key terms and the distinctive vocabulary never contain a cited author's surname,
a proper noun taken from the text (a word written capitalised mid-sentence nearly every time it
occurs, unless a concept uses it), "et al.", a year, or the boilerplate of summaries.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from pipelines.analysis.concepts import Framework, all_concepts
from pipelines.analysis.contract import Lens, Theme

LEXICONS = Path(__file__).resolve().parents[2] / "lexicons"

CONCEPT_SHARE = 0.3
CONCEPT_LIFT = 1.5
CONCEPT_MIN = 3
PHRASE_CANDIDATES = 40
MMR_DIVERSITY = 0.5
FIELD_MAJORITY = 2 / 3  # a theme this share of whose excerpts one field holds may take its words

# The words summaries use about their sources rather than about recovery (a lexicon file).
BOILERPLATE = frozenset(
    line.strip()
    for line in (LEXICONS / "boilerplate.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
_CLAUSE = re.compile(r"[,.;:!?()\[\]\"“”‘’/]+|\s[-–—]\s")
_SENTENCE_START = re.compile(r"(^|[.!?:;]\s+|[\"'(]\s*)$")


def proper_nouns(texts: list[str], *, keep: frozenset[str] = frozenset()) -> frozenset[str]:
    """Words written capitalised mid-sentence in at least 80% of their occurrences (and at least
    twice): people's and organisations' names, which say who wrote about a theme, not what it is."""
    capital: Counter = Counter()
    lower: Counter = Counter()
    acronyms: set[str] = set()
    for text in texts:
        for match in _WORD.finditer(text):
            word = match.group(0)
            low = word.lower()
            if len(word) >= 3 and word.isupper():
                acronyms.add(low)
            if word[0].isupper():
                if not _SENTENCE_START.search(text[: match.start()]):
                    capital[low] += 1
            else:
                lower[low] += 1
    named = {
        w
        for w, c in capital.items()
        if c >= 2 and c >= 0.8 * (c + lower[w]) and w not in keep and len(w) > 1
    }
    return frozenset(named | {w for w in acronyms if lower[w] == 0})


def concept_vocabulary(frameworks: list[Framework]) -> frozenset[str]:
    words = set()
    for concept in all_concepts(frameworks):
        for text in [concept.label, *concept.cues]:
            words.update(w.lower() for w in _WORD.findall(text))
    return frozenset(words)


def banned_words(
    texts: list[str], surnames: frozenset[str], frameworks: list[Framework]
) -> frozenset[str]:
    """Every word that may not appear in a name, a key term or the distinctive vocabulary."""
    keep = concept_vocabulary(frameworks)
    return frozenset(surnames) | BOILERPLATE | proper_nouns(texts, keep=keep)


def short_label(label: str) -> str | None:
    """A concept label as a name of at most five words: parentheses dropped, then cut before a
    preposition that starts a qualifier ("Hope and optimism about the future" -> "Hope and
    optimism"). None when no such cut leaves two to five words: the label cannot name a theme."""
    words = re.sub(r"\s*\([^)]*\)", "", label).strip().rstrip(",").split()
    while len(words) > 5:
        cut = next(
            (i for i in range(len(words) - 1, 1, -1) if words[i].lower() in _CUT_WORDS), None
        )
        if cut is None:
            return None
        words = words[:cut]
    return " ".join(words).rstrip(",") if len(words) >= 2 or len(label.split()) == 1 else None


_CUT_WORDS = {"about", "through", "for", "with", "over", "in", "from"}


def modifiers(texts: list[str], *, at_least: int = 5, share: float = 0.85) -> frozenset[str]:
    """Words that a content word follows in at least `share` of their uses within a clause (and
    that occur `at_least` times): "psychiatric", "mental", "lived". They modify the word after
    them, so a phrase ending in one is cut short ("People with psychiatric", "Mental and
    physical"). Found in the corpus itself, so any field's vocabulary is covered."""
    uses: Counter = Counter()
    followed: Counter = Counter()
    for text in texts:
        for clause in _CLAUSE.split(text):
            words = [w.lower() for w in _WORD.findall(clause)]
            uses.update(words)
            followed.update(
                w
                for w, after in zip(words[:-1], words[1:], strict=True)
                if after not in ENGLISH_STOP_WORDS
            )
    return frozenset(w for w, n in uses.items() if n >= at_least and followed[w] >= share * n)


def candidate_phrases(
    texts: list[str],
    banned: frozenset[str],
    *,
    min_df: int = 2,
    no_end: frozenset[str] = frozenset(),
) -> Counter:
    """Two- to four-word phrases, with the number of texts they occur in: no stop word at either
    end, no banned word anywhere, no word of `no_end` (`modifiers`) last."""
    found: Counter = Counter()
    for text in texts:
        found.update(text_phrases(text, banned, no_end=no_end))
    return Counter({p: c for p, c in found.items() if c >= min_df})


def text_phrases(
    text: str, banned: frozenset[str], *, no_end: frozenset[str] = frozenset()
) -> set[str]:
    """The candidate phrases of one text (see `candidate_phrases`)."""
    seen = set()
    # Phrases never cross punctuation: "hope, personal responsibility" is a list, not a phrase.
    for clause in _CLAUSE.split(text):
        words = [w.lower() for w in _WORD.findall(clause)]
        for n in (2, 3, 4):
            for i in range(len(words) - n + 1):
                gram = words[i : i + n]
                if gram[0] in ENGLISH_STOP_WORDS or gram[-1] in ENGLISH_STOP_WORDS:
                    continue
                if gram[-1] in no_end or _participle(gram[-1]):
                    continue
                if any(w in banned or "'" in w for w in gram):
                    continue
                seen.add(" ".join(gram))
    return seen


def _participle(word: str) -> bool:
    """A phrase ending in a past participle ("interventions focused") is a fragment of a clause,
    not the name of a thing; "need" and "seed" are nouns."""
    return len(word) >= 5 and word.endswith("ed") and not word.endswith("eed")


def rank_phrases(
    phrases: list[str], phrase_vectors: np.ndarray, centre: np.ndarray, *, count: int = 3
) -> list[str]:
    """The phrases closest to the centre, chosen with maximal marginal relevance."""
    if not phrases:
        return []
    relevance = phrase_vectors @ centre
    chosen: list[int] = []
    candidates = list(range(len(phrases)))
    while candidates and len(chosen) < count:
        redundancy = (
            (phrase_vectors[candidates] @ phrase_vectors[chosen].T).max(axis=1)
            if chosen
            else np.zeros(len(candidates))
        )
        scores = (1 - MMR_DIVERSITY) * relevance[candidates] - MMR_DIVERSITY * redundancy
        pick = candidates[int(np.argmax(scores))]
        chosen.append(pick)
        candidates.remove(pick)
    return [phrases[i] for i in chosen]


def leading_concept(
    theme_concepts: list[tuple[str, float]],
    size: int,
    corpus_share: dict[str, float],
) -> str | None:
    """The concept that names the theme by the rule in the module docstring, or None."""
    best, best_score = None, 0.0
    for key, share in theme_concepts:
        base = corpus_share.get(key, 0.0)
        lift = share / base if base else 0.0
        qualifies = share >= CONCEPT_SHARE and share * size >= CONCEPT_MIN and lift >= CONCEPT_LIFT
        if qualifies and share * lift > best_score:
            best, best_score = key, share * lift
    return best


def name_themes(
    themes: list[Theme],
    labels_per_theme: list[np.ndarray],
    texts: list[str],
    vectors: np.ndarray,
    tags,
    frameworks: list[Framework],
    *,
    encode,
    surnames: frozenset[str],
    banned: frozenset[str] | None = None,
    fields: list[str] | None = None,
    phrases_of: dict[int, set[str]] | None = None,
    no_end: frozenset[str] | None = None,
) -> None:
    """Give every theme its readable name (in `label`), its key phrases before its key terms, and
    say in `naming` which rule named it. `labels_per_theme[i]` labels the level of `themes[i]`.
    `phrases_of` keeps each text's phrases by position, shared with `name_families` (a text is
    in a theme of each level and in a family); `no_end` the words no phrase ends with (by
    default the texts' `modifiers`)."""
    phrases_of = {} if phrases_of is None else phrases_of
    no_end = modifiers(texts) if no_end is None else no_end
    banned = banned if banned is not None else banned_words(texts, surnames, frameworks)
    tagged = tags.tagged()
    corpus_share = Counter(k for s in tagged for k in s)
    corpus_share = {k: v / max(len(texts), 1) for k, v in corpus_share.items()}
    concept_labels = {c.key: c.label for c in all_concepts(frameworks)}
    used: Counter = Counter()
    for theme, labels in zip(themes, labels_per_theme, strict=True):
        members = np.flatnonzero(labels == theme.index)
        phrases = _theme_phrases(
            members, texts, vectors, (banned, no_end), encode, fields, phrases_of
        )
        theme.key_terms = [t for t in theme.key_terms if not set(t.split()) & banned]
        concept = leading_concept(theme.concepts, theme.size, corpus_share)
        name, rule = _choose(concept, concept_labels, phrases, used, level=theme.level)
        if rule == "fallback":
            name, rule = _from_terms(theme.key_terms), "its two strongest key terms"
        theme.label, theme.naming = name, rule
        used[(theme.level, name)] += 1
        theme.key_terms = [p for p in phrases if p != name.lower()] + [
            t for t in theme.key_terms if t not in phrases
        ]


def _theme_phrases(
    members, texts, vectors, words, encode, fields=None, phrases_of=None
) -> list[str]:
    """`words`: (banned anywhere, banned last) as `text_phrases` takes them."""
    banned, no_end = words
    phrases_of = {} if phrases_of is None else phrases_of
    for i in members:
        if i not in phrases_of:
            phrases_of[i] = text_phrases(texts[i], banned, no_end=no_end)
    per_text = [phrases_of[i] for i in members]
    counts = Counter(p for found in per_text for p in found)
    candidates = Counter({p: c for p, c in counts.items() if c >= 2})
    if fields is not None:
        candidates = _across_fields(candidates, per_text, [fields[i] for i in members])
    ranked = [p for p, _ in sorted(candidates.items(), key=lambda kv: (-kv[1], kv[0]))]
    ranked = ranked[:PHRASE_CANDIDATES]
    if not ranked:
        return []
    # What sets the theme apart: its centre less the corpus's, so a phrase every theme is close
    # to ("personal recovery") does not name them all.
    centre = vectors[members].mean(axis=0) - vectors.mean(axis=0)
    centre = centre / max(float(np.linalg.norm(centre)), 1e-12)
    return rank_phrases(ranked, np.asarray(encode(ranked)), centre)


def _across_fields(candidates: Counter, per_text: list[set[str]], fields: list[str]) -> Counter:
    """For a theme no field dominates (none holds `FIELD_MAJORITY` of its excerpts), only the
    phrases excerpts of two fields or more use, when there are any: a phrase of one field's
    excerpts ("recovery from schizophrenia") would name a theme of four fields after one."""
    counts = Counter(fields)
    if not counts or max(counts.values()) >= FIELD_MAJORITY * len(fields):
        return candidates
    fields_of: dict[str, set[str]] = {}
    for found, field in zip(per_text, fields, strict=True):
        for phrase in found:
            if phrase in candidates:
                fields_of.setdefault(phrase, set()).add(field)
    shared = Counter({p: c for p, c in candidates.items() if len(fields_of.get(p, ())) >= 2})
    return shared or candidates


def _choose(concept, concept_labels, phrases, used, *, level: int) -> tuple[str, str]:
    name = short_label(concept_labels[concept]) if concept else None
    if name and not used[(level, name)]:
        return (
            name,
            f"concept {concept} over-represented (share >= {CONCEPT_SHARE:.0%}, lift >= {CONCEPT_LIFT})",
        )
    for phrase in phrases:
        name = phrase[0].upper() + phrase[1:]
        if not used[(level, name)]:
            return name, "the phrase from its excerpts closest to its centre"
    return (phrases[0].capitalize() if phrases else "Unnamed theme"), "fallback"


def _from_terms(terms: list[str]) -> str:
    """A name from the key terms when no phrase recurs: the first two, joined."""
    words = [t for t in terms if t][:2]
    if not words:
        return "Unnamed theme"
    text = " and ".join(words)
    return text[0].upper() + text[1:]


def name_families(
    lens: Lens,
    ids: list[int],
    texts: list[str],
    vectors: np.ndarray,
    frameworks: list[Framework],
    *,
    encode,
    surnames: frozenset[str],
    banned: frozenset[str] | None = None,
    fields: list[str] | None = None,
    phrases_of: dict[int, set[str]] | None = None,
    no_end: frozenset[str] | None = None,
) -> None:
    """Name each definition family by a phrase from its members, as themes are named
    (`phrases_of` and `no_end` as in `name_themes`)."""
    phrases_of = {} if phrases_of is None else phrases_of
    no_end = modifiers(texts) if no_end is None else no_end
    if not lens.assignments:
        return
    position = {i: n for n, i in enumerate(ids)}
    banned = banned if banned is not None else banned_words(texts, surnames, frameworks)
    used: Counter = Counter()
    for family in lens.families:
        members = np.array(
            [position[int(i)] for i, f in lens.assignments.items() if f == family.family]
        )
        phrases = _theme_phrases(
            members, texts, vectors, (banned, no_end), encode, fields, phrases_of
        )
        name, _ = _choose(None, {}, phrases, used, level=0)
        if name == "Unnamed theme" or name in {n for (_, n) in used}:
            name = _from_terms([t for t in family.key_terms if not set(t.split()) & banned])
        used[(0, name)] += 1
        family.label = name
        family.key_terms = phrases + [
            t for t in family.key_terms if t not in phrases and not set(t.split()) & banned
        ]
