"""Workshop packs written out: DOCX (handout and facilitator guide), PPTX, PDF cards with cut
lines, print-ready HTML cards, Markdown and CSV, one module each, registered by name in
`registry`.

Every renderer takes a `Pack` and returns bytes. Text from the corpus is inserted as text only:
escaped in HTML and Markdown, stripped of characters XML cannot hold in DOCX and PPTX, and
neutralised against spreadsheet formulas in CSV. A new format is one new module here, decorated
with `@renderer("name")`, and one import line below.
"""

from pipelines.workshop.formats import (  # noqa: F401  (importing a format registers it)
    csv_items,
    docx_handout,
    html_cards,
    markdown,
    pdf_cards,
    pptx_slides,
)
from pipelines.workshop.formats.registry import RENDERERS, format_for, render, renderer

__all__ = ["RENDERERS", "format_for", "render", "renderer"]
