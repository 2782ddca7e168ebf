"""Discussion prompts and facilitator notes: what the run shows, said plainly, and what to ask.

Every statement in a prompt is something the current analysis run holds (how often each field
writes about the concept, the broad themes the pack's cards come from, each field's distinctive
words, a word the fields share, how alike the fields write), in the words a practitioner would
use; the statistics behind it (tests, z-scores, similarities, the run's own verdict text) go to
the facilitator notes (`Prompt.notes`), for the trainer who is asked "how do you know?".

A prompt rests on counts, and a count of a few excerpts is chance in a corpus of this size: a
prompt is left out when a count it compares is below `PROMPT_MIN_COUNT` (excerpts, or uses of a
word), and the facilitator notes say which were left out and why (#28). Themes are quoted by
their readable names; a theme the run could only name by its key terms is not quoted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from pipelines.analysis.focus import Focus

if TYPE_CHECKING:
    from pipelines.workshop.pack import Pack

THEME_PROMPTS = 3  # prompts on the broad themes most of the pack's cards come from
PROMPT_MIN_COUNT = 5  # the smallest count (excerpts, or uses of a word) a prompt may compare
VOCABULARY_WORDS = 5  # per field, the distinctive words a prompt lists
UNNAMED = ("its two strongest key terms", "fallback")  # naming rules that give no readable name


@dataclass
class Prompt:
    """A discussion prompt: what the run shows (in plain words), the question to discuss, and
    the statistics behind the statement for the facilitator notes."""

    kind: str
    statement: str
    question: str
    notes: str = ""


Name = Callable[[str], str]


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
) -> tuple[list[Prompt], list[str]]:
    """Template prompts filled from the run, and what was left out (one line each, for the
    facilitator notes) because a count it compared was below `PROMPT_MIN_COUNT`."""

    def name(f: str) -> str:
        return labels.get(f, f)

    field_counts = frame["field"].value_counts()
    left_out: list[str] = []
    prompts: list[Prompt] = []
    if focus.kind == "concept":
        prompts += _coverage(focus, fields, name, results, field_counts, left_out)
    prompts += _themes(fields, name, themes, assignments, frame, chosen_ids, left_out)
    prompts += _vocabulary(fields, name, results, left_out)
    prompts += _same_word(fields, name, results, left_out)
    prompts += _similarity(fields, name, results, field_counts, left_out)
    return prompts, left_out


def _concept_name(focus: Focus) -> str:
    """The concept's label without its internal key, written to stand mid-sentence ("hope and
    optimism about the future"; an acronym such as "CHIME" keeps its capitals)."""
    label = focus.label.removesuffix(f" ({focus.key})")
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def _too_few(what: str, counts: dict[str, int], name: Name, unit: str) -> str | None:
    """The facilitator notes' line for a prompt left out because a field's count is below
    `PROMPT_MIN_COUNT`, or None when every count reaches it."""
    small = [f for f in counts if counts[f] < PROMPT_MIN_COUNT]
    if not small:
        return None
    return f"{what}: " + ", ".join(f"{name(f)} has {counts[f]} {unit}" for f in small) + "."


def _coverage(focus, fields, name: Name, results, field_counts, left_out) -> list[Prompt]:
    coverage = (results.get("coverage") or {}).get(focus.key, {})
    shares = {f: coverage.get(f, 0.0) for f in fields}
    tagged = {f: round(shares[f] * int(field_counts.get(f, 0))) for f in fields}
    concept = _concept_name(focus)
    if line := _too_few(
        f"How often each field writes about {concept}", tagged, name, "such excerpt(s)"
    ):
        left_out.append(line)
        return []
    ordered = sorted(fields, key=lambda f: -shares[f])
    counts = "; ".join(
        f"{name(f)}: {tagged[f]} of {int(field_counts.get(f, 0))} ({_pct(shares[f])})"
        for f in ordered
    )
    top, bottom = ordered[0], ordered[-1]
    return [
        Prompt(
            "coverage",
            f"How many of each field's excerpts in this collection are about {concept}: {counts}.",
            f"Why might {name(top)} write about this more often than {name(bottom)}? "
            f"What would {name(bottom)} call it?",
            f"Counts of excerpts the run's concept tagger tagged with {focus.key} (automatic "
            "tags from similarity to the concept's description and cues; they can miss or "
            "mislabel).",
        )
    ]


