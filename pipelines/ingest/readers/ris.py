"""RIS (reference-manager export): each record is a source; its abstract and notes become excerpts.

Each record's tags are read by rispy, the maintained RIS parser, so which tags repeat, what they
are called and how `UR` splits follow it. The framing around the records is done here, because
rispy drops without a word what this project must report: an unclosed last record, a `TY` before
the previous record's `ER` (rispy merges the two), tag lines outside any record. Lines outside
records that are not tags (record numbers such as `1.`, headers such as `Record #1 of 2`) are
skipped and counted. A line that is not a tag continues the tag above it, whatever that tag is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import rispy

from pipelines.errors import input_error
from pipelines.ingest.readers.base import ReadOptions, decode_text, register
from pipelines.ingest.readers.tabular import parse_year
from pipelines.ingest.records import ExcerptRecord, ReadResult, SourceRecord

_YEAR = re.compile(r"(\d{4})")
# Universal newlines, as rispy reads a file: str.splitlines would also split at \x0b, \x1c-\x1e,
# \x85 and \u2028, which can sit inside an abstract.
_NEWLINE = re.compile(r"\r\n|\r|\n")

# rispy's names for the tags, without its catch-all for unknown tags (unknown tags carry nothing
# this reader stores), plus the two title tags of the RIS specification rispy does not name.
_MAPPING = {
    **{tag: name for tag, name in rispy.TAG_KEY_MAPPING.items() if tag != "UK"},
    "BT": "book_title",
    "CT": "unpublished_title",
}
# enforce_list_tags=False: a tag that repeats keeps every value (rispy's default keeps the first).
_PARSER = rispy.RisParser(mapping=_MAPPING, skip_unknown_tags=True, enforce_list_tags=False)

LineParser = Callable[[str], tuple[str | None, str]]


@dataclass
class TaggedRecord:
    """One record as framed: its first line, and each tag with its value lines in file order."""

    line: int
    tags: list[tuple[str, list[str]]]


@dataclass
class Framing:
    """How a tagged format marks its records; `headers` are tags allowed outside records."""

    fmt: str
    start: str
    end: str
    parse_line: LineParser
    headers: frozenset[str] = frozenset()


def split_records(
    text: str, framing: Framing, *, shown: str
) -> tuple[list[TaggedRecord], list[tuple[int, str]]]:
    """The file's records, and the (line, text) of each line outside records that was skipped.

    Malformed structure (a tag outside a record, a record never closed, no record) is an error.
    """
    start, end = framing.start, framing.end

    def malformed(line: int | None, detail: str):
        row = None if line is None else f"line {line}"
        return input_error("E008", shown, row=row, fmt=framing.fmt, detail=detail)

    records: list[TaggedRecord] = []
    skipped: list[tuple[int, str]] = []
    current: TaggedRecord | None = None
    for number, raw in enumerate(_NEWLINE.split(text), start=1):
        line = raw.lstrip("\ufeff") if number == 1 else raw
        if not line.strip():
            continue
        tag, content = framing.parse_line(line)
        if current is None:
            if tag == start:
                current = TaggedRecord(number, [(tag, [content])])
            elif tag is None:
                skipped.append((number, line.strip()))
            elif tag not in framing.headers:
                raise malformed(number, f"tag {tag} outside a record (records start with {start})")
        elif tag is None:
            current.tags[-1][1].append(content)
        elif tag == start:
            raise malformed(number, f"a new {start} before the previous record's {end}")
        elif tag == end:
            records.append(current)
            current = None
        else:
            current.tags.append((tag, [content]))
    if current is not None:
        raise malformed(current.line, f"the record has no closing {end} line")
    if not records:
        raise malformed(None, f"no records ({start} ... {end}) found")
    return records, skipped


def skipped_lines(skipped: list[tuple[int, str]], framing: Framing) -> list[tuple[str, str]]:
    """One summary row for the lines outside records: which lines, how many, what they held."""
    if not skipped:
        return []
    runs: list[list[int]] = []
    for number, _ in skipped:
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    spans = [str(a) if a == b else f"{a}-{b}" for a, b in runs]
    where = ", ".join(spans[:5]) + (f" and {len(spans) - 5} more" if len(spans) > 5 else "")
    examples = ", ".join(f"'{text[:40]}'" for text in dict.fromkeys(t for _, t in skipped[:3]))
    lines = "line" if len(skipped) == 1 else "lines"
    outside = f"outside any record ({framing.start} ... {framing.end})"
    return [(f"{lines} {where}", f"{len(skipped)} {lines} {outside} skipped, such as {examples}")]


def values(record: dict, *names: str) -> list[str]:
    """The non-empty values under `names`, in that order (rispy gives a string or a list)."""
    found: list[str] = []
    for name in names:
        value = record.get(name)
        items = value if isinstance(value, list) else [value]
        found += [item.strip() for item in items if isinstance(item, str) and item.strip()]
    return found


def first(record: dict, *names: str) -> str:
    found = values(record, *names)
    return found[0] if found else ""


def year_of(text: str, *, shown: str, row: str) -> int | None:
    """The four-digit year in a date such as `2014//` or `1948/07//`; other text is an error."""
    if not text:
        return None
    match = _YEAR.search(text)
    if match is None:
        raise input_error("E009", shown, row=row, value=text)
    return parse_year(match.group(1), shown=shown, row=row)


def _ris_line(line: str) -> tuple[str | None, str]:
    """rispy's rule for a tag line; the value starts after the dash (rispy's own slicing drops
    the value's first character when the space after the dash is missing)."""
    tag, content = _PARSER.parse_line(line)
    return (tag, line[5:].strip()) if tag is not None else (None, content)


