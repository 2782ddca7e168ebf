"""Cards laid out on A4 sheets for double-sided printing (the HTML and PDF cards)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.workshop.pack import Item

CARDS_PER_SHEET = 6


def sheets(items: list[Item]) -> list[list[Item]]:
    return [items[i : i + CARDS_PER_SHEET] for i in range(0, len(items), CARDS_PER_SHEET)]


def mirrored(sheet: list[Item]) -> list[Item | None]:
    """Backs in the order that lines up with the fronts when printed double-sided and flipped on
    the long edge: each row's two cards swap sides."""
    padded: list[Item | None] = list(sheet) + [None] * (len(sheet) % 2)
    out: list[Item | None] = []
    for i in range(0, len(padded), 2):
        out += [padded[i + 1], padded[i]]
    return out
