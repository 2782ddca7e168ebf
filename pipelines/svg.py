"""Static charts drawn on the server as SVG: bars and heatmaps, data in, an `<svg>` string out.

The app draws its counts, shares and heatmaps this way and keeps plotly for the charts people
explore by hand (the map, the concept graph). A plotly chart costs the browser its 4.7 MB library
(over a second to load on the benchmark machine) and 0.1-0.15 s a chart; an SVG of a few dozen
shapes costs almost nothing, and each shape still shows its numbers on hover (an SVG `<title>`).

Every text from the data is escaped and every colour checked, so a label can never become markup.
Fields keep their colour from the store, as on every other chart.
"""

from __future__ import annotations

import math
import re
from html import escape

import numpy as np
import pandas as pd

_FONT = 13
_CHAR = 0.55 * _FONT  # the average width of a character of the sans-serif font, for layout
_COLOUR = re.compile(r"#[0-9A-Fa-f]{3,8}")
_GREY = "#888888"
# The ends of the heatmaps' colour scale (ColorBrewer's Blues, light to dark).
_LOW, _HIGH = (247, 251, 255), (8, 48, 107)


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
    # Bars by field need no legend: each bar is named below it.
    legend, legend_height = _legend(groups, colours, labels, width) if x != stack else ("", 0)
    rotate = _rotated(categories, (width - 70) / max(len(categories), 1))
    bottom = 40 + (_longest(categories, 18) * _CHAR * 0.7 if rotate else 0)
    box = _Box(left=60, top=34 + legend_height, right=width - 12, bottom=height - bottom)
    parts = [_y_grid(box, ticks, percent=False), _axis_title_left(box, value_title)]
    band = box.width / max(len(categories), 1)
    for i, category in enumerate(categories):
        left, base = box.left + i * band + band * 0.15, 0.0
        for group in groups:
            amount = cells.get((category, group), 0.0)
            if amount <= 0:
                continue
            top, bottom_y = box.y(base + amount, ticks[-1]), box.y(base, ticks[-1])
            parts.append(
                _rect(
                    left,
                    top,
                    band * 0.7,
                    bottom_y - top,
                    _colour(colours.get(group)),
                    f"{category} · {labels.get(group, group)}: {_number(amount)}",
                )
            )
            base += amount
        parts.append(_category_label(box.left + (i + 0.5) * band, box.bottom, category, rotate))
    parts.append(_text(box.left + box.width / 2, height - 8, x_title, anchor="middle"))
    return _svg(width, height, title, [legend, *parts])


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
    legend, legend_height = _legend(groups, colours, labels, width)
    label_width = min(_longest(categories, 200) * _CHAR + 12, width * 0.42)
    top = 34 + legend_height
    height = int(top + band * len(categories) + 46)
    box = _Box(left=label_width, top=top, right=width - 16, bottom=height - 46)
    ticks = _ticks(max(cells.values(), default=0.0), percent=True)
    parts = [
        _x_grid(box, ticks),
        _text(box.left + box.width / 2, height - 8, value_title, anchor="middle"),
    ]
    for i, name in enumerate(categories):
        y0 = box.top + i * band + 7
        shown = _clip(name, int((label_width - 12) / _CHAR))
        parts.append(
            f'<text x="{box.left - 8:.1f}" y="{y0 + bar * len(groups) / 2 + 4:.1f}" '
            f'text-anchor="end"><title>{_esc(name)}</title>{_esc(shown)}</text>'
        )
        for j, field in enumerate(groups):
            amount = cells.get((name, field), 0.0)
            parts.append(
                _rect(
                    box.left,
                    y0 + j * bar,
                    max(box.x(amount, ticks[-1]) - box.left, 0.0),
                    bar - 2,
                    _colour(colours.get(field)),
                    f"{name} · {labels.get(field, field)}: {amount:.0%}",
                )
            )
    return _svg(width, height, title, [legend, *parts])


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
    box = _Box(left=label_width, top=top, right=width - 12, bottom=height - 12)
    cell_width = box.width / max(len(columns), 1)
    parts = []
    for j, (column, lines) in enumerate(zip(columns, heads, strict=True)):
        x = box.left + (j + 0.5) * cell_width
        spans = "".join(
            f'<tspan x="{x:.1f}" y="{box.top - 6 - 16 * (len(lines) - 1 - k):.1f}">{_esc(line)}</tspan>'
            for k, line in enumerate(lines)
        )
        parts.append(f'<text text-anchor="middle"><title>{_esc(column)}</title>{spans}</text>')
    for i, row in enumerate(rows):
        y = box.top + i * cell_height
        parts.append(
            f'<text x="{box.left - 8:.1f}" y="{y + cell_height / 2 + 4:.1f}" text-anchor="end">'
            f"<title>{_esc(row)}</title>{_esc(_clip(row, int((label_width - 12) / _CHAR)))}</text>"
        )
        for j, column in enumerate(columns):
            amount = values[i, j]
            if not np.isfinite(amount):
                continue
            shade = 0.0 if high == low else (amount - low) / (high - low)
            written = f"{amount:.0%}" if percent else f"{amount:.2f}"
            x = box.left + j * cell_width
            parts.append(
                _rect(
                    x,
                    y,
                    cell_width - 1,
                    cell_height - 1,
                    _blue(shade),
                    f"{row} · {column}: {written}",
                )
            )
            ink = "#FFFFFF" if shade > 0.55 else "#1A1A1A"
            parts.append(
                _text(
                    x + cell_width / 2, y + cell_height / 2 + 4, written, anchor="middle", fill=ink
                )
            )
    return _svg(width, height, title, parts)


