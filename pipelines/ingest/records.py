"""The validated records every reader produces, and the vocabularies they are checked against."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from dataclasses import field as dc_field

EVIDENCE_TYPES: dict[str, str] = {
    "peer_reviewed": "Peer-reviewed study",
    "review": "Review",
    "policy": "Policy",
    "grey": "Grey literature",
    "practice": "Practice guidance",
    "lived_experience": "Lived experience",
}

KINDS: tuple[str, ...] = (
    "definition",
    "process",
    "facilitator",
    "barrier",
    "services",
    "critique",
    "measurement",
)

# Okabe-Ito: a colour-blind-safe palette; fields take colours in the order they are created.
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#000000",
)

DEFAULT_FIELDS: dict[str, str] = {
    "mental_health": "Mental health",
    "substance_use": "Substance use",
    "criminal_justice": "Criminal justice",
    "homelessness": "Homelessness & multiple disadvantage",
}

FIELD_SLUG = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def normalise_text(text: str) -> str:
    """NFC-normalise, drop control characters and collapse whitespace: the form we hash and store."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def slugify_field(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", value.strip().lower()).strip("_")


@dataclass
class SourceRecord:
    """A publication or document that excerpts come from."""

    title: str
    authors: str = ""
    year: int | None = None
    venue: str = ""
    doi: str = ""
    url: str = ""
    evidence_type: str | None = None
    citation: str = ""
    key: str = ""
    meta: dict = dc_field(default_factory=dict)

    def identity(self) -> str:
        """A stable key: an explicit key, else the DOI, else title and year."""
        if self.key:
            return self.key
        if self.doi:
            return "doi:" + self.doi.lower()
        return "title:" + normalise_text(self.title).lower() + f"|{self.year or ''}"


@dataclass
class ExcerptRecord:
    """One excerpt as read from a file, before it is stored."""

    text: str
    source: SourceRecord
    field: str | None = None
    kind: str | None = None
    location: str = ""
    external_id: str = ""
    row: int | str | None = None
    meta: dict = dc_field(default_factory=dict)
    split_index: int = 0
    split_count: int = 1


@dataclass
class ReadResult:
    """What a reader returns: excerpts plus rows it skipped (with the reason) and the format."""

    path: str
    format: str
    excerpts: list[ExcerptRecord]
    rejected: list[tuple[int | str, str]] = dc_field(default_factory=list)


_ID_SPACE = re.compile(r"\s+")


class ExternalIds:
    """External ids for the excerpts of one file that bring none (a Word, PDF, text or Markdown
    paragraph; a table row with no id): `NAME:DIGEST:LOCATION:COUNT`, such as
    `interview.pdf:1a2b3c4d:page-3:2` for the second block of page 3.

    The id must be one a user can join on (`export assignments`) and find again in the file, the
    same on every re-ingest of the same file and unique within the store. The name and location
    say where the excerpt is; the counter numbers the excerpts of one location (a page holds
    several). The first eight hex digits of the file's SHA-256 keep `a/notes.txt` and
    `b/notes.txt` apart, and keep a paragraph added to an edited file from taking the id an
    excerpt of the earlier version already holds. The same bytes ingested again under another
    field would repeat the ids of the first time; ingest then adds `~FIELD` to them.
    """

    def __init__(self, name: str, digest: str):
        self.prefix = f"{name}:{digest[:8]}"
        self._location = ""
        self._count = 0

    def next_id(self, record: ExcerptRecord) -> str:
        """The id of `record`; the pieces of a split record share its counter and are numbered
        `#1`, `#2`… as pieces of a given id are. Records must come in file order."""
        location = _id_location(record.row)
        if record.split_index == 0:
            self._count = self._count + 1 if location == self._location else 1
            self._location = location
        piece = f"#{record.split_index + 1}" if record.split_count > 1 else ""
        return f"{self.prefix}:{location}:{self._count}{piece}"


def _id_location(row: int | str | None) -> str:
    """'row-12' for a table row, 'page-3' / 'paragraph-7' / 'line-20' from a reader's row label."""
    if row is None:
        return "excerpt"
    if isinstance(row, int):
        return f"row-{row}"
    return _ID_SPACE.sub("-", str(row).strip()) or "excerpt"
