"""Static charts drawn on the server as plain HTML: bars and heatmaps, data in, an HTML string out.

The app draws its counts, shares and heatmaps this way and keeps plotly for the charts people
explore by hand (the map, the concept graph). On the benchmark machine a plotly chart costs the
browser its 4.7 MB library (over a second, the first time) and 0.1-0.15 s a chart, and an SVG
costs a Markdown parse (Streamlit's `st.html` keeps HTML only). A chart of positioned boxes costs
almost nothing, and each box still shows its numbers on hover (its `title`).

A chart is a box of the chart's proportions; every shape is placed in percent of it and every
text is sized in units of its width, so the whole chart scales like a picture. Every text from the
data is escaped and every colour checked, so a label can never become markup.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crosswalk_ui import canvas as draw

# One style sheet travels with each chart (st.html is not iframed; the classes apply to the page).
STYLE = (
    "<style>.cw-chart{position:relative;container-type:inline-size;width:100%}"
    ".cw-chart>div{position:absolute}"
    ".cw-chart>.cw-t{white-space:nowrap;line-height:1;color:" + draw.INK + "}</style>"
)


TABLE_STYLE = (
    "<style>.cw-table{border-collapse:collapse;width:100%;font-size:.875rem;line-height:1.4}"
    ".cw-table th,.cw-table td{text-align:left;vertical-align:top;padding:.3rem .6rem;"
    "border-bottom:1px solid rgba(128,128,128,.3)}.cw-table th{font-weight:600}"
    ".cw-table td.cw-n{opacity:.7}</style>"
)


def table(frame: pd.DataFrame, *, index: bool = True) -> str:
    """A small static table as HTML, every value escaped, with the index (its name as its header)
    as the first column when `index`. Cheaper for the browser than Streamlit's table element,
    which draws each cell as a component (Compare's vocabulary, Concepts' counterparts)."""
    names = ([frame.index.name or ""] if index else []) + [str(c) for c in frame.columns]
    head = "".join(f'<th scope="col">{draw.esc(name)}</th>' for name in names)
    rows = []
    for label, values in zip(frame.index, frame.itertuples(index=False), strict=True):
        cells = [f'<td class="cw-n">{draw.esc(label)}</td>'] if index else []
        cells += [f"<td>{draw.esc(value)}</td>" for value in values]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="cw-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def stacked_bars(
    table: pd.DataFrame,
    *,
    x: str,
    stack: str,
    colours: dict[str, str],
    labels: dict[str, str],
    title: str,
    x_title: str,
    value: str = "count",
    value_title: str = "excerpts",
    width: int = 480,
    height: int = 340,
) -> str:
    """Vertical bars of `value` for each `x`, stacked by `stack` (a field), in the order the
    table gives them. Hovering a segment shows its category, field and value. A category that
    is a field (bars by field) is shown by its label, without a legend."""
    shown = [str(labels.get(v, v)) for v in table[x]]
    categories = list(dict.fromkeys(shown))
    groups = draw.in_order(table[stack], labels)
    cells: dict[tuple[str, object], float] = {}
    for category, group, amount in zip(shown, table[stack], table[value], strict=True):
        cells[category, group] = cells.get((category, group), 0.0) + float(amount)
    totals = [sum(cells.get((c, g), 0.0) for g in groups) for c in categories]
    ticks = draw.ticks(max(totals, default=0.0))
    canvas = draw.Canvas(width, height, title)
    # Bars by field need no legend: each bar is named below it.
    top = 34 + (draw.legend(canvas, groups, colours, labels) if x != stack else 0)
    rotate = draw.rotated(categories, (width - 70) / max(len(categories), 1))
    bottom = 40 + (draw.longest(categories, 18) * draw.CHAR * 0.7 if rotate else 0)
    box = draw.Box(left=60, top=top, right=width - 12, bottom=height - bottom)
    for tick in ticks:
        y = box.y(tick, ticks[-1])
        canvas.rect(box.left, y, box.width, 1, draw.GRID)
        canvas.text(box.left - 6, y + 4, draw.number(tick), anchor="end")
    canvas.text(18, box.top + box.height / 2 + 4, value_title, anchor="middle", turn=-90)
    band = box.width / max(len(categories), 1)
    for i, category in enumerate(categories):
        left, base = box.left + i * band + band * 0.15, 0.0
        for group in groups:
            amount = cells.get((category, group), 0.0)
            if amount <= 0:
                continue
            top_y, bottom_y = box.y(base + amount, ticks[-1]), box.y(base, ticks[-1])
            canvas.rect(
                left,
                top_y,
                band * 0.7,
                bottom_y - top_y,
                draw.colour(colours.get(group)),
                hover=f"{category} · {labels.get(group, group)}: {draw.number(amount)}",
                bar=True,
            )
            base += amount
        centre = box.left + (i + 0.5) * band
        if rotate:
            canvas.text(
                centre,
                box.bottom + 14,
                draw.clip(category, 18),
                anchor="end",
                turn=-35,
                hover=category,
            )
        else:
            canvas.text(centre, box.bottom + 16, category, anchor="middle")
    canvas.text(box.left + box.width / 2, height - 8, x_title, anchor="middle")
    return canvas.html()


def grouped_bars(
    table: pd.DataFrame,
    *,
    category: str,
    group: str,
    colours: dict[str, str],
    labels: dict[str, str],
    title: str,
    value: str = "share",
    value_title: str = "share of the field's excerpts",
    width: int = 1000,
) -> str:
    """Horizontal bars of `value` (a share, 0-1) for each `category`, one bar per `group` (a
    field) side by side, categories top to bottom in the table's order."""
    categories = [str(c) for c in pd.unique(table[category])]
    groups = draw.in_order(table[group], labels)
    cells = {
        (str(name), field): float(amount)
        for name, field, amount in zip(table[category], table[group], table[value], strict=True)
    }
    bar = 10
    band = bar * len(groups) + 12
    top = 34 + draw.legend_layout(groups, labels, width)[1]
    height = int(top + band * len(categories) + 46)
    canvas = draw.Canvas(width, height, title)
    draw.legend(canvas, groups, colours, labels)
    label_width = min(draw.longest(categories, 200) * draw.CHAR + 12, width * 0.42)
    box = draw.Box(left=label_width, top=top, right=width - 16, bottom=height - 46)
    ticks = draw.ticks(max(cells.values(), default=0.0), percent=True)
    for tick in ticks:
        x = box.x(tick, ticks[-1])
        canvas.rect(x, box.top, 1, box.height, draw.GRID)
        canvas.text(x, box.bottom + 16, f"{tick:.0%}", anchor="middle")
    canvas.text(box.left + box.width / 2, height - 8, value_title, anchor="middle")
    for i, name in enumerate(categories):
        y0 = box.top + i * band + 7
        canvas.text(
            box.left - 8,
            y0 + bar * len(groups) / 2 + 4,
            draw.clip(name, int((label_width - 12) / draw.CHAR)),
            anchor="end",
            hover=name,
        )
        for j, field in enumerate(groups):
            amount = cells.get((name, field), 0.0)
            canvas.rect(
                box.left,
                y0 + j * bar,
                max(box.x(amount, ticks[-1]) - box.left, 0.0),
                bar - 2,
                draw.colour(colours.get(field)),
                hover=f"{name} · {labels.get(field, field)}: {amount:.0%}",
                bar=True,
            )
    return canvas.html()


