"""Workshop packs: a balanced, diversified selection of excerpts on one focus, turned into a card
sort, a "which field said this?" quiz, definitions side by side and discussion prompts whose every
number comes from the current analysis run.

The selection, per field: candidates are scored for relevance to the focus (a concept, a theme or a
free-text question); only *relevant* candidates may be chosen (tagged with the concept, members of
the theme, or at least `RELEVANCE_Z` standard deviations above the corpus mean similarity to the
focus); they are picked by maximal marginal relevance so the pack does not repeat itself, near
duplicates are skipped outright, and when the corpus cannot fill a request the pack says so rather
than padding with off-topic excerpts. The seed breaks near-ties and orders the cards and the quiz,
so the same seed gives the same pack.

The renderers (DOCX, PPTX, PDF cards, print-ready HTML, Markdown, CSV) live in
`workshop_formats.py`.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from pipelines import store
from pipelines.analysis.concepts import Concept, concept_prototypes
from pipelines.analysis.results import current_run_id, effective_themes
from pipelines.errors import input_error

MIN_ITEMS, MAX_ITEMS = 8, 40
MIN_FIELDS, MAX_FIELDS = 2, 4
RELEVANCE_Z = 1.0  # a similarity this many SDs above the corpus mean counts as relevant
MMR_LAMBDA = 0.7  # weight of relevance against redundancy in maximal marginal relevance
NEAR_DUPLICATE = 0.9  # cosine above which a candidate repeats an item already chosen
SEED_JITTER = 0.03  # seeded noise on normalised relevance: different seeds, equally good packs
LIVED_SHARE = 1 / 3  # the share of lived-experience items asked for by `lived_experience`
QUIZ_MAX = 12
DEFINITIONS_PER_FIELD = 3
MASK = "[…]"

# Wording that gives a card's field away. People nouns become neutral ones; other giveaways are
# masked. Trainers can keep the original wording (`keep_wording`).
PEOPLE_WORDS = {
    "ex-offenders": "people",
    "ex-offender": "person",
    "offenders": "people",
    "offender": "person",
    "ex-prisoners": "people",
    "ex-prisoner": "person",
    "prisoners": "people",
    "prisoner": "person",
    "probationers": "people",
    "probationer": "person",
    "patients": "people",
    "patient": "person",
    "addicts": "people",
    "addict": "person",
    "rough sleepers": "people",
    "rough sleeper": "person",
    "inmates": "people",
    "inmate": "person",
    "convicts": "people",
    "convict": "person",
}
FIELD_WORDS = [
    r"mental[- ]health",
    r"mental illness(?:es)?",
    r"psychiatr\w*",
    r"psychos[ie]s",
    r"psychotic",
    r"schizophreni\w*",
    r"clinical(?:ly)?",
    r"clinicians?",
    r"substance[- ]use",
    r"substances?",
    r"addict\w*",
    r"alcohol\w*",
    r"drugs?",
    r"drinking",
    r"sobriety",
    r"sober",
    r"heroin",
    r"opioids?",
    r"methadone",
    r"criminal[- ]justice",
    r"criminal",
    r"crimes?",
    r"(?:re)?offending",
    r"desist\w*",
    r"prisons?",
    r"probation",
    r"incarcerat\w*",
    r"convictions?",
    r"sentences?",
    r"homeless\w*",
    r"rough sleeping",
    r"shelters?",
    r"hostels?",
    r"tenanc(?:y|ies)",
]


@dataclass(frozen=True)
class PackRequest:
    """What a trainer asks for."""

    focus: str
    fields: tuple[str, ...]
    items: int = 24
    equal_per_field: bool = True
    lived_experience: bool = False
    prefer_definitions: bool = True
    keep_wording: bool = False
    seed: int = 42


@dataclass
class Item:
    excerpt_id: int
    external_id: str
    field: str
    field_label: str
    kind: str
    evidence_type: str
    text: str
    front: str
    masked: list[str]
    short_citation: str
    citation: str
    concepts: list[str]
    theme: str
    relevance: float
    number: int = 0

    @property
    def lived_experience(self) -> bool:
        return self.evidence_type == "lived_experience"


@dataclass
class Prompt:
    """A discussion prompt: what the run shows (with its numbers) and the question to discuss."""

    kind: str
    statement: str
    question: str


@dataclass
class Pack:
    request: PackRequest
    focus_label: str
    focus_kind: str
    run_id: int
    field_labels: dict[str, str]
    items: list[Item]
    prompts: list[Prompt]
    warnings: list[str]
    reserves: dict[str, list[Item]] = field(default_factory=dict)

    @property
    def fields(self) -> tuple[str, ...]:
        return self.request.fields

    def definitions(self) -> dict[str, list[Item]]:
        """Per field, the pack's definitions (the most relevant first)."""
        out = {}
        for f in self.fields:
            chosen = [i for i in self.items if i.field == f and i.kind == "definition"]
            out[f] = sorted(chosen, key=lambda i: -i.relevance)[:DEFINITIONS_PER_FIELD]
        return out

    def quiz(self) -> list[Item]:
        """Up to QUIZ_MAX items for "which field said this?", balanced across fields, in a
        seeded order."""
        by_field = {f: [i for i in self.items if i.field == f] for f in self.fields}
        chosen: list[Item] = []
        depth = 0
        while len(chosen) < min(QUIZ_MAX, len(self.items)):
            added = False
            for f in self.fields:
                if depth < len(by_field[f]) and len(chosen) < QUIZ_MAX:
                    chosen.append(by_field[f][depth])
                    added = True
            if not added:
                break
            depth += 1
        order = np.random.default_rng(self.request.seed + 1).permutation(len(chosen))
        return [chosen[i] for i in order]

    def bibliography(self) -> list[str]:
        """APA 7 references of every item, alphabetical, each once."""
        return sorted({i.citation for i in self.items}, key=str.lower)

    def facilitator_notes(self) -> list[tuple[str, str]]:
        return facilitator_notes(self)


