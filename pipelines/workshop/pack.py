"""Workshop packs: what a trainer asks for, the pack built from it, and editing a pack.

A pack is a balanced, diversified selection of excerpts on one focus (a concept, a theme or a
free-text question), turned into a card sort, a "which field said this?" quiz, definitions side by
side and discussion prompts whose every number comes from the current analysis run. The seed
breaks near-ties and orders the cards and the quiz, so the same seed gives the same pack.

The parts: `pipelines.analysis.focus` says which excerpts are relevant, `select` chooses among
them, `masking` writes the card fronts, `prompts` the discussion prompts and facilitator notes;
the renderers (DOCX, PPTX, PDF cards, print-ready HTML, Markdown, CSV) are in `formats/`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from pipelines import lexicons, store
from pipelines.analysis.concepts import Framework
from pipelines.analysis.contract import THEME_BROAD
from pipelines.analysis.focus import Focus, resolve_focus
from pipelines.analysis.results import current_run_id, effective_themes
from pipelines.errors import input_error
from pipelines.workshop.masking import MASK_CAP, Front, mask_card
from pipelines.workshop.prompts import Prompt, discussion_prompts, facilitator_notes
from pipelines.workshop.relevance import defines_recovery, on_focus
from pipelines.workshop.select import select

MIN_ITEMS, MAX_ITEMS = 8, 40
MIN_FIELDS, MAX_FIELDS = 2, 4
QUIZ_MAX = 12
DEFINITIONS_PER_FIELD = 3
RESERVES_KEPT = 10  # per field, the next best candidates a trainer can swap in


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
    """An excerpt as a card: its front (masked), the answer and where it came from."""

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
    concept_keys: list[str] = field(default_factory=list)  # `framework/concept`, as `concepts`
    defines_recovery: bool = False  # may stand in the definitions table (`relevance`)
    hidden_share: float = 0.0  # of the text's words, hidden behind […] on the front

    @property
    def lived_experience(self) -> bool:
        return self.evidence_type == "lived_experience"


@dataclass
class Pack:
    """A built pack: the items in card order (numbered from 1), the prompts, what the trainer
    should know (`warnings`) and per field the reserves a swap draws on."""

    request: PackRequest
    focus_label: str
    focus_kind: str
    run_id: int
    field_labels: dict[str, str]
    items: list[Item]
    prompts: list[Prompt]
    warnings: list[str]
    reserves: dict[str, list[Item]] = field(default_factory=dict)
    left_out_prompts: list[str] = field(default_factory=list)  # below the prompts' minimum count

    @property
    def fields(self) -> tuple[str, ...]:
        return self.request.fields

    def definitions(self) -> dict[str, list[Item]]:
        """Per field, the pack's definitions of recovery or desistance (the most relevant
        first): an item of another kind, or a `definition` of something else, never stands in
        for the field's definition."""
        out = {}
        for f in self.fields:
            chosen = [i for i in self.items if i.field == f and i.defines_recovery]
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
        """The facilitator guide's sections (title, text)."""
        return facilitator_notes(self)


# --- building a pack ------------------------------------------------------------------------------


def validate(request: PackRequest, known_fields: list[str]) -> None:
    """Raise the user error for a request no pack can meet: 2-4 distinct known fields, 8-40
    items."""
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
    broad_themes: list[dict] | None = None,
    broad_assignments: dict[str, str] | None = None,
) -> Pack:
    """A pack from the corpus (`frame`, row-aligned with unit `vectors`) and the run's results.

    A theme focus and each card's theme are fine themes; the discussion prompts quote the broad
    themes when the run has them (they are the robust level a room can discuss)."""
    validate(request, sorted(set(frame["field"])))
    focus = resolve_focus(request.focus, frame, vectors, results, themes, assignments, encode)
    focus, unreadable = _readable(
        on_focus(focus, frame, results), _front_maker(request, frame, field_labels)
    )
    selection = select(request, frame, vectors, focus, field_labels)
    item = _item_maker(request, frame, focus, results, themes, assignments, field_labels)
    items = [item(p) for f in request.fields for p in selection.chosen[f]]
    order = np.random.default_rng(request.seed).permutation(len(items))
    items = [items[i] for i in order]
    for number, it in enumerate(items, start=1):
        it.number = number
    prompts, left_out = discussion_prompts(
        focus,
        request.fields,
        field_labels,
        results,
        broad_themes or themes,
        broad_assignments or assignments,
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
        left_out_prompts=left_out,
        warnings=selection.warnings + _masking_warning(unreadable),
        reserves={
            f: [item(p) for p in selection.reserves[f][:RESERVES_KEPT]] for f in request.fields
        },
    )


