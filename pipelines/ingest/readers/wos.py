"""Web of Science plain-text export (`FN`/`VR` header, records `PT` ... `ER`, `EF` at the end).

Each record is a source and its abstract (`AB`) an excerpt; the accession number (`UT`) is the
external id. Exports come as `.txt` (recognised by their `FN` and `VR` header lines) or `.ciw`;
a `.ris` file that is really a Web of Science export is read here too. Records are framed like
RIS (see ris.py); each record's tags are read by rispy's Web of Science parser, so author lists
keep one name per line and a wrapped title or abstract is joined into one line.
"""

from __future__ import annotations

import re
from pathlib import Path

import rispy

from pipelines.ingest.readers.base import ReadOptions, decode_text, register
from pipelines.ingest.readers.ris import (
    Framing,
    TaggedRecord,
    first,
    record_excerpts,
    skipped_lines,
    split_records,
    tagged_result,
    values,
    year_of,
)
from pipelines.ingest.records import ExcerptRecord, ReadResult, SourceRecord

_TAG = re.compile(r"^([A-Z][A-Z0-9])(?: (.*))?$")
_HEADER = re.compile(rb"^(?:\xef\xbb\xbf)?FN [^\r\n]*\r?\n\s*VR ")
_PARSER = rispy.WokParser(skip_unknown_tags=True, enforce_list_tags=False)
# Tags whose continuation lines are further items (one author per line), not a wrapped value.
_LIST_TAGS = frozenset(rispy.WokParser.DEFAULT_LIST_TAGS)


def _wos_line(line: str) -> tuple[str | None, str]:
    """A tag is two characters at the start of the line; an indented line continues the tag
    above. A line that is neither also continues it (rispy would read its first two characters
    as a tag and lose the line)."""
    match = None if line.startswith(" ") else _TAG.match(line.rstrip())
    if match is None:
        return None, line.strip()
    return match.group(1), (match.group(2) or "").strip()


WOS = Framing("Web of Science", "PT", "ER", _wos_line, headers=frozenset({"FN", "VR", "EF"}))


def recognises(head: bytes) -> bool:
    """A Web of Science export starts with its `FN` line and then `VR` (UTF-8, or UTF-16)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", errors="ignore").encode("utf-8")
    return _HEADER.match(head) is not None


def _parse_record(record: TaggedRecord) -> dict:
    lines: list[str] = []
    for tag, parts in record.tags:
        if tag in _LIST_TAGS:
            lines += [f"{tag} {part}" for part in parts if part]
        else:
            lines.append(f"{tag} {' '.join(part for part in parts if part)}")
    return _PARSER.parse_lines(iter([*lines, "ER"]))[0]


def _year(entry: dict, *, shown: str, row: str) -> int | None:
    published = first(entry, "publication_year", "early_access_year")
    if published:
        return year_of(published, shown=shown, row=row)
    # Early-access records carry only a date such as "JAN 2021" or "2021 MAR 5".
    dated = first(entry, "early_access_date", "publication_date")
    return year_of(dated, shown=shown, row=row) if re.search(r"\d{4}", dated) else None


def _source(entry: dict, *, options: ReadOptions, shown: str, row: str) -> SourceRecord:
    authors = values(entry, "author_full_name") or values(entry, "authors", "group_authors")
    return SourceRecord(
        title=first(entry, "document_title") or "(untitled)",
        authors="; ".join(authors),
        year=_year(entry, shown=shown, row=row),
        venue=first(entry, "publication_name", "book_series_title", "conference_title"),
        doi=first(entry, "doi", "book_doi"),
        evidence_type=options.evidence_type,
    )


@register("wos", extensions=(".ciw",), claims=(".txt", ".ris"), recognises=recognises)
def read_wos(path: Path, options: ReadOptions) -> ReadResult:
    shown = options.display_name or str(path)
    text = decode_text(
        path.read_bytes(), shown=shown, encoding=options.encoding, fmt="Web of Science"
    )
    framed, skipped = split_records(text, WOS, shown=shown)
    excerpts: list[ExcerptRecord] = []
    rejected: list[tuple[int | str, str]] = skipped_lines(skipped, WOS)
    for record in framed:
        row = f"record at line {record.line}"
        entry = _parse_record(record)
        abstracts = values(entry, "abstract")
        if not abstracts:
            rejected.append((row, "no abstract"))
            continue
        source = _source(entry, options=options, shown=shown, row=row)
        texts = [("abstract", body) for body in abstracts]
        excerpts += record_excerpts(texts, source, options, row, first(entry, "accession_number"))
    return tagged_result(
        excerpts, rejected, framed=framed, shown=shown, format="wos", needed="an abstract (AB)"
    )
