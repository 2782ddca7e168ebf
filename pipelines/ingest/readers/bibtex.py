"""BibTeX: each entry is a source; its abstract and notes become excerpts (key = external id)."""

from __future__ import annotations

import re
from pathlib import Path

from pipelines.errors import input_error
from pipelines.ingest.readers import ReadOptions, decode_text, register
from pipelines.ingest.readers.ris import _dedupe_ids
from pipelines.ingest.readers.tabular import parse_year
from pipelines.ingest.records import ExcerptRecord, ReadResult, SourceRecord

_BRACES = re.compile(r"[{}]")


def _clean(value: str) -> str:
    return _BRACES.sub("", value).replace("\\&", "&").strip()


@register("bibtex", extensions=(".bib", ".bibtex"))
def read_bibtex(path: Path, options: ReadOptions) -> ReadResult:
    import bibtexparser

    shown = options.display_name or str(path)
    text = decode_text(path.read_bytes(), shown=shown, encoding=options.encoding, fmt="BibTeX")
    if "@" not in text:
        raise input_error("E008", shown, fmt="BibTeX", detail="no @entry found")
    library = bibtexparser.parse_string(text)
    if library.failed_blocks:
        block = library.failed_blocks[0]
        line = getattr(block, "start_line", None)
        detail = type(block).__name__.replace("Block", "").replace("Failed", "failed ")
        error = getattr(block, "error", None)
        if error is not None and str(error).strip():
            detail = str(error).strip().splitlines()[0][:160]
        elif error is not None:
            detail = f"{type(error).__name__}, probably an unclosed brace or quote"
        raise input_error(
            "E008",
            shown,
            row=None if line is None else f"line {line + 1}",
            fmt="BibTeX",
            detail=detail,
        )
    if not library.entries:
        raise input_error("E008", shown, fmt="BibTeX", detail="no entries found")
    excerpts: list[ExcerptRecord] = []
    rejected: list[tuple[int | str, str]] = []
    for entry in library.entries:
        fields = {f.key.lower(): _clean(str(f.value)) for f in entry.fields}
        row = f"entry {entry.key}"
        source = SourceRecord(
            title=fields.get("title") or entry.key,
            authors="; ".join(
                a.strip() for a in fields.get("author", "").split(" and ") if a.strip()
            ),
            year=parse_year(fields.get("year"), shown=shown, row=row),
            venue=fields.get("journal") or fields.get("booktitle") or fields.get("publisher", ""),
            doi=fields.get("doi", ""),
            url=fields.get("url", ""),
            evidence_type=fields.get("evidence_type") or options.evidence_type,
        )
        texts = [("abstract", fields.get("abstract", ""))]
        texts += [(name, fields.get(name, "")) for name in ("note", "annote", "annotation")]
        texts = [(loc, body) for loc, body in texts if body]
        if not texts:
            rejected.append((row, "no abstract or notes"))
            continue
        for location, body in texts:
            excerpts.append(
                ExcerptRecord(
                    text=body,
                    source=source,
                    field=fields.get("field") or options.field,
                    location=location,
                    row=row,
                    external_id=entry.key,
                )
            )
    if not excerpts:
        raise input_error("E019", shown)
    _dedupe_ids(excerpts)
    return ReadResult(path=shown, format="bibtex", excerpts=excerpts, rejected=rejected)
