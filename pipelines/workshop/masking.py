"""Card fronts that do not give the field away.

A card sort only works if players cannot read the answer off the card: the field's name and label
and the source's authors are always masked; wording that gives the field away (people nouns such
as "offenders", words such as "prison") is masked or made neutral too, unless the trainer keeps
it. That wording is data, one file per field in `lexicons/masking/` (see its README).
"""

from __future__ import annotations

import re

from pipelines import lexicons

MASK = "[…]"
AUTHOR = "[author]"


def _surnames(authors: str | None) -> list[str]:
    names = [a.strip() for a in (authors or "").split(";") if a.strip()]
    return [n.split(",")[0].strip() for n in names if len(n.split(",")[0].strip()) > 2]


def card_front(
    text: str,
    *,
    field_labels: list[str],
    authors: str | None,
    keep_wording: bool,
    masking: lexicons.Masking | None = None,
) -> tuple[str, list[str]]:
    """The text a card shows, and what was masked: field labels and the source's authors always
    masked; the wording in `masking` (default: the project's `lexicons/masking/`) masked or
    replaced unless the trainer keeps it."""
    masked: list[str] = []

    def sub(pattern: str, replacement: str, value: str) -> str:
        def swap(match: re.Match) -> str:
            masked.append(match.group(0))
            out = replacement
            if match.group(0)[:1].isupper() and out[:1].isalpha():
                out = out[:1].upper() + out[1:]
            return out

        return re.sub(pattern, swap, value, flags=re.IGNORECASE)

    out = text
    for label in sorted(field_labels, key=len, reverse=True):
        out = sub(rf"\b{re.escape(label)}\b", MASK, out)
    for name in _surnames(authors):
        out = sub(rf"\b{re.escape(name)}\b(?:\s+et al\.?)?", AUTHOR, out)
    if not keep_wording:
        words = masking or lexicons.masking()
        for pattern, neutral in words.replacements:
            out = sub(rf"\b(?:{pattern})\b", neutral, out)
        for pattern in words.masks:
            out = sub(rf"\b(?:{pattern})\b", MASK, out)
    return out, masked
