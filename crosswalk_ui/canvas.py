"""The drawing under `charts`: boxes and texts placed in percent of a chart (`Canvas`), the plotting
area (`Box`), legends, ticks, and the escaping and colour checks that keep data from becoming
markup."""

from __future__ import annotations

import math
import re
from html import escape

import pandas as pd

FONT = 13
CHAR = 0.55 * FONT  # the average width of a character, for layout
COLOUR = re.compile(r"#[0-9A-Fa-f]{3,8}")
GREY = "#888888"
INK = "#1A1A1A"
GRID = "#E6E6E6"
# The ends of the heatmaps' colour scale (ColorBrewer's Blues, light to dark).
LOW, HIGH = (247, 251, 255), (8, 48, 107)

# --- drawing --------------------------------------------------------------------------------------


class Canvas:
    """Shapes placed in chart units (`width` × `height`, y downwards), written as boxes placed in
    percent of the chart, so the chart keeps its proportions at any width."""

    def __init__(self, width: int, height: int, title: str) -> None:
        self.width, self.height, self.title = width, height, title
        self.parts: list[str] = []
        self.text(8, 18, title, size=FONT + 3)

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
        tip = f' title="{esc(hover)}"' if hover else ""
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
        size: int = FONT,
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
        tip = f' title="{esc(hover)}"' if hover else ""
        self.parts.append(
            f'<div class="cw-t"{tip} style="left:{self._x(x)}%;top:{self._y(y)}%;'
            f'font-size:{size / self.width * 100:.3f}cqw;{colour}{place}">{esc(text)}</div>'
        )

    def html(self) -> str:
        return (
            f'<div class="cw-chart" role="img" aria-label="{esc(self.title)}" '
            f'style="max-width:{self.width}px;aspect-ratio:{self.width}/{self.height}">'
            + "".join(self.parts)
            + "</div>"
        )

    def _x(self, value: float) -> str:
        return f"{value / self.width * 100:.3f}"

    def _y(self, value: float) -> str:
        return f"{value / self.height * 100:.3f}" if self.height else "0"


class Box:
    """The plotting area, in chart units."""

    def __init__(self, *, left: float, top: float, right: float, bottom: float) -> None:
        self.left, self.top, self.right, self.bottom = left, top, right, bottom
        self.width, self.height = right - left, bottom - top

    def y(self, value: float, scale: float) -> float:
        return self.bottom - self.height * (value / scale if scale else 0.0)

    def x(self, value: float, scale: float) -> float:
        return self.left + self.width * (value / scale if scale else 0.0)


def legend_layout(
    groups: list, labels: dict[str, str], width: int
) -> tuple[list[tuple[object, str, float, float]], int]:
    """Where each group's swatch goes, in rows across the top: (group, name, x, y) each, and
    the rows' height."""
    placed, x, row = [], 8.0, 0
    for group in groups:
        name = str(labels.get(group, group))
        needed = 18 + len(name) * CHAR + 16
        if x + needed > width and x > 8:
            x, row = 8.0, row + 1
        placed.append((group, name, x, 30.0 + row * 20))
        x += needed
    return placed, (row + 1) * 20 + 6 if groups else 0


def legend(canvas: Canvas, groups: list, colours: dict[str, str], labels: dict[str, str]) -> int:
    """A swatch and name per group across the top of `canvas`; returns the rows' height."""
    placed, height = legend_layout(groups, labels, canvas.width)
    for group, name, x, y in placed:
        canvas.rect(x, y, 12, 12, colour(colours.get(group)))
        canvas.text(x + 18, y + 11, name)
    return height


def ticks(top: float, *, percent: bool = False) -> list[float]:
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


def rotated(labels: list[str], slot: float) -> bool:
    """Whether the labels along an axis must be slanted to fit their slots."""
    return any(len(label) * CHAR > slot - 4 for label in labels)


def esc(text: object) -> str:
    """Text as HTML text or attribute: escaped, whitespace collapsed to single spaces."""
    return escape(" ".join(str(text).split()))


def colour(value: str | None) -> str:
    return value if value and COLOUR.fullmatch(value) else GREY


def blue(shade: float) -> str:
    channels = (round(lo + (hi - lo) * shade) for lo, hi in zip(LOW, HIGH, strict=True))
    return "#" + "".join(f"{c:02X}" for c in channels)


def number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def in_order(values: pd.Series, labels: dict[str, str]) -> list:
    """The distinct values, fields in the store's order (so a legend reads the same on every
    chart), then any others as they come."""
    present = set(values)
    known = [field for field in labels if field in present]
    return known + [v for v in pd.unique(values) if v not in labels]


def wrap(text: str, width: int, lines: int = 2) -> list[str]:
    """`text` in at most `lines` lines of about `width` characters, the last clipped."""
    out = [""]
    for word in text.split():
        if out[-1] and len(out[-1]) + 1 + len(word) > width:
            out.append("")
        out[-1] = f"{out[-1]} {word}".strip()
    if len(out) > lines:
        out = out[: lines - 1] + [" ".join(out[lines - 1 :])]
    return [clip(line, width) for line in out]


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 1)].rstrip() + "…"


def longest(labels: list[str], limit: int) -> int:
    return min(max((len(label) for label in labels), default=0), limit)
