"""Workshop packs written out: DOCX (handout and facilitator guide), PPTX, PDF cards with cut
lines, print-ready HTML cards, Markdown and CSV.

Every renderer takes a `Pack` and returns bytes. Text from the corpus is inserted as text only:
escaped in HTML and Markdown, stripped of characters XML cannot hold in DOCX and PPTX, and
neutralised against spreadsheet formulas in CSV.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable
from itertools import combinations
from pathlib import Path

from pipelines.errors import input_error
from pipelines.exports import neutralise
from pipelines.workshop.pack import Item, Pack

RENDERERS: dict[str, Callable[[Pack], bytes]] = {}
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
FONT_DIRS = [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu")]


def renderer(fmt: str):
    def wrap(func):
        RENDERERS[fmt] = func
        return func

    return wrap


def render(pack: Pack, fmt: str) -> bytes:
    if fmt not in RENDERERS:
        raise input_error("E042", None, value=fmt, known=", ".join(sorted(RENDERERS)))
    return RENDERERS[fmt](pack)


def format_for(path: Path, fmt: str | None) -> str:
    chosen = fmt or path.suffix.lower().lstrip(".")
    chosen = {"markdown": "md", "htm": "html"}.get(chosen, chosen)
    if chosen not in RENDERERS:
        raise input_error("E042", None, value=chosen, known=", ".join(sorted(RENDERERS)))
    return chosen


def clean(text: str) -> str:
    """Text that XML (DOCX, PPTX) can hold: control characters removed."""
    return XML_ILLEGAL.sub("", str(text))


def card_answer(item: Item) -> str:
    concepts = "; ".join(item.concepts) or "none tagged"
    lived = " (lived experience)" if item.lived_experience else ""
    return f"{item.field_label} · {item.short_citation}{lived} · concepts: {concepts}"


def summary_line(pack: Pack) -> str:
    fields = ", ".join(pack.field_labels[f] for f in pack.fields)
    return (
        f"Fields: {fields}. {len(pack.items)} items, seed {pack.request.seed}, "
        f"analysis run {pack.run_id}."
    )


# --- Markdown -------------------------------------------------------------------------------------

MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&])")


def md(text: str) -> str:
    """Markdown-inert text: every character Markdown or HTML could act on is escaped."""
    return MD_SPECIAL.sub(r"\\\1", clean(text).replace("\n", " "))


@renderer("md")
def render_markdown(pack: Pack) -> bytes:
    out = [f"# Workshop pack: {md(pack.focus_label)}", "", md(summary_line(pack)), ""]
    for warning in pack.warnings:
        out += [f"> **Note:** {md(warning)}", ""]
    out += ["## 1. Definitions side by side", ""]
    for field, items in pack.definitions().items():
        out += [f"### {md(pack.field_labels[field])}", ""]
        if not items:
            out += ["_No definition among this field's items._", ""]
        for item in items:
            out += [f"- {md(item.text)} ({md(item.short_citation)})"]
        out.append("")
    out += ["## 2. Card sort", "", "Card fronts (the answers are in section 6):", ""]
    out += [f"{item.number}. {md(item.front)}" for item in pack.items]
    out += ["", "## 3. Which field said this?", ""]
    options = " / ".join(md(pack.field_labels[f]) for f in pack.fields)
    for n, item in enumerate(pack.quiz(), start=1):
        out += [f"{n}. {md(item.front)}", f"   _({options})_", ""]
    out += ["## 4. Discussion prompts", ""]
    for n, prompt in enumerate(pack.prompts, start=1):
        out += [f"{n}. **{md(prompt.question)}**", f"   {md(prompt.statement)}", ""]
    out += ["## 5. Facilitator notes", ""]
    for title, text in pack.facilitator_notes():
        out += [f"### {md(title)}", "", md(text), ""]
    out += ["## 6. Answer keys", "", "### Card sort", ""]
    out += [f"{item.number}. {md(card_answer(item))}" for item in pack.items]
    out += ["", "### Which field said this?", ""]
    out += [
        f"{n}. {md(item.field_label)} ({md(item.short_citation)})"
        for n, item in enumerate(pack.quiz(), start=1)
    ]
    out += ["", "## 7. Bibliography (APA 7)", ""]
    out += [f"- {md(c)}" for c in pack.bibliography()]
    return ("\n".join(out) + "\n").encode("utf-8")


# --- CSV ------------------------------------------------------------------------------------------

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
        ]
        writer.writerow([neutralise(v) for v in values])
    return buffer.getvalue().encode("utf-8")


# --- HTML cards -----------------------------------------------------------------------------------

HTML_STYLE = """
@page { size: A4; margin: 10mm; }
body { font-family: "DejaVu Sans", Arial, sans-serif; color: #111; }
h1 { font-size: 16pt; } h2 { font-size: 13pt; page-break-before: always; }
.sheet { display: grid; grid-template-columns: 1fr 1fr; gap: 0; page-break-after: always; }
.card { border: 1px dashed #555; height: 88mm; padding: 5mm; box-sizing: border-box;
        font-size: 9.5pt; line-height: 1.3; overflow: hidden; position: relative; }
.card .n { position: absolute; bottom: 3mm; right: 4mm; font-size: 7pt; color: #666; }
.back .field { font-weight: bold; font-size: 12pt; margin-bottom: 2mm; }
.note { border-left: 3px solid #E69F00; padding-left: 3mm; }
"""
CARDS_PER_SHEET = 6


def _sheets(items: list[Item]) -> list[list[Item]]:
    return [items[i : i + CARDS_PER_SHEET] for i in range(0, len(items), CARDS_PER_SHEET)]


def _mirrored(sheet: list[Item]) -> list[Item | None]:
    """Backs in the order that lines up with the fronts when printed double-sided and flipped on
    the long edge: each row's two cards swap sides."""
    padded: list[Item | None] = list(sheet) + [None] * (len(sheet) % 2)
    out: list[Item | None] = []
    for i in range(0, len(padded), 2):
        out += [padded[i + 1], padded[i]]
    return out


@renderer("html")
def render_html(pack: Pack) -> bytes:
    e = lambda text: html.escape(clean(text), quote=True)  # noqa: E731
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Nothing in the page may load or run anything: only its own inline style.
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>Cards: {e(pack.focus_label)}</title><style>{HTML_STYLE}</style></head><body>",
        f"<h1>Card sort: {e(pack.focus_label)}</h1>",
        f"<p>{e(summary_line(pack))} Print on A4, double-sided (flip on the long edge), "
        "and cut along the dashed lines.</p>",
    ]
    parts += [f'<p class="note">{e(w)}</p>' for w in pack.warnings]
    for sheet in _sheets(pack.items):
        parts.append('<div class="sheet">')
        for item in sheet:
            parts.append(
                f'<div class="card front"><p>{e(item.front)}</p>'
                f'<span class="n">card {item.number}</span></div>'
            )
        parts.append("</div>")
        parts.append('<div class="sheet">')
        for item in _mirrored(sheet):
            if item is None:
                parts.append('<div class="card back"></div>')
                continue
            concepts = "; ".join(item.concepts) or "none tagged"
            lived = "<p>Lived experience source</p>" if item.lived_experience else ""
            parts.append(
                f'<div class="card back"><div class="field">{e(item.field_label)}</div>'
                f"<p>{e(item.short_citation)}</p>{lived}<p>Concepts: {e(concepts)}</p>"
                f'<span class="n">card {item.number}</span></div>'
            )
        parts.append("</div>")
    parts.append("<h2>Answer key</h2><ol>")
    parts += [f"<li>{e(card_answer(item))}</li>" for item in pack.items]
    parts.append("</ol><h2>Bibliography (APA 7)</h2><ul>")
    parts += [f"<li>{e(c)}</li>" for c in pack.bibliography()]
    parts.append("</ul></body></html>")
    return "\n".join(parts).encode("utf-8")


# --- PDF cards ------------------------------------------------------------------------------------

CARD_W, CARD_H = 95.0, 88.0
MARGIN_X, MARGIN_Y = 10.0, 16.0


def _pdf_font(pdf) -> tuple[str, Callable[[str], str]]:
    """DejaVu Sans where the system has it (all of Unicode that matters here); otherwise the
    built-in Helvetica, with text reduced to Latin-1."""
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            pdf.add_font("DejaVu", "", str(regular))
            pdf.add_font("DejaVu", "B", str(bold))
            return "DejaVu", clean
    swaps = {"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "·": "-"}

    def latin1(text: str) -> str:
        text = "".join(swaps.get(ch, ch) for ch in clean(text))
        return text.encode("latin-1", "replace").decode("latin-1")

    return "Helvetica", latin1


def _fit(pdf, font: str, text: str, width: float, height: float, sizes=(11, 10, 9, 8, 7, 6)):
    """The largest font size at which `text` fits the box."""
    for size in sizes:
        pdf.set_font(font, size=size)
        lines = pdf.multi_cell(width, size * 0.45, text, align="L", dry_run=True, output="LINES")
        if len(lines) * size * 0.45 <= height:
            return size
    return sizes[-1]


@renderer("pdf")
def render_pdf(pack: Pack) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    font, fix = _pdf_font(pdf)
    pdf.set_title(fix(f"Card sort: {pack.focus_label}"))

    def cut_lines() -> None:
        pdf.set_draw_color(90, 90, 90)
        with pdf.local_context():
            pdf.set_dash_pattern(dash=2, gap=1.5)
            for row in range(4):
                y = MARGIN_Y + row * CARD_H
                pdf.line(MARGIN_X - 5, y, MARGIN_X + 2 * CARD_W + 5, y)
            for col in range(3):
                x = MARGIN_X + col * CARD_W
                pdf.line(x, MARGIN_Y - 5, x, MARGIN_Y + 3 * CARD_H + 5)

    def header(text: str) -> None:
        pdf.set_font(font, size=8)
        pdf.set_xy(MARGIN_X, 5)
        pdf.cell(2 * CARD_W, 5, fix(text))

    def box(slot: int) -> tuple[float, float]:
        return MARGIN_X + (slot % 2) * CARD_W, MARGIN_Y + (slot // 2) * CARD_H

    sheets = _sheets(pack.items)
    for page, sheet in enumerate(sheets, start=1):
        pdf.add_page()
        header(f"Card fronts, sheet {page} of {len(sheets)}: cut along the dashed lines")
        cut_lines()
        for slot, item in enumerate(sheet):
            x, y = box(slot)
            text = fix(item.front)
            size = _fit(pdf, font, text, CARD_W - 10, CARD_H - 14)
            pdf.set_font(font, size=size)
            pdf.set_xy(x + 5, y + 5)
            pdf.multi_cell(CARD_W - 10, size * 0.45, text, align="L")
            pdf.set_font(font, size=7)
            pdf.set_xy(x + CARD_W - 25, y + CARD_H - 8)
            pdf.cell(20, 4, f"card {item.number}", align="R")
        pdf.add_page()
        header(
            f"Card backs, sheet {page} of {len(sheets)}: print double-sided, flip on the long edge"
        )
        cut_lines()
        for slot, item in enumerate(_mirrored(sheet)):
            if item is None:
                continue
            x, y = box(slot)
            pdf.set_xy(x + 5, y + 6)
            pdf.set_font(font, "B", size=13)
            pdf.multi_cell(CARD_W - 10, 6, fix(item.field_label))
            pdf.set_font(font, size=9)
            pdf.set_x(x + 5)
            lived = " (lived experience)" if item.lived_experience else ""
            pdf.multi_cell(CARD_W - 10, 4.5, fix(item.short_citation + lived))
            pdf.set_x(x + 5)
            pdf.set_font(font, size=7.5)
            pdf.multi_cell(CARD_W - 10, 3.6, fix(item.citation))
            pdf.set_x(x + 5)
            concepts = "; ".join(item.concepts) or "none tagged"
            pdf.multi_cell(CARD_W - 10, 3.6, fix(f"Concepts: {concepts}"))
            pdf.set_font(font, size=7)
            pdf.set_xy(x + CARD_W - 25, y + CARD_H - 8)
            pdf.cell(20, 4, f"card {item.number}", align="R")
    return bytes(pdf.output())


# --- DOCX -----------------------------------------------------------------------------------------


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


# --- PPTX -----------------------------------------------------------------------------------------


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
