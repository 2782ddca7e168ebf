"""Plain text and Markdown: paragraphs become excerpts.

Optional YAML front matter (between `---` lines) gives the source's citation and the field, e.g.
`title`, `authors`, `year`, `venue`, `doi`, `url`, `evidence_type`, `citation`, `field`, `kind`.
Markdown headings are not excerpts; the heading path becomes each paragraph's location.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from pipelines.errors import input_error
from pipelines.ingest.readers import ReadOptions, decode_text, file_source, register
from pipelines.ingest.readers.tabular import cell, parse_year
from pipelines.ingest.records import ExcerptRecord, ReadResult, SourceRecord

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def split_front_matter(text: str, *, shown: str) -> tuple[dict, str, int]:
    """Return (front matter, body, number of lines the front matter took)."""
    if not text.startswith("---"):
        return {}, text, 0
    lines = text.splitlines()
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            try:
                data = yaml.safe_load("\n".join(lines[1:end])) or {}
            except yaml.YAMLError as exc:
                raise input_error(
                    "E008",
                    shown,
                    row="front matter",
                    fmt="YAML front matter",
                    detail=str(exc).splitlines()[0],
                ) from None
            if not isinstance(data, dict):
                raise input_error(
                    "E008",
                    shown,
                    row="front matter",
                    fmt="YAML front matter",
                    detail="it must be a mapping of keys to values",
                )
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
