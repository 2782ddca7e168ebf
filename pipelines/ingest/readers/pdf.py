"""PDF: the text of each page; the page number is the location. No text layer is an error."""

from __future__ import annotations

import re
from pathlib import Path

from pipelines.errors import input_error
from pipelines.ingest.readers.base import ReadOptions, file_source, one_line, register
from pipelines.ingest.records import ExcerptRecord, ReadResult

_BREAK = re.compile(r"\n\s*\n")


@register("pdf", extensions=(".pdf",))
def read_pdf(path: Path, options: ReadOptions) -> ReadResult:
    from pypdf import PdfReader, get_configuration
    from pypdf.errors import LimitReachedError, PdfReadError, PyPdfError

    shown = options.display_name or str(path)
    with path.open("rb") as handle:
        if not handle.read(1024).lstrip().startswith(b"%PDF"):
            raise input_error("E005", shown, fmt="PDF", detail="it does not start with %PDF")
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise input_error("E007", shown)
        source = file_source(path, options)
        info = reader.metadata
        if info is not None and info.title:
            source.title = str(info.title)
        excerpts: list[ExcerptRecord] = []
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            for block in _BREAK.split(text):
                if block.strip():
                    excerpts.append(
                        ExcerptRecord(
                            text=block,
                            source=source,
                            field=options.field,
                            location=f"p. {number}",
                            row=f"page {number}",
                        )
                    )
    except LimitReachedError as exc:
        # pypdf refuses a stream that inflates past its limit, and structures built to exhaust
        # it; that is a refused file, not a crash (#28: it was exit 1, also in the app's preview).
        limit = get_configuration().zlib_maximum_output_length
        detail = str(exc).split(". ")[0].rstrip(".")[:160]
        raise input_error("E059", shown, detail=detail, limit=f"{limit:,}") from None
    except (PdfReadError, PyPdfError, NotImplementedError) as exc:
        # NotImplementedError: pypdf's answer to a stream filter it does not know (a damaged
        # /FlateDecode name, say); it used to end the command with exit status 1.
        raise input_error("E005", shown, fmt="PDF", detail=one_line(exc)) from None
    except (ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise input_error(
            "E005", shown, fmt="PDF", detail=f"damaged ({type(exc).__name__})"
        ) from None
    if not excerpts:
        raise input_error("E006", shown)
    return ReadResult(path=shown, format="pdf", excerpts=excerpts)
