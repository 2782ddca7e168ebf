"""The pack's items as CSV, one row per card, with every value neutralised against spreadsheet
formulas."""

from __future__ import annotations

import csv
import io

from pipelines.exports import neutralise
from pipelines.workshop.formats.registry import renderer
from pipelines.workshop.pack import Pack

CSV_COLUMNS = [
    "number",
    "card_front",
    "field",
    "kind",
    "evidence_type",
    "short_citation",
    "citation",
    "concepts",
    "theme",
    "relevance",
    "excerpt_id",
    "external_id",
    "text",
    "concept_keys",
]


@renderer("csv")
def render_csv(pack: Pack) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in pack.items:
        values = [
            item.number,
            item.front,
            item.field,
            item.kind,
            item.evidence_type,
            item.short_citation,
            item.citation,
            "; ".join(item.concepts),
            item.theme,
            item.relevance,
            item.excerpt_id,
            item.external_id,
            item.text,
            "; ".join(item.concept_keys),
        ]
        writer.writerow([neutralise(v) for v in values])
    return buffer.getvalue().encode("utf-8")