# --- focus and relevance -------------------------------------------------------------------------


@dataclass
class Focus:
    kind: str  # "concept", "theme" or "question"
    key: str
    label: str
    scores: np.ndarray  # per excerpt, higher is closer
    relevant: np.ndarray  # per excerpt, bool


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def _z_relevant(similarity: np.ndarray) -> np.ndarray:
    spread = float(similarity.std()) or 1.0
    return (similarity - float(similarity.mean())) / spread >= RELEVANCE_Z


def resolve_focus(
    focus: str,
    frame: pd.DataFrame,
    vectors: np.ndarray,
    results: dict,
    themes: list[dict],
    assignments: dict[str, str],
    encode: Callable[[list[str]], np.ndarray],
) -> Focus:
    """A concept key (`chime/hope`), a theme (`theme:T3` or its key `T3`) or a question."""
    focus = focus.strip()
    if not focus:
        raise input_error("E040", None, detail="the focus is empty")
    concepts = {c["key"]: c for f in results.get("frameworks") or [] for c in f.get("concepts", [])}
    theme_by_key = {t["theme_key"]: t for t in themes}
    theme_key = focus.removeprefix("theme:")
    if focus in concepts:
        concept = concepts[focus]
        prototypes, _ = concept_prototypes(
            [
                Concept(
                    framework=focus.split("/")[0],
                    id=focus.split("/")[1],
                    label=concept["label"],
                    description=concept.get("description", ""),
                    cues=concept.get("cues", []),
                )
            ]
        )
        similarity = (vectors @ np.stack([_unit(v) for v in encode(prototypes)]).T).max(axis=1)
        tagged = np.zeros(len(frame), dtype=bool)
        tags = results.get("tags") or {}
        for position, excerpt_id in enumerate(frame["excerpt_id"]):
            tagged[position] = any(t["concept"] == focus for t in tags.get(str(excerpt_id), []))
        return Focus(
            "concept",
            focus,
            f"{concept['label']} ({focus})",
            similarity + tagged,  # tagged excerpts first, then by closeness
            tagged | _z_relevant(similarity),
        )
    if theme_key in theme_by_key:
        members = np.array([assignments.get(str(i)) == theme_key for i in frame["excerpt_id"]])
        scores = np.full(len(frame), -1.0)
        if members.any():
            centre = _unit(vectors[members].mean(axis=0))
            scores[members] = vectors[members] @ centre
        theme = theme_by_key[theme_key]
        return Focus("theme", theme_key, f"{theme['label']} (theme {theme_key})", scores, members)
    if re.fullmatch(r"[a-z0-9_]+/[a-z0-9_]+", focus):
        raise input_error("E040", None, detail=f"no concept '{focus}' in the current run")
    if focus.startswith("theme:"):
        raise input_error("E040", None, detail=f"no theme '{theme_key}' in the current run")
    similarity = vectors @ _unit(encode([focus])[0])
    return Focus("question", focus, f"“{focus}”", similarity, _z_relevant(similarity))


