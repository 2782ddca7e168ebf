"""Print-ready HTML cards: fronts and mirrored backs on A4 sheets, the answer key and the
bibliography. Corpus text is escaped, and the page may load and run nothing."""

from __future__ import annotations

import html

from pipelines.workshop.formats.registry import renderer
from pipelines.workshop.formats.sheets import mirrored, sheets
from pipelines.workshop.formats.text import card_answer, clean, summary_line
from pipelines.workshop.pack import Pack

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
    for sheet in sheets(pack.items):
        parts.append('<div class="sheet">')
        for item in sheet:
            parts.append(
                f'<div class="card front"><p>{e(item.front)}</p>'
                f'<span class="n">card {item.number}</span></div>'
            )
        parts.append("</div>")
        parts.append('<div class="sheet">')
        for item in mirrored(sheet):
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
