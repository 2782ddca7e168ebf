"""The word lists, read from the project's `lexicons/` folder (the format is in its README.md).

They are data a researcher edits, not code: the stop words that make poor theme labels, and per
field the wording that gives a workshop card's field away. The stop words are read once per
process; the masking words again whenever their files change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pipelines.errors import input_error

LEXICONS_DIR = Path(__file__).resolve().parents[1] / "lexicons"
REPLACE = "->"


def read_entries(path: Path) -> list[tuple[int, str]]:
    """The entries of a lexicon file with their line numbers: blank lines and `#` comments out."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        (number, line.strip())
        for number, line in enumerate(lines, start=1)
        if line.strip() and not line.strip().startswith("#")
    ]


@cache
def stop_words(path: Path = LEXICONS_DIR / "stopwords.txt") -> frozenset[str]:
    """The domain's stop words (added to scikit-learn's English list by the theme labeller)."""
    return frozenset(entry.lower() for _, entry in read_entries(path))


@dataclass(frozen=True)
class Masking:
    """Wording that gives a card's field away: `replacements` are (pattern, neutral word) pairs,
    longest pattern first; `masks` are patterns shown as a mask, in file and line order."""

    replacements: tuple[tuple[str, str], ...]
    masks: tuple[str, ...]
    fields: tuple[str, ...]


def _checked(pattern: str, path: Path, number: int) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise input_error(
            "E005",
            path,
            f"line {number}",
            fmt="masking word list",
            detail=f"'{pattern}' is not a valid regular expression ({exc}); see lexicons/README.md",
        ) from None
    return pattern


def masking(folder: Path = LEXICONS_DIR / "masking") -> Masking:
    """Every field's masking words from `folder/<field>.txt`, files in name order; read again
    when a file is added, removed or edited."""
    files = sorted(folder.glob("*.txt"))
    return _masking(tuple((path, path.stat().st_mtime_ns, path.stat().st_size) for path in files))


@cache
def _masking(files: tuple[tuple[Path, int, int], ...]) -> Masking:
    replacements: list[tuple[str, str]] = []
    masks: list[str] = []
    for path, _, _ in files:
        for number, entry in read_entries(path):
            pattern, arrow, replacement = (part.strip() for part in entry.partition(REPLACE))
            if arrow:
                replacements.append((_checked(pattern, path, number), replacement))
            else:
                masks.append(_checked(pattern, path, number))
    # Longest first, so `ex-offender` is replaced before `offender` can match inside it.
    replacements.sort(key=lambda pair: len(pair[0]), reverse=True)
    return Masking(tuple(replacements), tuple(masks), tuple(path.stem for path, _, _ in files))
