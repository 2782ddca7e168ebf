"""Word (.docx): each paragraph is an excerpt; the heading path above it is its location."""

from __future__ import annotations

from pathlib import Path

from pipelines.errors import input_error
from pipelines.ingest.readers import ReadOptions, check_zip, file_source, register
from pipelines.ingest.records import ExcerptRecord, ReadResult


def _heading_level(style_name: str) -> int | None:
    name = style_name.lower()
    if name == "title":
        return 1
    if name.startswith("heading"):
        digits = name.removeprefix("heading").strip()
        return int(digits) if digits.isdigit() else 1
    return None


@register("docx", extensions=(".docx",))
def read_docx(path: Path, options: ReadOptions) -> ReadResult:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    shown = options.display_name or str(path)
    check_zip(path, shown=shown, fmt="DOCX")
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise input_error(
            "E005", shown, fmt="DOCX", detail=str(exc)[:160] or type(exc).__name__
        ) from None
    source = file_source(path, options)
    title = (document.core_properties.title or "").strip()
    if title:
        source.title = title
    if document.core_properties.author:
        source.authors = document.core_properties.author.strip()
    headings: list[str] = []
    excerpts: list[ExcerptRecord] = []
    for number, paragraph in enumerate(document.paragraphs, start=1):
        text = paragraph.text.strip()
        if not text:
            continue
        level = _heading_level(paragraph.style.name if paragraph.style is not None else "")
        if level is not None:
            headings[:] = headings[: level - 1] + [text]
            continue
        excerpts.append(
            ExcerptRecord(
                text=text,
                source=source,
                field=options.field,
                location=" > ".join(headings),
                row=f"paragraph {number}",
            )
        )
    if not excerpts:
        raise input_error("E019", shown)
    return ReadResult(path=shown, format="docx", excerpts=excerpts)