# --- layout ----------------------------------------------------------------------------------------


class _Box:
    """The plotting area, in SVG units."""

    def __init__(self, *, left: float, top: float, right: float, bottom: float) -> None:
        self.left, self.top, self.right, self.bottom = left, top, right, bottom
        self.width, self.height = right - left, bottom - top

    def y(self, value: float, scale: float) -> float:
        return self.bottom - self.height * (value / scale if scale else 0.0)

    def x(self, value: float, scale: float) -> float:
        return self.left + self.width * (value / scale if scale else 0.0)


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


def _y_grid(box: _Box, ticks: list[float], *, percent: bool) -> str:
    lines = []
    for tick in ticks:
        y = box.y(tick, ticks[-1])
        lines.append(
            f'<line x1="{box.left}" x2="{box.right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#E6E6E6"/>'
        )
        written = f"{tick:.0%}" if percent else _number(tick)
        lines.append(_text(box.left - 6, y + 4, written, anchor="end"))
    return "".join(lines)


def _x_grid(box: _Box, ticks: list[float]) -> str:
    lines = []
    for tick in ticks:
        x = box.x(tick, ticks[-1])
        lines.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{box.top}" y2="{box.bottom}" stroke="#E6E6E6"/>'
        )
        lines.append(_text(x, box.bottom + 16, f"{tick:.0%}", anchor="middle"))
    return "".join(lines)


def _legend(
    groups: list, colours: dict[str, str], labels: dict[str, str], width: int
) -> tuple[str, int]:
    """A swatch and name per group, in rows across the top; returns it and its height."""
    parts, x, row = [], 8.0, 0
    for group in groups:
        name = str(labels.get(group, group))
        needed = 18 + len(name) * _CHAR + 16
        if x + needed > width and x > 8:
            x, row = 8.0, row + 1
        y = 30 + row * 20
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="12" height="12" fill="{_colour(colours.get(group))}"/>'
        )
        parts.append(_text(x + 18, y + 11, name))
        x += needed
    return "".join(parts), (row + 1) * 20 + 6 if groups else 0


def _axis_title_left(box: _Box, text: str) -> str:
    y = box.top + box.height / 2
    return (
        f'<text x="14" y="{y:.1f}" text-anchor="middle" transform="rotate(-90 14 {y:.1f})">'
        f"{_esc(text)}</text>"
    )


def _rotated(labels: list[str], slot: float) -> bool:
    """Whether the labels along an axis must be slanted to fit their slots."""
    return any(len(label) * _CHAR > slot - 4 for label in labels)


def _category_label(x: float, y: float, label: str, rotate: bool) -> str:
    shown = _esc(_clip(label, 18))
    if rotate:
        return (
            f'<text x="{x:.1f}" y="{y + 14:.1f}" text-anchor="end" '
            f'transform="rotate(-35 {x:.1f} {y + 14:.1f})"><title>{_esc(label)}</title>{shown}</text>'
        )
    return f'<text x="{x:.1f}" y="{y + 16:.1f}" text-anchor="middle">{shown}</text>'


# --- pieces ----------------------------------------------------------------------------------------


def _svg(width: int, height: int, title: str, parts: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{_esc(title)}" font-size="{_FONT}" '
        f'fill="#1A1A1A" style="max-width:{width}px;height:auto;display:block">\n'
        f"<title>{_esc(title)}</title>"
        f'<text x="8" y="18" font-size="{_FONT + 3}">{_esc(title)}</text>'
        + "".join(parts)
        + "\n</svg>"
    )


def _esc(text: object) -> str:
    """Text as SVG text: escaped, and on one line (the app hands the drawing to Markdown as one
    raw HTML block, which a blank line would end)."""
    return escape(" ".join(str(text).split()))


def _rect(x: float, y: float, width: float, height: float, fill: str, hover: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" fill="{fill}">'
        f"<title>{_esc(hover)}</title></rect>"
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", fill: str = "") -> str:
    ink = f' fill="{fill}"' if fill else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{ink}>{_esc(text)}</text>'


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
    words, out = text.split(), [""]
    for word in words:
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