def _front_maker(
    request: PackRequest, frame: pd.DataFrame, field_labels: dict[str, str]
) -> Callable[[int], Front]:
    """A function making the card front of the excerpt at a row position of `frame`."""
    words = lexicons.masking()
    # Field names never show on a card front: labels, slugs and slugs written as words.
    giveaway_labels = [
        *field_labels.values(),
        *field_labels,
        *(f.replace("_", " ") for f in field_labels),
    ]

    def front(position: int) -> Front:
        row = frame.iloc[position]
        return mask_card(
            row["text"],
            field_labels=giveaway_labels,
            authors=row["authors"],
            keep_wording=request.keep_wording,
            masking=words,
        )

    return front


def _readable(focus: Focus, front: Callable[[int], Front]) -> tuple[Focus, int]:
    """`focus` without the relevant excerpts whose card front would hide more than `MASK_CAP`
    of their words, and how many those were."""
    relevant = focus.relevant.copy()
    over = [p for p in np.flatnonzero(relevant) if front(int(p)).hidden_share > MASK_CAP]
    relevant[over] = False
    return replace(focus, relevant=relevant), len(over)


def _item_maker(
    request: PackRequest,
    frame: pd.DataFrame,
    focus: Focus,
    results: dict,
    themes: list[dict],
    assignments: dict[str, str],
    field_labels: dict[str, str],
) -> Callable[[int], Item]:
    """A function making the card of the excerpt at a row position of `frame`."""
    concept_labels = readable_concepts(results)
    theme_labels = {t["theme_key"]: t["label"] for t in themes}
    tags = results.get("tags") or {}
    make_front = _front_maker(request, frame, field_labels)

    def item(position: int) -> Item:
        row = frame.iloc[position]
        front = make_front(position)
        excerpt = str(int(row["excerpt_id"]))
        return Item(
            excerpt_id=int(row["excerpt_id"]),
            external_id=str(row["external_id"] or ""),
            field=row["field"],
            field_label=field_labels.get(row["field"], row["field"]),
            kind=row["kind"] or "",
            evidence_type=row["evidence_type"] or "",
            text=row["text"],
            front=front.text,
            masked=front.masked,
            short_citation=row["short_citation"],
            citation=row["citation"],
            concepts=[
                concept_labels.get(t["concept"], t["concept"]) for t in tags.get(excerpt, [])
            ],
            concept_keys=[t["concept"] for t in tags.get(excerpt, [])],
            theme=theme_labels.get(assignments.get(excerpt, ""), ""),
            relevance=round(float(focus.scores[position]), 4),
            defines_recovery=defines_recovery(row["text"], row["kind"]),
            hidden_share=round(front.hidden_share, 3),
        )

    return item


def _masking_warning(unreadable: int) -> list[str]:
    if not unreadable:
        return []
    return [
        f"{unreadable} excerpt(s) relevant to this focus were left out because masking the "
        f"wording that gives the field away would hide more than {MASK_CAP:.0%} of their words "
        "(keep the wording to use them)."
    ]


def readable_concepts(results: dict) -> dict[str, str]:
    """Concept key -> what a card back shows: the concept's label with its framework's name
    ("Secondary (identity) desistance (Primary, secondary and tertiary desistance)"), never the
    internal key; the framework's name drops its own parenthesis, so the label stays short."""
    out = {}
    for framework in (Framework.from_json(f) for f in results.get("frameworks") or []):
        name = framework.label.split(" (")[0].strip()
        for concept in framework.concepts:
            out[concept.key] = f"{concept.label} ({name})" if name else concept.label
    return out


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
    from pipelines.embed.search import Index

    run_id = current_run_id(conn)
    run = store.latest_run(conn)
    embedder = get_embedder(model or run["model_id"])
    # The embedded excerpts only: those ingested since the last build wait for the next one.
    index = Index.load(conn, embedder.model_id)
    themes, assignments = effective_themes(conn, run_id)
    broad_themes, broad_assignments = effective_themes(conn, run_id, level=THEME_BROAD)
    return {
        "broad_themes": broad_themes,
        "broad_assignments": broad_assignments,
        "frame": index.frame,
        "vectors": index.vectors,
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
