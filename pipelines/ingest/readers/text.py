"""Plain text and Markdown: paragraphs become excerpts.

Optional YAML front matter (between `---` lines) gives the source's citation and the field, e.g.
`title`, `authors`, `year`, `venue`, `doi`, `url`, `evidence_type`, `citation`, `field`, `kind`.
Markdown headings are not excerpts; the heading path becomes each paragraph's location.
"""

from __future__ import annotations

import datetime
import math
import re
from pathlib import Path

import yaml

from pipelines.errors import input_error
from pipelines.ingest.readers.base import ReadOptions, decode_text, file_source, register
from pipelines.ingest.readers.tabular import SOURCE_COLUMNS, cell, parse_year
from pipelines.ingest.records import ExcerptRecord, ReadResult, SourceRecord

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
# Front matter is a flat mapping of citation keys; a list of authors is the deepest it needs.
MAX_FRONT_MATTER_DEPTH = 16
_USED_KEYS = (*SOURCE_COLUMNS, "field", "kind")
_KINDS = {dict: "mapping", list: "list", set: "set", bytes: "binary value"}


class _Refused(Exception):
    """Front matter the loader will not build; the reason goes into E058."""


class FrontMatterLoader(yaml.SafeLoader):
    """A SafeLoader that refuses aliases and deep nesting.

    Aliases are refused altogether rather than counted: citation front matter never needs them,
    and nested aliases (a "billion laughs") made a 494-byte file take 66 s and 5.6 GB (#28).
    PyYAML composes nodes recursively, so deep nesting is refused before Python's recursion limit.
    """

    depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            line = event.start_mark.line + 1
            raise _Refused(f"it uses the alias *{event.anchor} (front matter line {line})")
        self.depth += 1
        try:
            if self.depth > MAX_FRONT_MATTER_DEPTH:
                raise _Refused(f"it nests more than {MAX_FRONT_MATTER_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _check_values(data: dict, *, shown: str) -> None:
    """Refuse a used key whose value is not text or a number; it would be stored as a repr."""
    for key in _USED_KEYS:
        values = data.get(key)
        values = values if key == "authors" and isinstance(values, list) else [values]
        for value in values:
            if not isinstance(value, str | int | float | datetime.date | None):
                # A mapping, list, set or !!binary value would be stored as its Python repr.
                kind = _KINDS.get(type(value), type(value).__name__)
                raise input_error("E055", shown, row="front matter", key=key, kind=kind)
            if isinstance(value, float) and not math.isfinite(value):
                raise input_error(
                    "E056",
                    shown,
                    row="front matter",
                    key=key,
                    value=value,
                    detail="not a finite number",
                )


def _load_front_matter(text: str, *, shown: str):
    # What yaml.load does, spelled out: FrontMatterLoader is a SafeLoader (no Python objects are
    # built) that also refuses aliases and deep nesting.
    loader = FrontMatterLoader(text)
    try:
        return loader.get_single_data()
    except _Refused as exc:
        raise input_error(
            "E058", shown, row="front matter", detail=str(exc), limit=MAX_FRONT_MATTER_DEPTH
        ) from None
    except yaml.YAMLError as exc:
        raise input_error(
            "E008",
            shown,
            row="front matter",
            fmt="YAML front matter",
            detail=str(exc).splitlines()[0],
        ) from None
    finally:
        loader.dispose()


def split_front_matter(text: str, *, shown: str) -> tuple[dict, str, int]:
    """Return (front matter, body, number of lines the front matter took)."""
    if not text.startswith("---"):
        return {}, text, 0
    lines = text.splitlines()
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            data = _load_front_matter("\n".join(lines[1:end]), shown=shown) or {}
            if not isinstance(data, dict):
                raise input_error(
                    "E008",
                    shown,
                    row="front matter",
                    fmt="YAML front matter",
                    detail="it must be a mapping of keys to values",
                )
            _check_values(data, shown=shown)
            return data, "\n".join(lines[end + 1 :]), end + 1
    raise input_error(
        "E008", shown, row="front matter", fmt="YAML front matter", detail="no closing '---' line"
    )


def source_from_front_matter(
    data: dict, *, path: Path, options: ReadOptions, shown: str
) -> SourceRecord:
    if not data.get("title") and not data.get("doi"):
        source = file_source(path, options)
        if data.get("evidence_type"):
            source.evidence_type = cell(data["evidence_type"])
        return source
    return SourceRecord(
        title=cell(data.get("title")) or cell(data.get("doi")),
        authors="; ".join(map(cell, data["authors"]))
        if isinstance(data.get("authors"), list)
        else cell(data.get("authors")),
        year=parse_year(data.get("year"), shown=shown, row="front matter"),
        venue=cell(data.get("venue")),
        doi=cell(data.get("doi")),
        url=cell(data.get("url")),
        evidence_type=cell(data.get("evidence_type")) or options.evidence_type,
        citation=cell(data.get("citation")),
    )


@register("text", extensions=(".txt", ".md", ".markdown"))
def read_text(path: Path, options: ReadOptions) -> ReadResult:
    shown = options.display_name or str(path)
    text = decode_text(path.read_bytes(), shown=shown, encoding=options.encoding, fmt="text")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    front, body, offset = split_front_matter(text, shown=shown)
    source = source_from_front_matter(front, path=path, options=options, shown=shown)
    field = cell(front.get("field")) or options.field
    kind = cell(front.get("kind")) or None
    headings: list[str] = []
    excerpts: list[ExcerptRecord] = []
    paragraph: list[str] = []
    start_line = 0

    def flush() -> None:
        if paragraph:
            excerpts.append(
                ExcerptRecord(
                    text=" ".join(paragraph),
                    source=source,
                    field=field,
                    kind=kind,
                    location=" > ".join(headings),
                    row=f"line {start_line}",
                )
            )
            paragraph.clear()

    for number, line in enumerate(body.split("\n"), start=offset + 1):
        heading = _HEADING.match(line) if path.suffix.lower() != ".txt" else None
        if heading:
            flush()
            level = len(heading.group(1))
            headings[:] = headings[: level - 1] + [heading.group(2).strip()]
        elif line.strip():
            if not paragraph:
                start_line = number
            paragraph.append(line.strip())
        else:
            flush()
    flush()
    if not excerpts:
        raise input_error("E019", shown)
    return ReadResult(path=shown, format="text", excerpts=excerpts)