# --- selection ------------------------------------------------------------------------------------


def _quotas(request: PackRequest, available: dict[str, int]) -> dict[str, int]:
    """Equal numbers per field (remainder to the fields with most to spare), or in proportion to
    what each field has when balance is off; never more than a field has."""
    fields = list(request.fields)
    if request.equal_per_field:
        base = request.items // len(fields)
        quotas = {f: base for f in fields}
        spare = sorted(fields, key=lambda f: (-(available[f] - base), fields.index(f)))
        for f in spare[: request.items - base * len(fields)]:
            quotas[f] += 1
        return quotas
    total = sum(available.values()) or 1
    quotas = {f: int(request.items * available[f] / total) for f in fields}
    leftover = request.items - sum(quotas.values())
    for f in sorted(fields, key=lambda f: -available[f] / total):
        if leftover <= 0:
            break
        quotas[f] += 1
        leftover -= 1
    return quotas


def _mmr(
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


def select(
    request: PackRequest,
    frame: pd.DataFrame,
    vectors: np.ndarray,
    focus: Focus,
    field_labels: dict[str, str],
) -> tuple[dict[str, list[int]], dict[str, list[int]], list[str]]:
    """Row positions chosen per field, the ranked reserves per field, and warnings."""
    rng = np.random.default_rng(request.seed)
    scores = focus.scores
    finite = scores[focus.relevant]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    relevance = (scores - low) / ((high - low) or 1.0)
    relevance = relevance + rng.uniform(0, SEED_JITTER, len(relevance))
    if request.prefer_definitions:
        relevance = relevance + 0.15 * (frame["kind"].to_numpy() == "definition")
    field_values = frame["field"].to_numpy()
    lived = frame["evidence_type"].to_numpy() == "lived_experience"
    pools = {
        f: [int(p) for p in np.flatnonzero((field_values == f) & focus.relevant)]
        for f in request.fields
    }
    for f in pools:
        pools[f].sort(key=lambda p: -relevance[p])
    quotas = _quotas(request, {f: len(p) for f, p in pools.items()})
    warnings = []
    for f in request.fields:
        if len(pools[f]) < quotas[f]:
            warnings.append(
                f"The corpus has only {len(pools[f])} excerpt(s) from {field_labels.get(f, f)} relevant to this "
                f"focus; the pack includes those rather than {quotas[f]} (no padding with "
                "off-topic excerpts)."
            )
    chosen_all: list[int] = []
    chosen: dict[str, list[int]] = {f: [] for f in request.fields}
    # Round by round, so no field's early picks crowd out another's by redundancy.
    if request.lived_experience:
        for f in request.fields:
            want = math.ceil(quotas[f] * LIVED_SHARE)
            lived_pool = [p for p in pools[f] if lived[p]]
            chosen[f] += _mmr(lived_pool, relevance, vectors, chosen_all, min(want, quotas[f]))
    for f in request.fields:
        rest = [p for p in pools[f] if p not in chosen[f]]
        chosen[f] += _mmr(rest, relevance, vectors, chosen_all, quotas[f] - len(chosen[f]))
    if request.lived_experience:
        total_lived = sum(lived[p] for ps in chosen.values() for p in ps)
        target = math.ceil(request.items * LIVED_SHARE)
        if total_lived < target:
            warnings.append(
                f"Only {total_lived} of the pack's items come from lived-experience sources (a "
                f"third would be {target}): the corpus has no more that are relevant to this focus."
            )
    filled = sum(len(c) for c in chosen.values())
    short_field = any(len(pools[f]) < quotas[f] for f in request.fields)
    if filled < request.items and not short_field:
        warnings.append(
            f"The pack has {filled} items, not {request.items}: the rest would have repeated "
            "items already chosen."
        )
    reserves = {f: [p for p in pools[f] if p not in chosen[f]] for f in request.fields}
    return chosen, reserves, warnings


# --- card fronts ----------------------------------------------------------------------------------


def _surnames(authors: str | None) -> list[str]:
    names = [a.strip() for a in (authors or "").split(";") if a.strip()]
    return [n.split(",")[0].strip() for n in names if len(n.split(",")[0].strip()) > 2]


def card_front(
    text: str, *, field_labels: list[str], authors: str | None, keep_wording: bool
) -> tuple[str, list[str]]:
    """The text a card shows: field labels and the source's authors always masked; wording that
    gives the field away masked unless the trainer keeps it. Returns the text and what was masked."""
    masked: list[str] = []

    def sub(pattern: str, replacement, value: str) -> str:
        def swap(match: re.Match) -> str:
            masked.append(match.group(0))
            out = replacement(match) if callable(replacement) else replacement
            if match.group(0)[:1].isupper() and out[:1].isalpha():
                out = out[:1].upper() + out[1:]
            return out

        return re.sub(pattern, swap, value, flags=re.IGNORECASE)

    out = text
    for label in sorted(field_labels, key=len, reverse=True):
        out = sub(rf"\b{re.escape(label)}\b", MASK, out)
    for name in _surnames(authors):
        out = sub(rf"\b{re.escape(name)}\b(?:\s+et al\.?)?", "[author]", out)
    if not keep_wording:
        for word in sorted(PEOPLE_WORDS, key=len, reverse=True):
            out = sub(rf"\b{re.escape(word)}\b", lambda m: PEOPLE_WORDS[m.group(0).lower()], out)
        for pattern in FIELD_WORDS:
            out = sub(rf"\b{pattern}\b", MASK, out)
    return out, masked


# --- discussion prompts ---------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def discussion_prompts(
    focus: Focus,
    fields: tuple[str, ...],
    labels: dict[str, str],
    results: dict,
    themes: list[dict],
    assignments: dict[str, str],
    frame: pd.DataFrame,
    chosen_ids: list[int],
) -> list[Prompt]:
    """Template prompts filled from the run: every statement is a number the run holds."""
    name = lambda f: labels.get(f, f)  # noqa: E731
    prompts: list[Prompt] = []
    field_counts = frame["field"].value_counts()
    if focus.kind == "concept":
        coverage = (results.get("coverage") or {}).get(focus.key, {})
        shares = {f: coverage.get(f, 0.0) for f in fields}
        if shares:
            ordered = sorted(fields, key=lambda f: -shares[f])
            counts = ", ".join(
                f"{name(f)} {_pct(shares[f])} of {int(field_counts.get(f, 0))}" for f in ordered
            )
            top, bottom = ordered[0], ordered[-1]
            prompts.append(
                Prompt(
                    "coverage",
                    f"Share of each field's excerpts tagged with {focus.label}: {counts}.",
                    f"Why might {name(top)} write about this more often than {name(bottom)}? "
                    f"What would {name(bottom)} call it?",
                )
            )
    # Themes that the pack's items come from, with the run's verdict and its numbers.
    theme_by_key = {t["theme_key"]: t for t in themes}
    keys = [assignments.get(str(i)) for i in chosen_ids]
    ranked = sorted({k for k in keys if k in theme_by_key}, key=lambda k: (-keys.count(k), k))
    theme_of = frame["excerpt_id"].astype(str).map(assignments).to_numpy()
    field_of = frame["field"].to_numpy()
    for key in ranked[:3]:
        theme = theme_by_key[key]
        members = theme_of == key
        counts = ", ".join(f"{name(f)} {int((members & (field_of == f)).sum())}" for f in fields)
        verdict = theme.get("verdict", "mixed")
        if verdict == "distinctive" and theme.get("verdict_field"):
            verdict = f"distinctive to {name(theme['verdict_field'])}"
        detail = theme.get("verdict_reason") or ""
        statement = (
            f"{keys.count(key)} of the pack's items belong to the theme “{theme['label']}” "
            f"({int(members.sum())} excerpts in all; from the chosen fields: {counts}). "
            f"The run's verdict: {verdict}" + (f" ({detail})" if detail else "") + "."
        )
        if verdict == "shared":
            question = (
                f"Every field writes about “{theme['label']}”. Do the fields mean the same thing "
                "by it? Find one card from each field on this theme and compare."
            )
        elif verdict.startswith("distinctive"):
            question = (
                f"“{theme['label']}” is distinctive to one field. What would the other fields "
                "call this, and do they have it at all?"
            )
        else:
            question = (
                f"Some fields write about “{theme['label']}” more than others. Which, and why "
                "might that be?"
            )
        prompts.append(Prompt("theme", statement, question))
    vocabulary = pd.DataFrame(results.get("vocabulary") or [])
    if len(vocabulary):
        parts = []
        for f in fields:
            top = vocabulary[vocabulary["field"] == f].sort_values("z", ascending=False).head(5)
            if len(top):
                words = ", ".join(f"{r.term} (z={r.z:.1f})" for r in top.itertuples())
                parts.append(f"{name(f)}: {words}")
        if parts:
            prompts.append(
                Prompt(
                    "vocabulary",
                    "Words each field uses more than the others (log-odds with an informative "
                    "Dirichlet prior; z above 1.96 is unlikely by chance): "
                    + "; ".join(parts)
                    + ".",
                    "Which of these words would the other services use too, and would they mean "
                    "the same by them?",
                )
            )
    for term, info in (results.get("term_contexts") or {}).items():
        per_field = {f: info.get("fields", {}).get(f) for f in fields}
        present = {f: d for f, d in per_field.items() if d}
        if len(present) < 2:
            continue
        parts = [
            f"{name(f)} ({d['count']} uses; with {', '.join(d['distinctive_words'][:4]) or 'no distinctive words'})"
            for f, d in present.items()
        ]
        prompts.append(
            Prompt(
                "same_word",
                f"“{term}” is used by {len(present)} of the chosen fields: "
                + "; ".join(parts)
                + ".",
                f"Ask each group to finish the sentence “For us, {term} means …”. Where do the "
                "answers differ?",
            )
        )
        break
    similarity = results.get("field_similarity")
    if similarity:
        matrix = pd.DataFrame(
            similarity["data"], index=similarity["index"], columns=similarity["columns"]
        )
        pairs = [
            (matrix.loc[a, b], a, b)
            for n, a in enumerate(fields)
            for b in fields[n + 1 :]
            if a in matrix.index and b in matrix.columns
        ]
        if len(pairs) >= 2:
            high, low = max(pairs), min(pairs)
            prompts.append(
                Prompt(
                    "similarity",
                    f"Of the chosen fields, {name(high[1])} and {name(high[2])} write most alike "
                    f"(mean similarity {high[0]:.2f}); {name(low[1])} and {name(low[2])} least "
                    f"({low[0]:.2f}).",
                    "Is that what the group expected? What do the two most different fields "
                    "have to learn from each other?",
                )
            )
        elif pairs:
            value, a, b = pairs[0]
            prompts.append(
                Prompt(
                    "similarity",
                    f"{name(a)} and {name(b)} excerpts have a mean similarity of {value:.2f} "
                    "(1 would be identical wording and meaning).",
                    "Where do the two fields' cards sound alike, and where not?",
                )
            )
    return prompts


