"""Card fronts that do not give the field away.

A card sort only works if players cannot read the answer off the card: the field's name and label
and the source's authors are always masked; wording that gives the field away (people nouns such
as "offenders", words such as "prison") is masked or made neutral too, unless the trainer keeps
it. That wording is data, one file per field in `lexicons/masking/` (see its README).

Masking can also go too far: a card whose every other phrase is `[…]` cannot be read. So each
front records the share of its words hidden behind `[…]` (`Front.hidden_share`; a neutral
replacement such as "people" for "offenders" and "[author]" for a name do not count, the sentence
still reads), and a pack leaves out a card whose share is above `MASK_CAP` (`pack.build_pack`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines import lexicons

MASK = "[…]"
AUTHOR = "[author]"
# At most this share of a card's words may be hidden behind […]: on the bundled corpus 0.15 keeps
# every card where a reader still has most of each sentence, and leaves out the few that are
# mostly names of services and places.
MASK_CAP = 0.15
_WORDS = re.compile(r"\w+(?:[-'’]\w+)*")


@dataclass(frozen=True)
class Front:
    """A card front: its text, what was masked (in order) and the share of the original's
    words hidden behind `MASK`."""

    text: str
    masked: list[str]
    hidden_share: float


def word_count(text: str) -> int:
    return len(_WORDS.findall(text))


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
    """The text a card shows, and what was masked (`mask_card` without the hidden share)."""
    front = mask_card(
        text, field_labels=field_labels, authors=authors, keep_wording=keep_wording, masking=masking
    )
    return front.text, front.masked


def mask_card(
    text: str,
    *,
    field_labels: list[str],
    authors: str | None,
    keep_wording: bool,
    masking: lexicons.Masking | None = None,
) -> Front:
    """The card front of `text`: field labels and the source's authors always masked; the
    wording in `masking` (default: the project's `lexicons/masking/`) masked or replaced unless
    the trainer keeps it."""
    masked: list[str] = []
    hidden = 0

    def sub(pattern: str, replacement: str, value: str) -> str:
        def swap(match: re.Match) -> str:
            nonlocal hidden
            masked.append(match.group(0))
            if replacement == MASK:
                hidden += word_count(match.group(0))
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
    return Front(out, masked, hidden / max(word_count(text), 1))
