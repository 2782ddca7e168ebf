"""Word (.docx): each paragraph is an excerpt; the heading path above it is its location.

The text is read from the document's XML rather than python-docx's `paragraph.text`, which skips
runs inside tracked insertions (`w:ins`) and never sees table cells: a sentence with a tracked
"not " inserted would be stored with its meaning inverted (#28). What is read is the accepted
text: insertions kept, deletions (`w:del`, `w:moveFrom`) dropped, table cells read in document
order with the body.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pipelines.errors import input_error
from pipelines.ingest.readers.base import ReadOptions, check_zip, file_source, one_line, register
from pipelines.ingest.records import ExcerptRecord, ReadResult

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
# Elements whose runs are part of the accepted text. Anything else inside a paragraph (w:del,
# w:moveFrom, field instructions, drawings and their text boxes) is not read.
_RUN_CONTAINERS = {
    _W + name
    for name in (
        "ins",
        "moveTo",
        "hyperlink",
        "smartTag",
        "fldSimple",
        "customXml",
        "sdt",
        "sdtContent",
        "dir",
        "bdo",
    )
}
_RUN_TEXT = {
    _W + "tab": "\t",
    _W + "br": "\n",
    _W + "cr": "\n",
    _W + "noBreakHyphen": "-",
}
# Block containers whose paragraphs and tables are read in order (content controls).
_BLOCK_CONTAINERS = {_W + "sdt", _W + "sdtContent", _W + "customXml"}


def _heading_level(style_name: str) -> int | None:
    name = style_name.lower()
    if name == "title":
        return 1
    if name.startswith("heading"):
        digits = name.removeprefix("heading").strip()
        return int(digits) if digits.isdigit() else 1
    return None


def _run_text(run) -> Iterator[str]:
    for child in run:
        if child.tag == _W + "t":
            yield child.text or ""
        elif child.tag in _RUN_TEXT:
            yield _RUN_TEXT[child.tag]


def paragraph_text(element) -> str:
    """The accepted text of one `w:p`: its runs, and those inside insertions and links."""
    parts: list[str] = []

    def walk(node) -> None:
        for child in node:
            if child.tag == _W + "r":
                parts.extend(_run_text(child))
            elif child.tag in _RUN_CONTAINERS:
                walk(child)

    walk(element)
    return "".join(parts)


def _row_deleted(row) -> bool:
    """A table row deleted with tracked changes on (`w:trPr/w:del`)."""
    properties = row.find(_W + "trPr")
    return properties is not None and properties.find(_W + "del") is not None


def iter_blocks(container, where: str = "") -> Iterator[tuple[object, str]]:
    """Every `w:p` under a body or cell, in document order, with its place for messages:
    "" for a body paragraph, "table T row R cell C" for one in a table."""
    tables = 0
    for child in container:
        if child.tag == _W + "p":
            yield child, where
        elif child.tag in _BLOCK_CONTAINERS:
            yield from iter_blocks(child, where)
        elif child.tag == _W + "tbl":
            tables += 1
            rows = [r for r in child.iter(_W + "tr") if r.getparent() is child]
            for r, row in enumerate(rows, start=1):
                if _row_deleted(row):
                    continue
                cells = [c for c in row if c.tag == _W + "tc"]
                for c, cell in enumerate(cells, start=1):
                    place = f"table {tables} row {r} cell {c}"
                    yield from iter_blocks(cell, f"{where} > {place}" if where else place)


def _open(path: Path, shown: str, options: ReadOptions):
    """(the document, its body element, its source) or E005 if Word's XML does not hold up.

    lxml's XMLSyntaxError (XML cut short or nested past its depth limit) and python-docx's
    AttributeError/TypeError (a part whose root is not the element it expects) used to end the
    command with exit status 1; all three come from the file, not from this code.
    """
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    check_zip(path, shown=shown, fmt="DOCX")
    try:
        document = docx.Document(str(path))
        body = document.element.body
        document.styles  # noqa: B018 - loads the styles part, which each paragraph's style needs
        properties = document.core_properties
        title, author = (properties.title or "").strip(), (properties.author or "").strip()
    except (
        PackageNotFoundError,
        KeyError,
        ValueError,
        OSError,
        SyntaxError,
        AttributeError,
        TypeError,
    ) as exc:
        raise input_error("E005", shown, fmt="DOCX", detail=one_line(exc)) from None
    source = file_source(path, options)
    source.title = title or source.title
    source.authors = author or source.authors
    return document, body, source


@register("docx", extensions=(".docx",))
def read_docx(path: Path, options: ReadOptions) -> ReadResult:
    from docx.text.paragraph import Paragraph

    shown = options.display_name or str(path)
    document, body, source = _open(path, shown, options)
    headings: list[str] = []
    excerpts: list[ExcerptRecord] = []
    number = 0
    for element, where in iter_blocks(body):
        # Body paragraphs keep the numbers python-docx's list gave them; cells are named by place.
        number += not where
        text = paragraph_text(element).strip()
        if not text:
            continue
        style = Paragraph(element, document).style
        level = _heading_level(style.name if style is not None else "")
        if level is not None and not where:
            headings[:] = headings[: level - 1] + [text]
            continue
        excerpts.append(
            ExcerptRecord(
                text=text,
                source=source,
                field=options.field,
                location=" > ".join(headings),
                row=where or f"paragraph {number}",
            )
        )
    if not excerpts:
        raise input_error("E019", shown)
    return ReadResult(path=shown, format="docx", excerpts=excerpts)