RIS = Framing("RIS", "TY", "ER", _ris_line)


def _parse_record(record: TaggedRecord) -> dict:
    """The record's tags as rispy reads them, each tag's continuation lines joined to it."""
    lines = [f"{tag}  - {' '.join(part for part in parts if part)}" for tag, parts in record.tags]
    return _PARSER.parse_lines(iter([*lines, "ER  - "]))[0]


def _source(entry: dict, *, options: ReadOptions, shown: str, row: str) -> SourceRecord:
    title = first(entry, "title", "primary_title", "unpublished_title", "book_title", "short_title")
    return SourceRecord(
        title=title or "(untitled)",
        authors="; ".join(values(entry, "authors", "first_authors")),
        year=year_of(first(entry, "year", "publication_year", "date"), shown=shown, row=row),
        venue=first(
            entry,
            "journal_name",
            "secondary_title",
            "alternate_title3",
            "alternate_title2",
            "alternate_title1",
            "publisher",
        ),
        doi=first(entry, "doi"),
        url=first(entry, "urls"),
        evidence_type=options.evidence_type,
    )


@register("ris", extensions=(".ris",))
def read_ris(path: Path, options: ReadOptions) -> ReadResult:
    shown = options.display_name or str(path)
    text = decode_text(path.read_bytes(), shown=shown, encoding=options.encoding, fmt="RIS")
    framed, skipped = split_records(text, RIS, shown=shown)
    excerpts: list[ExcerptRecord] = []
    rejected: list[tuple[int | str, str]] = skipped_lines(skipped, RIS)
    for record in framed:
        row = f"record at line {record.line}"
        entry = _parse_record(record)
        source = _source(entry, options=options, shown=shown, row=row)
        texts = [("abstract", t) for t in values(entry, "abstract", "notes_abstract")]
        texts += [("note", t) for t in values(entry, "notes")]
        if not texts:
            rejected.append((row, "no abstract or notes"))
            continue
        excerpts += record_excerpts(texts, source, options, row, first(entry, "id"))
    return tagged_result(
        excerpts,
        rejected,
        framed=framed,
        shown=shown,
        format="ris",
        needed="an abstract (AB, N2) or a note (N1)",
    )


def record_excerpts(
    texts: list[tuple[str, str]], source, options, row: str, external_id: str
) -> list[ExcerptRecord]:
    """A tagged record's excerpts: one for each (location, text) of it, sharing its source and id."""
    return [
        ExcerptRecord(
            text=body,
            source=source,
            field=options.field,
            location=location,
            row=row,
            external_id=external_id,
        )
        for location, body in texts
    ]


def tagged_result(
    excerpts: list[ExcerptRecord],
    rejected: list,
    *,
    framed: list,
    shown: str,
    format: str,
    needed: str,
) -> ReadResult:
    """The read of a file of tagged records (RIS, Web of Science): a file none of whose records
    has text is refused (E032, saying what was `needed`); ids are made unique."""
    if not excerpts:
        raise input_error(
            "E032",
            shown,
            count=len(framed),
            records="record" if len(framed) == 1 else "records",
            needed=needed,
        )
    dedupe_ids(excerpts)
    return ReadResult(path=shown, format=format, excerpts=excerpts, rejected=rejected)


def dedupe_ids(excerpts: list[ExcerptRecord]) -> None:
    """An entry's abstract and note share the entry id, and reference managers reuse ids across
    records; number them so every excerpt's id stays unique and no record wins over another."""
    counts: dict[str, int] = {}
    for excerpt in excerpts:
        if excerpt.external_id:
            counts[excerpt.external_id] = counts.get(excerpt.external_id, 0) + 1
    seen: dict[str, int] = {}
    for excerpt in excerpts:
        key = excerpt.external_id
        if key and counts[key] > 1:
            seen[key] = seen.get(key, 0) + 1
            excerpt.external_id = f"{key}#{excerpt.location}{seen[key]}"