# --- facilitator notes ----------------------------------------------------------------------------


def facilitator_notes(pack: Pack) -> list[tuple[str, str]]:
    n = len(pack.items)
    sort_minutes = 15 if n <= 16 else 25
    fields = ", ".join(pack.field_labels.get(f, f) for f in pack.fields)
    return [
        (
            "The session",
            f"Focus: {pack.focus_label}. Fields: {fields}. {n} items from "
            f"{len(pack.bibliography())} sources. Suggested length: about "
            f"{10 + sort_minutes + 10 + 10 + 5 * len(pack.prompts)} minutes in total.",
        ),
        (
            "1. Definitions side by side (10 minutes)",
            "Hand out the definitions page. Ask each person to underline the words that surprise "
            "them in another field's definition, then share one with the group.",
        ),
        (
            f"2. Card sort ({sort_minutes} minutes)",
            "Print the cards, cut along the dashed lines and shuffle them. Mixed-sector groups "
            "sort the cards by the field they think each came from, then turn them over (or use "
            "the answer key) and discuss the cards they placed wrongly: those are where the fields "
            "overlap. Wording that gives the field away is masked as […] unless you chose to keep "
            "it.",
        ),
        (
            "3. Which field said this? (10 minutes)",
            "Read each quiz excerpt aloud; people vote for a field, then reveal the answer. Keep "
            "score if the group likes a contest.",
        ),
        (
            f"4. Discussion ({5 * len(pack.prompts)} minutes)",
            "Each prompt states what the analysis found, with its numbers, then asks a question. "
            "Take the prompts in order; five minutes each.",
        ),
        (
            "Limits of the method",
            "The excerpts are short summaries of each source written in the project's own words, "
            "not quotations: cite the original sources, not the cards. Items were chosen by "
            "semantic similarity to the focus and automatic concept tags, which can miss or "
            "mislabel; themes and verdicts come from clustering and statistical tests on this "
            "corpus only, which over-represents some sources and countries. A field's share of a "
            "theme says how often the corpus's excerpts discuss it, not how important it is to "
            "practice.",
        ),
    ]