def heatmap(matrix: pd.DataFrame, *, title: str, percent: bool = False, width: int = 560) -> str:
    """A cell per (row, column) shaded from light to dark blue by its value, with the value
    written in it (as a percentage when `percent`); an empty cell is left blank."""
    values = matrix.to_numpy(dtype=float)
    rows, columns = [str(r) for r in matrix.index], [str(c) for c in matrix.columns]
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    label_width = min(draw.longest(rows, 60) * draw.CHAR + 12, width * 0.45)
    slot = int((width - label_width - 12) / max(len(columns), 1) / draw.CHAR)
    heads = [draw.wrap(column, max(slot - 1, 4)) for column in columns]
    top = 34 + 16 * max((len(lines) for lines in heads), default=1)
    cell_height = 26
    height = int(top + cell_height * len(rows) + 12)
    canvas = draw.Canvas(width, height, title)
    box = draw.Box(left=label_width, top=top, right=width - 12, bottom=height - 12)
    cell_width = box.width / max(len(columns), 1)
    for j, (column, lines) in enumerate(zip(columns, heads, strict=True)):
        x = box.left + (j + 0.5) * cell_width
        for k, line in enumerate(lines):
            canvas.text(
                x, box.top - 6 - 16 * (len(lines) - 1 - k), line, anchor="middle", hover=column
            )
    for i, row in enumerate(rows):
        y = box.top + i * cell_height
        canvas.text(
            box.left - 8,
            y + cell_height / 2 + 4,
            draw.clip(row, int((label_width - 12) / draw.CHAR)),
            anchor="end",
            hover=row,
        )
        for j, column in enumerate(columns):
            amount = values[i, j]
            if not np.isfinite(amount):
                continue
            shade = 0.0 if high == low else (amount - low) / (high - low)
            written = f"{amount:.0%}" if percent else f"{amount:.2f}"
            x = box.left + j * cell_width
            canvas.rect(
                x,
                y,
                cell_width - 1,
                cell_height - 1,
                draw.blue(shade),
                hover=f"{row} · {column}: {written}",
                bar=True,
            )
            ink = "#FFFFFF" if shade > 0.55 else draw.INK
            canvas.text(
                x + cell_width / 2, y + cell_height / 2 + 4, written, anchor="middle", ink=ink
            )
    return canvas.html()
