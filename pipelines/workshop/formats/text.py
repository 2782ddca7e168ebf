"""Text every format writes the same way."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.workshop.pack import Item, Pack

XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean(text: str) -> str:
    """Text that XML (DOCX, PPTX) can hold: control characters removed."""
    return XML_ILLEGAL.sub("", str(text))


def card_answer(item: Item) -> str:
    """A card's answer in one line: field, source, lived experience, concepts."""
    concepts = "; ".join(item.concepts) or "none tagged"
    lived = " (lived experience)" if item.lived_experience else ""
    return f"{item.field_label} · {item.short_citation}{lived} · concepts: {concepts}"


def summary_line(pack: Pack) -> str:
    fields = ", ".join(pack.field_labels[f] for f in pack.fields)
    return (
        f"Fields: {fields}. {len(pack.items)} items, seed {pack.request.seed}, "
        f"analysis run {pack.run_id}."
    )