# --- building a pack ------------------------------------------------------------------------------


def validate(request: PackRequest, known_fields: list[str]) -> None:
    if not MIN_FIELDS <= len(request.fields) <= MAX_FIELDS:
        raise input_error(
            "E041",
            None,
            detail=f"choose {MIN_FIELDS} to {MAX_FIELDS} fields, not {len(request.fields)}",
        )
    if len(set(request.fields)) != len(request.fields):
        raise input_error("E041", None, detail="a field is listed twice")
    for f in request.fields:
        if f not in known_fields:
            raise input_error("E025", None, what="field", value=f, known=", ".join(known_fields))
    if not MIN_ITEMS <= request.items <= MAX_ITEMS:
        raise input_error(
            "E041",
            None,
            detail=f"the number of items must be {MIN_ITEMS} to {MAX_ITEMS}, not {request.items}",
        )


def build_pack(
    request: PackRequest,
    *,
    frame: pd.DataFrame,
    vectors: np.ndarray,
    results: dict,
    themes: list[dict],
    assignments: dict[str, str],
    field_labels: dict[str, str],
    encode: Callable[[list[str]], np.ndarray],
    run_id: int,
) -> Pack:
    """A pack from the corpus (`frame`, row-aligned with unit `vectors`) and the run's results."""
    validate(request, sorted(set(frame["field"])))
    focus = resolve_focus(request.focus, frame, vectors, results, themes, assignments, encode)
    chosen, reserves, warnings = select(request, frame, vectors, focus, field_labels)
    concept_labels = {
        c["key"]: c["label"] for f in results.get("frameworks") or [] for c in f.get("concepts", [])
    }
    theme_labels = {t["theme_key"]: t["label"] for t in themes}
    tags = results.get("tags") or {}
    # Field names never show on a card front: labels, slugs and slugs written as words.
    giveaway_labels = [
        *field_labels.values(),
        *field_labels,
        *(f.replace("_", " ") for f in field_labels),
    ]

    def item(position: int) -> Item:
        row = frame.iloc[position]
        front, masked = card_front(
            row["text"],
            field_labels=giveaway_labels,
            authors=row["authors"],
            keep_wording=request.keep_wording,
        )
        excerpt = str(int(row["excerpt_id"]))
        return Item(
            excerpt_id=int(row["excerpt_id"]),
            external_id=str(row["external_id"] or ""),
            field=row["field"],
            field_label=field_labels.get(row["field"], row["field"]),
            kind=row["kind"] or "",
            evidence_type=row["evidence_type"] or "",
            text=row["text"],
            front=front,
            masked=masked,
            short_citation=row["short_citation"],
            citation=row["citation"],
            concepts=[
                f"{concept_labels.get(t['concept'], t['concept'])} ({t['concept']})"
                for t in tags.get(excerpt, [])
            ],
            theme=theme_labels.get(assignments.get(excerpt, ""), ""),
            relevance=round(float(focus.scores[position]), 4),
        )

    items = [item(p) for f in request.fields for p in chosen[f]]
    order = np.random.default_rng(request.seed).permutation(len(items))
    items = [items[i] for i in order]
    for number, it in enumerate(items, start=1):
        it.number = number
    prompts = discussion_prompts(
        focus,
        request.fields,
        field_labels,
        results,
        themes,
        assignments,
        frame,
        [it.excerpt_id for it in items],
    )
    return Pack(
        request=request,
        focus_label=focus.label,
        focus_kind=focus.kind,
        run_id=run_id,
        field_labels={f: field_labels.get(f, f) for f in request.fields},
        items=items,
        prompts=prompts,
        warnings=warnings,
        reserves={f: [item(p) for p in reserves[f][:10]] for f in request.fields},
    )


