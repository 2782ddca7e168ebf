"""RIS (reference-manager export): each record is a source; its abstract and notes become excerpts."""

from __future__ import annotations

import re
from pathlib import Path

from pipelines.errors import input_error
from pipelines.ingest.readers import ReadOptions, decode_text, register
from pipelines.ingest.readers.tabular import parse_year
from pipelines.ingest.records import ExcerptRecord, ReadResult, SourceRecord

_TAG = re.compile(r"^([A-Z][A-Z0-9])  -( (.*))?$")
_YEAR = re.compile(r"(\d{4})")


def parse_ris(text: str, *, shown: str) -> list[tuple[int, dict[str, list[str]]]]:
    """Return (first line, tag -> values) for each record; malformed structure is an error."""
    records: list[tuple[int, dict[str, list[str]]]] = []
    current: dict[str, list[str]] | None = None
    start = 0
    last_tag = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not line.strip():
            continue
        match = _TAG.match(line.lstrip("\ufeff"))
        if match is None:
            if current is not None and last_tag in ("AB", "N1", "N2", "TI", "T1"):
                current[last_tag][-1] += " " + line.strip()
                continue
            raise input_error(
                "E008",
                shown,
                row=f"line {number}",
                fmt="RIS",
                detail=f"'{line[:40]}' is not a 'XX  - value' line",
            )
        tag, value = match.group(1), (match.group(3) or "").strip()
        if tag == "TY":
            if current is not None:
                raise input_error(
                    "E008",
                    shown,
                    row=f"line {number}",
                    fmt="RIS",
                    detail="a new TY before the previous record's ER",
                )
            current, start, last_tag = {"TY": [value]}, number, "TY"
            continue
        if current is None:
            raise input_error(
                "E008",
                shown,
                row=f"line {number}",
                fmt="RIS",
                detail=f"tag {tag} outside a record (records start with TY)",
            )
        if tag == "ER":
            records.append((start, current))
            current, last_tag = None, None
            continue
        current.setdefault(tag, []).append(value)
        last_tag = tag
    if current is not None:
        raise input_error(
            "E008",
            shown,
            row=f"line {start}",
            fmt="RIS",
            detail="the record has no closing ER line",
        )
    if not records:
        raise input_error("E008", shown, fmt="RIS", detail="no records (TY ... ER) found")
    return records


def _first(record: dict[str, list[str]], *tags: str) -> str:
    for tag in tags:
        if record.get(tag):
            return record[tag][0]
    return ""


@register("ris", extensions=(".ris",))
def read_ris(path: Path, options: ReadOptions) -> ReadResult:
    shown = options.display_name or str(path)
    text = decode_text(path.read_bytes(), shown=shown, encoding=options.encoding, fmt="RIS")
    excerpts: list[ExcerptRecord] = []
    rejected: list[tuple[int | str, str]] = []
    for line, record in parse_ris(text, shown=shown):
        row = f"record at line {line}"
        year_text = _first(record, "PY", "Y1", "DA")
        year_match = _YEAR.search(year_text)
        if year_text and not year_match:
            raise input_error("E009", shown, row=row, value=year_text)
        source = SourceRecord(
            title=_first(record, "TI", "T1", "CT", "BT") or "(untitled)",
            authors="; ".join(record.get("AU", []) + record.get("A1", [])),
            year=parse_year(year_match.group(1), shown=shown, row=row) if year_match else None,
            venue=_first(record, "JO", "T2", "JF", "JA", "PB"),
            doi=_first(record, "DO"),
            url=_first(record, "UR"),
            evidence_type=options.evidence_type,
        )
        texts = [("abstract", t) for t in record.get("AB", []) + record.get("N2", [])]
        texts += [("note", t) for t in record.get("N1", [])]
        if not any(t.strip() for _, t in texts):
            rejected.append((row, "no abstract or notes"))
            continue
        for location, body in texts:
            if body.strip():
                excerpts.append(
                    ExcerptRecord(
                        text=body,
                        source=source,
                        field=options.field,
                        location=location,
                        row=row,
                        external_id=_first(record, "ID"),
                    )
                )
    if not excerpts:
        raise input_error("E019", shown)
    _dedupe_ids(excerpts)
    return ReadResult(path=shown, format="ris", excerpts=excerpts, rejected=rejected)


def _dedupe_ids(excerpts: list[ExcerptRecord]) -> None:
    """An entry's abstract and note share the entry id; suffix them so ids stay unique."""
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
