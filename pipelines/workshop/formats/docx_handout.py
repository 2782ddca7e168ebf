"""The Word document: a handout (definitions side by side, the quiz, the prompts) and a
facilitator guide (notes, answer keys, bibliography)."""

from __future__ import annotations

import io

from pipelines.workshop.formats.registry import renderer
from pipelines.workshop.formats.text import clean, summary_line
from pipelines.workshop.pack import Pack


@renderer("docx")
def render_docx(pack: Pack) -> bytes:
    from docx import Document
    from docx.enum.text import WD_BREAK
    from docx.shared import Pt

    doc = Document()
    doc.core_properties.title = clean(f"Workshop pack: {pack.focus_label}")
    doc.add_heading(clean(f"Workshop pack: {pack.focus_label}"), level=0)
    doc.add_paragraph(clean(summary_line(pack)))
    for warning in pack.warnings:
        doc.add_paragraph(clean(f"Note: {warning}"), style="Intense Quote")

    doc.add_heading("Part 1. Handout", level=1)
    doc.add_heading("Definitions side by side", level=2)
    definitions = pack.definitions()
    table = doc.add_table(rows=2, cols=len(pack.fields))
    table.style = "Table Grid"
    for column, field in enumerate(pack.fields):
        table.rows[0].cells[column].text = clean(pack.field_labels[field])
        cell = table.rows[1].cells[column]
        items = definitions[field]
        cell.text = "" if items else "No definition among this field's items."
        for item in items:
            paragraph = cell.add_paragraph(clean(item.text))
            paragraph.add_run(clean(f" ({item.short_citation})")).italic = True
    doc.add_heading("Which field said this?", level=2)
    options = "   ".join(f"☐ {pack.field_labels[f]}" for f in pack.fields)
    for n, item in enumerate(pack.quiz(), start=1):
        doc.add_paragraph(clean(f"{n}. {item.front}"))
        doc.add_paragraph(clean(options)).runs[0].font.size = Pt(9)
    doc.add_heading("Discussion prompts", level=2)
    for n, prompt in enumerate(pack.prompts, start=1):
        paragraph = doc.add_paragraph()
        paragraph.add_run(clean(f"{n}. {prompt.question}")).bold = True
        doc.add_paragraph(clean(prompt.statement))

    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    doc.add_heading("Part 2. Facilitator guide", level=1)
    for title, text in pack.facilitator_notes():
        doc.add_heading(clean(title), level=2)
        doc.add_paragraph(clean(text))
    doc.add_heading("Answer key: card sort", level=2)
    key = doc.add_table(rows=1, cols=4)
    key.style = "Table Grid"
    for cell, title in zip(key.rows[0].cells, ["Card", "Field", "Source", "Concepts"], strict=True):
        cell.text = title
    for item in pack.items:
        cells = key.add_row().cells
        lived = " (lived experience)" if item.lived_experience else ""
        cells[0].text = str(item.number)
        cells[1].text = clean(item.field_label)
        cells[2].text = clean(item.short_citation + lived)
        cells[3].text = clean("; ".join(item.concepts) or "none tagged")
    doc.add_heading("Answer key: which field said this?", level=2)
    for n, item in enumerate(pack.quiz(), start=1):
        doc.add_paragraph(clean(f"{n}. {item.field_label} ({item.short_citation})"))
    doc.add_heading("Bibliography (APA 7)", level=2)
    for citation in pack.bibliography():
        doc.add_paragraph(clean(citation))
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
