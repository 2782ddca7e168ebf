"""The slides: a title slide, definitions two fields at a time, a slide per prompt, references."""

from __future__ import annotations

import io
from itertools import combinations

from pipelines.workshop.formats.registry import renderer
from pipelines.workshop.formats.text import clean, summary_line
from pipelines.workshop.pack import Pack


@renderer("pptx")
def render_pptx(pack: Pack) -> bytes:
    from pptx import Presentation
    from pptx.util import Inches, Pt

    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)
    blank = deck.slide_layouts[6]

    def text_box(slide, left, top, width, height, paragraphs, size=16):
        frame = slide.shapes.add_textbox(
            Inches(left), Inches(top), Inches(width), Inches(height)
        ).text_frame
        frame.word_wrap = True
        for n, (text, bold) in enumerate(paragraphs):
            paragraph = frame.paragraphs[0] if n == 0 else frame.add_paragraph()
            run = paragraph.add_run()
            run.text = clean(text)
            run.font.size = Pt(size)
            run.font.bold = bold
        return frame

    def slide(title: str):
        page = deck.slides.add_slide(blank)
        text_box(page, 0.5, 0.3, 12.3, 0.9, [(title, True)], size=28)
        return page

    page = slide(f"Workshop: {pack.focus_label}")
    text_box(
        page,
        0.5,
        1.5,
        12.3,
        4,
        [(summary_line(pack), False)] + [(w, False) for w in pack.warnings],
        18,
    )

    definitions = pack.definitions()
    for a, b in combinations(pack.fields, 2):
        if not definitions[a] or not definitions[b]:
            continue
        page = slide(f"Definitions: {pack.field_labels[a]} and {pack.field_labels[b]}")
        for column, field in enumerate((a, b)):
            item = definitions[field][0]
            size = 16 if len(item.text) < 600 else 13
            text_box(
                page,
                0.5 + column * 6.3,
                1.4,
                6.0,
                5.6,
                [
                    (pack.field_labels[field], True),
                    (item.text, False),
                    (item.short_citation, False),
                ],
                size,
            )
    for n, prompt in enumerate(pack.prompts, start=1):
        page = slide(f"Discussion {n}")
        text_box(page, 0.5, 1.4, 12.3, 2.2, [(prompt.question, True)], 24)
        text_box(page, 0.5, 3.8, 12.3, 3.2, [(prompt.statement, False)], 16)
    references = pack.bibliography()
    for start in range(0, len(references), 8):
        page = slide("References (APA 7)")
        text_box(page, 0.5, 1.3, 12.3, 6, [(c, False) for c in references[start : start + 8]], 11)
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()