def _readable_themes(themes: list[dict]) -> dict[str, dict]:
    return {
        t["theme_key"]: t
        for t in themes
        if t.get("label")
        and t["label"] != "Unnamed theme"
        and not str(t.get("naming", "")).startswith(UNNAMED)
    }


def _themes(fields, name: Name, themes, assignments, frame, chosen_ids, left_out) -> list[Prompt]:
    """Broad themes that most of the pack's cards come from, by their readable names."""
    theme_by_key = _readable_themes(themes)
    keys = [assignments.get(str(i)) for i in chosen_ids]
    ranked = sorted({k for k in keys if k in theme_by_key}, key=lambda k: (-keys.count(k), k))
    theme_of = frame["excerpt_id"].astype(str).map(assignments).to_numpy()
    field_of = frame["field"].to_numpy()
    prompts = []
    for key in ranked:
        if len(prompts) == THEME_PROMPTS:
            break
        theme = theme_by_key[key]
        members = theme_of == key
        cells = {f: int((members & (field_of == f)).sum()) for f in fields}
        if line := _too_few(f"The theme “{theme['label']}”", cells, name, "excerpt(s) in it"):
            left_out.append(line)
            continue
        prompts.append(_theme_prompt(theme, keys.count(key), int(members.sum()), cells, name))
    return prompts


def _theme_prompt(theme: dict, cards: int, size: int, cells: dict, name: Name) -> Prompt:
    label, verdict = theme["label"], theme.get("verdict", "mixed")
    counts = ", ".join(f"{name(f)} {n}" for f, n in cells.items())
    distinctive = theme.get("verdict_field") if verdict == "distinctive" else None
    if verdict == "shared":
        finding = "Every field in the collection writes about it at about its usual rate."
        question = (
            f"Every field writes about “{label}”. Do the fields mean the same thing by it? "
            "Find one card from each field on this theme and compare."
        )
    elif distinctive:
        finding = (
            f"It is characteristic of {name(distinctive)}, which writes about it far more often."
        )
        question = (
            f"“{label}” is characteristic of one field. What would the other fields call "
            "this, and do they have it at all?"
        )
    else:
        finding = "Some fields write about it more often than others."
        question = (
            f"Some fields write about “{label}” more than others. Which, and why might that be?"
        )
    reason = theme.get("verdict_reason") or ""
    return Prompt(
        "theme",
        f"{cards} of the cards come from the wider theme “{label}” ({size} excerpts in the "
        f"collection; {counts}). {finding}",
        question,
        f"Theme “{label}” ({theme['theme_key']}, broad level): the run's verdict is {verdict}"
        + (f" ({_field_names(reason, name)})" if reason else "")
        + "; verdicts test each field's count in the theme against its share of the corpus "
        "(binomial tests, Benjamini-Hochberg q-values).",
    )


def _field_names(text: str, name: Name) -> str:
    """The run's verdict text with field slugs written as their labels."""
    return re.sub(r"\b[a-z][a-z0-9_]*\b", lambda m: name(m.group(0)), text)


def _vocabulary(fields, name: Name, results, left_out) -> list[Prompt]:
    vocabulary = pd.DataFrame(results.get("vocabulary") or [])
    if not len(vocabulary):
        return []
    if "count" in vocabulary:
        vocabulary = vocabulary[vocabulary["count"] >= PROMPT_MIN_COUNT]
    plain, stats = [], []
    for f in fields:
        top = vocabulary[vocabulary["field"] == f].sort_values("z", ascending=False)
        top = top.head(VOCABULARY_WORDS)
        if len(top):
            plain.append(f"{name(f)}: {', '.join(top['term'])}")
            stats.append(
                f"{name(f)}: " + ", ".join(f"{r.term} z={r.z:.1f}" for r in top.itertuples())
            )
    if len(plain) < 2:
        left_out.append(
            f"Each field's distinctive words: fewer than two fields have a word used at least "
            f"{PROMPT_MIN_COUNT} times."
        )
        return []
    return [
        Prompt(
            "vocabulary",
            "Words each field uses more often than the others: " + "; ".join(plain) + ".",
            "Which of these words would the other services use too, and would they mean "
            "the same by them?",
            "Distinctive words: weighted log-odds ratios with an informative Dirichlet prior "
            "(Monroe, Colaresi & Quinn, 2008), words used at least "
            f"{PROMPT_MIN_COUNT} times; a z above 1.96 is unlikely by chance. "
            + "; ".join(stats)
            + ".",
        )
    ]