def remove_item(pack: Pack, number: int) -> Pack:
    """The pack without item `number` (the others keep their order, renumbered)."""
    items = [replace(i) for i in pack.items if i.number != number]
    for n, it in enumerate(items, start=1):
        it.number = n
    return replace(pack, items=items)


def swap_item(pack: Pack, number: int) -> Pack:
    """Item `number` replaced by the field's best reserve not already in the pack."""
    old = next((i for i in pack.items if i.number == number), None)
    if old is None:
        return pack
    used = {i.excerpt_id for i in pack.items}
    spare = [r for r in pack.reserves.get(old.field, []) if r.excerpt_id not in used]
    if not spare:
        return pack
    new = replace(spare[0], number=number)
    items = [new if i.number == number else i for i in pack.items]
    reserves = dict(pack.reserves)
    reserves[old.field] = [r for r in reserves[old.field] if r.excerpt_id != new.excerpt_id]
    return replace(pack, items=items, reserves=reserves)


RESULT_NAMES = ("frameworks", "tags", "coverage", "vocabulary", "term_contexts", "field_similarity")


def store_context(conn: sqlite3.Connection, *, model: str | None = None) -> dict:
    """Everything `build_pack` needs besides the request: the corpus, its embeddings, the current
    run's results and themes (with the user's edits), the field labels and the encoder."""
    from pipelines.embed.embedders import get_embedder

    run_id = current_run_id(conn)
    run = store.latest_run(conn)
    embedder = get_embedder(model or run["model_id"])
    frame = store.excerpts(conn)
    themes, assignments = effective_themes(conn, run_id)
    return {
        "frame": frame,
        "vectors": store.load_embeddings(conn, embedder.model_id, frame["text_hash"].tolist()),
        "results": {name: store.run_result(conn, run_id, name) for name in RESULT_NAMES},
        "themes": themes,
        "assignments": assignments,
        "field_labels": store.field_labels(conn),
        "encode": embedder.encode,
        "run_id": run_id,
    }


def build_pack_from_store(
    conn: sqlite3.Connection, request: PackRequest, *, model: str | None = None
) -> Pack:
    """Load the corpus, its embeddings and the current run, and build the pack."""
    return build_pack(request, **store_context(conn, model=model))
