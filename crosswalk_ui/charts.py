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

import math
import re
from html import escape

import numpy as np
import pandas as pd

_FONT = 13
_CHAR = 0.55 * _FONT  # the average width of a character, for layout
_COLOUR = re.compile(r"#[0-9A-Fa-f]{3,8}")
_GREY = "#888888"
_INK = "#1A1A1A"
_GRID = "#E6E6E6"
# The ends of the heatmaps' colour scale (ColorBrewer's Blues, light to dark).
_LOW, _HIGH = (247, 251, 255), (8, 48, 107)
# One style sheet travels with each chart (st.html is not iframed; the classes apply to the page).
STYLE = (
    "<style>.cw-chart{position:relative;container-type:inline-size;width:100%}"
    ".cw-chart>div{position:absolute}"
    ".cw-chart>.cw-t{white-space:nowrap;line-height:1;color:" + _INK + "}</style>"
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
    head = "".join(f'<th scope="col">{_esc(name)}</th>' for name in names)
    rows = []
    for label, values in zip(frame.index, frame.itertuples(index=False), strict=True):
        cells = [f'<td class="cw-n">{_esc(label)}</td>'] if index else []
        cells += [f"<td>{_esc(value)}</td>" for value in values]
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
    groups = _in_order(table[stack], labels)
    cells: dict[tuple[str, object], float] = {}
    for category, group, amount in zip(shown, table[stack], table[value], strict=True):
        cells[category, group] = cells.get((category, group), 0.0) + float(amount)
    totals = [sum(cells.get((c, g), 0.0) for g in groups) for c in categories]
    ticks = _ticks(max(totals, default=0.0))
    canvas = _Canvas(width, height, title)
    # Bars by field need no legend: each bar is named below it.
    top = 34 + (_legend(canvas, groups, colours, labels) if x != stack else 0)
    rotate = _rotated(categories, (width - 70) / max(len(categories), 1))
    bottom = 40 + (_longest(categories, 18) * _CHAR * 0.7 if rotate else 0)
    box = _Box(left=60, top=top, right=width - 12, bottom=height - bottom)
    for tick in ticks:
        y = box.y(tick, ticks[-1])
        canvas.rect(box.left, y, box.width, 1, _GRID)
        canvas.text(box.left - 6, y + 4, _number(tick), anchor="end")
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
                _colour(colours.get(group)),
                hover=f"{category} · {labels.get(group, group)}: {_number(amount)}",
                bar=True,
            )
            base += amount
        centre = box.left + (i + 0.5) * band
        if rotate:
            canvas.text(
                centre, box.bottom + 14, _clip(category, 18), anchor="end", turn=-35, hover=category
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
    groups = _in_order(table[group], labels)
    cells = {
        (str(name), field): float(amount)
        for name, field, amount in zip(table[category], table[group], table[value], strict=True)
    }
    bar = 10
    band = bar * len(groups) + 12
    top = 34 + _legend_layout(groups, labels, width)[1]
    height = int(top + band * len(categories) + 46)
    canvas = _Canvas(width, height, title)
    _legend(canvas, groups, colours, labels)
    label_width = min(_longest(categories, 200) * _CHAR + 12, width * 0.42)
    box = _Box(left=label_width, top=top, right=width - 16, bottom=height - 46)
    ticks = _ticks(max(cells.values(), default=0.0), percent=True)
    for tick in ticks:
        x = box.x(tick, ticks[-1])
        canvas.rect(x, box.top, 1, box.height, _GRID)
        canvas.text(x, box.bottom + 16, f"{tick:.0%}", anchor="middle")
    canvas.text(box.left + box.width / 2, height - 8, value_title, anchor="middle")
    for i, name in enumerate(categories):
        y0 = box.top + i * band + 7
        canvas.text(
            box.left - 8,
            y0 + bar * len(groups) / 2 + 4,
            _clip(name, int((label_width - 12) / _CHAR)),
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
                _colour(colours.get(field)),
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
    label_width = min(_longest(rows, 60) * _CHAR + 12, width * 0.45)
    slot = int((width - label_width - 12) / max(len(columns), 1) / _CHAR)
    heads = [_wrap(column, max(slot - 1, 4)) for column in columns]
    top = 34 + 16 * max((len(lines) for lines in heads), default=1)
    cell_height = 26
    height = int(top + cell_height * len(rows) + 12)
    canvas = _Canvas(width, height, title)
    box = _Box(left=label_width, top=top, right=width - 12, bottom=height - 12)
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
            _clip(row, int((label_width - 12) / _CHAR)),
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
                _blue(shade),
                hover=f"{row} · {column}: {written}",
                bar=True,
            )
            ink = "#FFFFFF" if shade > 0.55 else _INK
            canvas.text(
                x + cell_width / 2, y + cell_height / 2 + 4, written, anchor="middle", ink=ink
            )
    return canvas.html()


# --- drawing --------------------------------------------------------------------------------------


class _Canvas:
    """Shapes placed in chart units (`width` × `height`, y downwards), written as boxes placed in
    percent of the chart, so the chart keeps its proportions at any width."""

    def __init__(self, width: int, height: int, title: str) -> None:
        self.width, self.height, self.title = width, height, title
        self.parts: list[str] = []
        self.text(8, 18, title, size=_FONT + 3)

    def rect(
        self,
        x: float,
        y: float,
        width: float,
        height: float,
        fill: str,
        *,
        hover: str = "",
        bar: bool = False,
    ) -> None:
        """A filled box; a `bar` carries a value (its `hover` text says which)."""
        tip = f' title="{_esc(hover)}"' if hover else ""
        kind = ' class="cw-bar"' if bar else ""
        self.parts.append(
            f'<div{kind}{tip} style="left:{self._x(x)}%;top:{self._y(y)}%;'
            f'width:{self._x(width)}%;height:{self._y(height)}%;background:{fill}"></div>'
        )

    def text(
        self,
        x: float,
        y: float,
        text: str,
        *,
        anchor: str = "start",
        turn: int = 0,
        size: int = _FONT,
        ink: str = "",
        hover: str = "",
    ) -> None:
        """`text` with its baseline at `y`, starting, centred or ending at `x` (`anchor`),
        turned by `turn` degrees about that point."""
        shift = {"start": 0, "middle": -50, "end": -100}[anchor]
        place = f"transform:translate({shift}%,-85%)"
        if turn:
            place = f"transform-origin:{-shift}% 85%;{place} rotate({turn}deg)"
        colour = f"color:{ink};" if ink else ""
        tip = f' title="{_esc(hover)}"' if hover else ""
        self.parts.append(
            f'<div class="cw-t"{tip} style="left:{self._x(x)}%;top:{self._y(y)}%;'
            f'font-size:{size / self.width * 100:.3f}cqw;{colour}{place}">{_esc(text)}</div>'
        )

    def html(self) -> str:
        return (
            f'<div class="cw-chart" role="img" aria-label="{_esc(self.title)}" '
            f'style="max-width:{self.width}px;aspect-ratio:{self.width}/{self.height}">'
            + "".join(self.parts)
            + "</div>"
        )

    def _x(self, value: float) -> str:
        return f"{value / self.width * 100:.3f}"

    def _y(self, value: float) -> str:
        return f"{value / self.height * 100:.3f}" if self.height else "0"


class _Box:
    """The plotting area, in chart units."""

    def __init__(self, *, left: float, top: float, right: float, bottom: float) -> None:
        self.left, self.top, self.right, self.bottom = left, top, right, bottom
        self.width, self.height = right - left, bottom - top

    def y(self, value: float, scale: float) -> float:
        return self.bottom - self.height * (value / scale if scale else 0.0)

    def x(self, value: float, scale: float) -> float:
        return self.left + self.width * (value / scale if scale else 0.0)


def _legend_layout(
    groups: list, labels: dict[str, str], width: int
) -> tuple[list[tuple[object, str, float, float]], int]:
    """Where each group's swatch goes, in rows across the top: (group, name, x, y) each, and
    the rows' height."""
    placed, x, row = [], 8.0, 0
    for group in groups:
        name = str(labels.get(group, group))
        needed = 18 + len(name) * _CHAR + 16
        if x + needed > width and x > 8:
            x, row = 8.0, row + 1
        placed.append((group, name, x, 30.0 + row * 20))
        x += needed
    return placed, (row + 1) * 20 + 6 if groups else 0


def _legend(canvas: _Canvas, groups: list, colours: dict[str, str], labels: dict[str, str]) -> int:
    """A swatch and name per group across the top of `canvas`; returns the rows' height."""
    placed, height = _legend_layout(groups, labels, canvas.width)
    for group, name, x, y in placed:
        canvas.rect(x, y, 12, 12, _colour(colours.get(group)))
        canvas.text(x + 18, y + 11, name)
    return height


def _ticks(top: float, *, percent: bool = False) -> list[float]:
    """Evenly spaced round values from 0 to at least `top` (at most six of them)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if not percent:
        step = max(step, 1.0)
    count = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


def _rotated(labels: list[str], slot: float) -> bool:
    """Whether the labels along an axis must be slanted to fit their slots."""
    return any(len(label) * _CHAR > slot - 4 for label in labels)


def _esc(text: object) -> str:
    """Text as HTML text or attribute: escaped, whitespace collapsed to single spaces."""
    return escape(" ".join(str(text).split()))


def _colour(value: str | None) -> str:
    return value if value and _COLOUR.fullmatch(value) else _GREY


def _blue(shade: float) -> str:
    channels = (round(lo + (hi - lo) * shade) for lo, hi in zip(_LOW, _HIGH, strict=True))
    return "#" + "".join(f"{c:02X}" for c in channels)


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _in_order(values: pd.Series, labels: dict[str, str]) -> list:
    """The distinct values, fields in the store's order (so a legend reads the same on every
    chart), then any others as they come."""
    present = set(values)
    known = [field for field in labels if field in present]
    return known + [v for v in pd.unique(values) if v not in labels]


def _wrap(text: str, width: int, lines: int = 2) -> list[str]:
    """`text` in at most `lines` lines of about `width` characters, the last clipped."""
    out = [""]
    for word in text.split():
        if out[-1] and len(out[-1]) + 1 + len(word) > width:
            out.append("")
        out[-1] = f"{out[-1]} {word}".strip()
    if len(out) > lines:
        out = out[: lines - 1] + [" ".join(out[lines - 1 :])]
    return [_clip(line, width) for line in out]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 1)].rstrip() + "…"


def _longest(labels: list[str], limit: int) -> int:
    return min(max((len(label) for label in labels), default=0), limit)