def _same_word(fields, name: Name, results, left_out) -> list[Prompt]:
    """The first of the run's terms that at least two of the chosen fields use often enough."""
    for term, info in (results.get("term_contexts") or {}).items():
        per_field = {f: info.get("fields", {}).get(f) for f in fields}
        present = {f: d for f, d in per_field.items() if d and d["count"] >= PROMPT_MIN_COUNT}
        if len(present) < 2:
            continue
        parts = [
            f"{name(f)} alongside {', '.join(d['distinctive_words'][:4]) or 'no words of its own'}"
            for f, d in present.items()
        ]
        uses = ", ".join(f"{name(f)} {d['count']}" for f, d in present.items())
        return [
            Prompt(
                "same_word",
                f"“{term}” is a word {len(present)} of the chosen fields use, each in its own "
                "company: " + "; ".join(parts) + ".",
                f"Ask each group to finish the sentence “For us, {term} means …”. Where do the "
                "answers differ?",
                f"“{term}”: uses per field ({uses}; fields using it fewer than "
                f"{PROMPT_MIN_COUNT} times are not named); the words listed are those most "
                "distinctive of each field's sentences that use it.",
            )
        ]
    return []


def _similarity(fields, name: Name, results, field_counts, left_out) -> list[Prompt]:
    similarity = results.get("field_similarity")
    if not similarity:
        return []
    small = [f for f in fields if int(field_counts.get(f, 0)) < PROMPT_MIN_COUNT]
    if small:
        left_out.append(
            "How alike the fields write: "
            + ", ".join(f"{name(f)} has {int(field_counts.get(f, 0))} excerpt(s)" for f in small)
            + "."
        )
        return []
    matrix = pd.DataFrame(
        similarity["data"], index=similarity["index"], columns=similarity["columns"]
    )
    pairs = [
        (matrix.loc[a, b], a, b)
        for n, a in enumerate(fields)
        for b in fields[n + 1 :]
        if a in matrix.index and b in matrix.columns
    ]
    method = "mean cosine similarity of the two fields' excerpt embeddings (1 is identical)"
    if len(pairs) >= 2:
        high, low = max(pairs), min(pairs)
        return [
            Prompt(
                "similarity",
                f"Of the chosen fields, {name(high[1])} and {name(high[2])} write the most alike; "
                f"{name(low[1])} and {name(low[2])} the least.",
                "Is that what the group expected? What do the two most different fields "
                "have to learn from each other?",
                f"Field similarity, {method}: {name(high[1])}-{name(high[2])} {high[0]:.2f}, "
                f"{name(low[1])}-{name(low[2])} {low[0]:.2f}.",
            )
        ]
    if pairs:
        value, a, b = pairs[0]
        return [
            Prompt(
                "similarity",
                f"How alike do {name(a)} and {name(b)} write? Compare a card from each.",
                "Where do the two fields' cards sound alike, and where not?",
                f"Field similarity, {method}: {value:.2f}.",
            )
        ]
    return []


def facilitator_notes(pack: Pack) -> list[tuple[str, str]]:
    """The facilitator guide's sections (title, text), timed for the pack's size."""
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
            "Each prompt says what the analysis found in this collection, then asks a question. "
            "Take the prompts in order; five minutes each.",
        ),
        ("Where the prompts' numbers come from", _prompt_sources(pack)),
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


def _prompt_sources(pack: Pack) -> str:
    """The statistics behind each prompt, and the minimum count that left others out."""
    parts = [f"Prompt {n}: {p.notes}" for n, p in enumerate(pack.prompts, start=1) if p.notes]
    rule = (
        f"A prompt is used only when every count it compares is at least {PROMPT_MIN_COUNT} "
        "(excerpts, or uses of a word): a difference of a few excerpts is chance."
    )
    if pack.left_out_prompts:
        rule += " Left out for that reason: " + " ".join(pack.left_out_prompts)
    else:
        rule += " No prompt was left out for that reason."
    return " ".join([*parts, rule])
