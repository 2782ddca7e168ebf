"""PDF cards with cut lines: a sheet of fronts, then its backs mirrored for double-sided printing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pipelines.workshop.formats.registry import renderer
from pipelines.workshop.formats.sheets import mirrored, sheets
from pipelines.workshop.formats.text import clean
from pipelines.workshop.pack import Pack

FONT_DIRS = [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu")]
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

    pages = sheets(pack.items)
    for page, sheet in enumerate(pages, start=1):
        pdf.add_page()
        header(f"Card fronts, sheet {page} of {len(pages)}: cut along the dashed lines")
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
            f"Card backs, sheet {page} of {len(pages)}: print double-sided, flip on the long edge"
        )
        cut_lines()
        for slot, item in enumerate(mirrored(sheet)):
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
