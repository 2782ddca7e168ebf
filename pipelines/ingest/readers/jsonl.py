"""JSON Lines: one JSON object per line, keys as the tabular columns of DESIGN.md.

A line must be one flat object whose values can be stored as text: JSON allows things a cell
cannot hold, and each used to be stored as a Python repr or to crash the reader (#28):
- keys that differ only in case or spaces (`Text` and `text`), or a repeated key, name the same
  column: one value would be lost, so the line is refused;
- a nested object or array would be stored as "{'a': 1}": refused;
- NaN, Infinity, 1e400 (which overflows to inf) and integers too long to print would be stored
  as "nan"/"inf" or crash: refused;
- nesting 100,000 deep overflowed the parser's recursion: lines deeper than `MAX_DEPTH` are
  refused before they are parsed;
- booleans are stored as JSON spells them ("true", "false"), since the file is JSON; a boolean
  excerpt text is refused (E022).
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipelines.errors import input_error
from pipelines.ingest.readers.base import ReadOptions, RecordStream, iter_text_lines, register
from pipelines.ingest.readers.tabular import iter_records
from pipelines.ingest.records import ExcerptRecord, ReadResult

# A flat object is 1 level deep and any nested value is refused anyway; the limit only keeps the
# parser away from Python's recursion limit, so it is set well below it.
MAX_DEPTH = 64
# A string (skipped whole), a bracket, or a quote that opens a string never closed: what follows
# it is inside that string, so the scan stops and the parser reports the unterminated string.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]|"')


class _Pairs(list):
    """A JSON object kept as its (key, value) pairs, so a repeated key is seen, not merged."""


class _Unstorable:
    """A number JSON allows but a cell cannot hold, kept as written for the message."""

    def __init__(self, written: str, detail: str):
        self.written, self.detail = written, detail


def _parse_float(written: str):
    value = float(written)
    return value if math.isfinite(value) else _Unstorable(written, "too large for a number")


def _parse_int(written: str):
    digits = len(written.lstrip("-"))
    if digits > sys.get_int_max_str_digits():
        shown = written[:12] + "..."
        return _Unstorable(shown, f"{digits} digits, more than Python can store")
    return int(written)


def _parse_constant(written: str):
    return _Unstorable(written, "not a finite number")


# One decoder for every line: json.loads with options builds a new decoder on each call.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_Pairs,
    parse_float=_parse_float,
    parse_int=_parse_int,
    parse_constant=_parse_constant,
)
_PLAIN = (str, int, float, type(None))


def too_deep(line: str, limit: int = MAX_DEPTH) -> bool:
    """Whether the line's arrays and objects nest more than `limit` deep (brackets inside strings
    do not count). Lines with few brackets, the usual case, are not scanned."""
    if line.count("[") + line.count("{") <= limit:
        return False
    depth = 0
    for match in _TOKEN.finditer(line):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif token in ("]", "}"):
            depth -= 1
        elif token == '"':
            return False
    return False


def _parse(line: str, *, shown: str, row: str) -> _Pairs:
    if too_deep(line):
        raise input_error("E057", shown, row=row, limit=MAX_DEPTH)
    try:
        value = _DECODER.decode(line)
    except json.JSONDecodeError as exc:
        raise input_error("E021", shown, row=row, detail=exc.msg) from None
    if not isinstance(value, _Pairs):
        raise input_error("E021", shown, row=row, detail="not an object")
    return value


def _storable(key: str, value, *, text_key: bool, shown: str, row: str):
    """The value as a cell holds it, or a coded refusal naming the key."""
    if isinstance(value, list):
        kind = "object" if isinstance(value, _Pairs) else "array"
        raise input_error("E055", shown, row=row, key=key, kind=kind)
    if isinstance(value, _Unstorable):
        raise input_error("E056", shown, row=row, key=key, value=value.written, detail=value.detail)
    if isinstance(value, bool):
        if text_key:
            raise input_error("E022", shown, row=row, column=key, kind="a boolean")
        return "true" if value else "false"
    return value


def object_row(pairs: _Pairs, *, shown: str, row: str, text_column: str) -> dict:
    """One line's object as a row keyed by column name, refusing keys that collide and values
    a cell cannot hold. Plain text and numbers, the usual case, pass without further checks."""
    values = dict(pairs)
    if len({key.strip().lower() for key in values}) < len(pairs):
        _refuse_collision(pairs, shown=shown, row=row)
    text_column = text_column.strip().lower()
    for key, value in values.items():
        if value.__class__ not in _PLAIN:
            text_key = key.strip().lower() == text_column
            values[key] = _storable(key, value, text_key=text_key, shown=shown, row=row)
    return values


def _refuse_collision(pairs: _Pairs, *, shown: str, row: str) -> None:
    names: dict[str, list[str]] = {}
    for key, _ in pairs:
        names.setdefault(key.strip().lower(), []).append(key)
    column, written = next((c, w) for c, w in names.items() if len(w) > 1)
    given = ", ".join(f"'{name}'" for name in written)
    raise input_error("E054", shown, row=row, column=column, count=len(written), names=given)


def _jsonl_rows(
    lines: Iterable[str], *, shown: str, text_column: str
) -> Iterator[tuple[str, dict]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        row = f"line {number}"
        pairs = _parse(line, shown=shown, row=row)
        yield row, object_row(pairs, shown=shown, row=row, text_column=text_column)


@register("jsonl", extensions=(".jsonl", ".ndjson"))
def read_jsonl(path: Path, options: ReadOptions) -> ReadResult:
    shown = options.display_name or str(path)

    def produce(rejected: list) -> Iterator[ExcerptRecord]:
        lines = iter_text_lines(path, shown=shown, encoding=options.encoding, fmt="JSONL")
        rows = _jsonl_rows(lines, shown=shown, text_column=options.text_column)
        return iter_records(rows, path=path, options=options, rejected=rejected)

    stream = RecordStream(produce)
    return ReadResult(path=shown, format="jsonl", excerpts=stream, rejected=stream.rejected)
