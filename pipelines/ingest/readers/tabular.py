"""CSV, TSV, XLSX and JSONL: one row (or line) per excerpt, columns as in DESIGN.md.

Unknown columns are kept as excerpt metadata. A `source_id` column joins each row to a sources
table (`ingest --sources FILE`), which is how the bundled corpus keeps one row per source.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipelines.errors import input_error
from pipelines.ingest.readers.base import (
    ReadOptions,
    RecordStream,
    check_zip,
    file_source,
    iter_text_lines,
    one_line,
    register,
)
from pipelines.ingest.records import ExcerptRecord, ReadResult, SourceRecord
from pipelines.store.spill import IdSpill

SOURCE_COLUMNS = ("title", "authors", "year", "venue", "doi", "url", "evidence_type", "citation")
KNOWN_COLUMNS = {"text", "id", "field", "kind", "page", "source_id", *SOURCE_COLUMNS}

csv.field_size_limit(64 * 1024 * 1024)


def parse_year(value, *, shown: str, row) -> int | None:
    """A blank year is None; anything else must be a plausible four-digit year."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if not text:
        return None
    if text.endswith(".0"):
        text = text[:-2]
    if text.isdigit() and len(text) == 4 and 1000 <= int(text) <= 2100:
        return int(text)
    raise input_error("E009", shown, row=row, value=str(value)[:40])


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def source_from_row(
    values: dict, *, shown: str, row, options: ReadOptions, path: Path
) -> SourceRecord:
    source_id = cell(values.get("source_id"))
    if source_id and options.sources_path is not None:
        if source_id not in options.sources:
            raise input_error("E018", shown, row=row, value=source_id, sources=options.sources_path)
        return options.sources[source_id]
    title = cell(values.get("title"))
    doi = cell(values.get("doi"))
    year = parse_year(values.get("year"), shown=shown, row=row)
    evidence_type = cell(values.get("evidence_type")) or options.evidence_type
    if not title and not doi and not source_id:
        source = file_source(path, options)
        source.year, source.evidence_type = year, evidence_type
        return source
    return SourceRecord(
        title=title or doi or source_id,
        authors=cell(values.get("authors")),
        year=year,
        venue=cell(values.get("venue")),
        doi=doi,
        url=cell(values.get("url")),
        evidence_type=evidence_type,
        citation=cell(values.get("citation")),
        key=("id:" + source_id) if source_id else "",
    )


class SeenIds:
    """The ids met so far in a file and the row of each, in memory up to `limit` ids and in a
    temporary on-disk SQLite table beyond, so a file with a million ids stays in bounded memory."""

    def __init__(self, *, limit: int = 50_000):
        self.limit = limit
        self.recent: dict[str, int | str] = {}
        self.spill: IdSpill | None = None

    def first_row(self, value: str, row: int | str) -> int | str | None:
        """Record `value` at `row`; return the row it was first seen on if it is a repeat."""
        if value in self.recent:
            return self.recent[value]
        if self.spill is not None:
            found = self.spill.row_of(value)
            if found is not None:
                return found
        self.recent[value] = row
        if len(self.recent) >= self.limit:
            if self.spill is None:
                self.spill = IdSpill()
            self.spill.add(self.recent.items())
            self.recent.clear()
        return None

    def close(self) -> None:
        if self.spill is not None:
            self.spill.close()


def iter_records(
    rows: Iterable[tuple[int | str, dict]],
    *,
    path: Path,
    options: ReadOptions,
    rejected: list[tuple[int | str, str]],
) -> Iterator[ExcerptRecord]:
    """Map header-keyed rows to excerpt records one at a time, checking the columns once and each
    row's values; rows with no text go to `rejected`."""
    shown = options.display_name or str(path)
    text_col = options.text_column.strip().lower()
    id_col = options.id_column.strip().lower()
    field_col = options.field_column.strip().lower()
    reserved = {text_col, id_col, field_col, *KNOWN_COLUMNS}
    seen_ids = SeenIds()
    n_rows = 0
    columns_checked = False
    try:
        for row, raw in rows:
            values = {str(k).strip().lower(): v for k, v in raw.items() if k is not None}
            if not columns_checked:
                if text_col not in values:
                    found = ", ".join(sorted(values)) or "(none)"
                    raise input_error("E003", shown, column=text_col, found=found)
                columns_checked = True
            n_rows += 1
            text_value = values.get(text_col)
            if text_value is not None and not isinstance(text_value, str | int | float):
                raise input_error(
                    "E022", shown, row=row, column=text_col, kind=type(text_value).__name__
                )
            text = cell(text_value)
            if not text:
                rejected.append((row, "empty text"))
                continue
            external_id = cell(values.get(id_col))
            if external_id:
                other = seen_ids.first_row(external_id, row)
                if other is not None:
                    where = other if isinstance(other, str) else f"row {other}"
                    raise input_error("E016", shown, row=row, value=external_id, other=where)
            meta = {k: cell(v) for k, v in values.items() if k not in reserved and cell(v)}
            yield ExcerptRecord(
                text=text,
                source=source_from_row(values, shown=shown, row=row, options=options, path=path),
                field=cell(values.get(field_col)) or options.field,
                kind=cell(values.get("kind")) or None,
                location=cell(values.get("page")),
                external_id=external_id,
                row=row,
                meta=meta,
            )
    finally:
        seen_ids.close()
    if not columns_checked or n_rows == 0:
        raise input_error("E002", shown)


def rows_to_records(
    rows: Iterable[tuple[int | str, dict]], *, path: Path, options: ReadOptions, fmt: str
) -> ReadResult:
    """All the records of `rows` at once (for readers whose rows are already in memory)."""
    shown = options.display_name or str(path)
    rejected: list[tuple[int | str, str]] = []
    excerpts = list(iter_records(rows, path=path, options=options, rejected=rejected))
    return ReadResult(path=shown, format=fmt, excerpts=excerpts, rejected=rejected)


def check_unique_columns(header: Iterable, *, shown: str) -> list[str]:
    """The header's column names (stripped, lower-case), refusing a name given twice.

    Rows become dicts keyed by these names, so a repeated column (`text,field,text`, or `Text`
    beside `text`) would silently keep only its last value (#28). Blank names are not checked:
    trailing empty header cells are common in spreadsheet exports.
    """
    written = [cell(h) for h in header]
    names = [h.lower() for h in written]
    for name in dict.fromkeys(names):
        count = names.count(name)
        if name and count > 1:
            given = ", ".join(f"'{w}'" for w, n in zip(written, names, strict=True) if n == name)
            raise input_error("E054", shown, row="header", column=name, count=count, names=given)
    return names


def _delimited_rows(
    lines: Iterable[str], *, delimiter: str, shown: str
) -> Iterator[tuple[int, dict]]:
    _names, rows = _delimited_table(lines, delimiter=delimiter, shown=shown)
    yield from rows


def _delimited_table(
    lines: Iterable[str], *, delimiter: str, shown: str
) -> tuple[list[str], Iterator[tuple[int, dict]]]:
    """The header's names and the data rows (numbered as a spreadsheet numbers them, the header
    being row 1), quoting errors as E005."""
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise _csv_error(reader, shown, exc) from None
    if header is None or not any(h.strip() for h in header):
        raise input_error("E001", shown)
    names = check_unique_columns(header, shown=shown)
    return names, _data_rows(reader, names, shown=shown)


def _data_rows(reader, names: list[str], *, shown: str) -> Iterator[tuple[int, dict]]:
    try:
        for index, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue
            if len(values) > len(names):
                raise input_error(
                    "E005",
                    shown,
                    row=index,
                    fmt="delimited text",
                    detail=f"{len(values)} cells but only {len(names)} columns in the header",
                )
            yield index, dict(zip(names, values, strict=False))
    except csv.Error as exc:
        raise _csv_error(reader, shown, exc) from None


def _csv_error(reader, shown: str, exc: csv.Error):
    return input_error("E005", shown, row=f"line {reader.line_num}", fmt="CSV", detail=str(exc))


def _stream_delimited(path: Path, options: ReadOptions, *, delimiter: str, fmt: str) -> ReadResult:
    shown = options.display_name or str(path)

    def produce(rejected: list) -> Iterator[ExcerptRecord]:
        lines = iter_text_lines(path, shown=shown, encoding=options.encoding, fmt=fmt)
        rows = _delimited_rows(lines, delimiter=delimiter, shown=shown)
        return iter_records(rows, path=path, options=options, rejected=rejected)

    stream = RecordStream(produce)
    return ReadResult(path=shown, format=fmt, excerpts=stream, rejected=stream.rejected)


@register("csv", extensions=(".csv",))
def read_csv(path: Path, options: ReadOptions) -> ReadResult:
    return _stream_delimited(path, options, delimiter=",", fmt="csv")


@register("tsv", extensions=(".tsv", ".tab"))
def read_tsv(path: Path, options: ReadOptions) -> ReadResult:
    return _stream_delimited(path, options, delimiter="\t", fmt="tsv")


# What openpyxl raises on a damaged workbook, besides its own InvalidFileException and zipfile's
# BadZipFile (see `read_xlsx`).
_WORKBOOK_ERRORS = (KeyError, OSError, ValueError, SyntaxError, TypeError, AttributeError)


@register("xlsx", extensions=(".xlsx", ".xlsm"))
def read_xlsx(path: Path, options: ReadOptions) -> ReadResult:
    shown = options.display_name or str(path)
    book = _open_workbook(path, shown=shown)
    try:
        values, header, start, sheet = _first_sheet_with_data(book, shown=shown)
        rows = _sheet_rows(values, header, start, sheet)
        result = rows_to_records(rows, path=path, options=options, fmt="xlsx")
        if not result.excerpts and not result.rejected:
            raise input_error("E002", shown)
        return result
    finally:
        book.close()


def _open_workbook(path: Path, *, shown: str):
    """The workbook, read-only with cached values; a damaged file is E005."""
    import zipfile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    check_zip(path, shown=shown, fmt="XLSX")
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, *_WORKBOOK_ERRORS) as exc:
        # SyntaxError: lxml's and ElementTree's parse errors; TypeError/AttributeError: openpyxl
        # meeting an element or attribute it does not expect. Both come from damaged XML in the
        # file and used to end the command with exit status 1.
        raise input_error("E005", shown, fmt="XLSX", detail=one_line(exc)) from None


def _sheet_rows(values, header, start: int, sheet: str) -> Iterator[tuple[int | str, dict]]:
    """The non-empty rows after the header, `(row, values)`, named with the sheet unless it is
    the first."""
    for index, row in enumerate(values, start=start + 1):
        if not row or all(c in (None, "") for c in row):
            continue
        yield (
            f"{sheet}row {index}" if sheet else index,
            {h: v for h, v in zip(header, row, strict=False) if h},
        )


def _first_sheet_with_data(book, *, shown: str):
    """(the rest of its rows, its header, the header's row number, "sheet 'NAME' " unless it is the
    first sheet) for the first sheet that has a non-empty row.

    A workbook whose first sheet is blank and whose excerpts are on the second was "empty" (#28);
    its first sheet with data is read instead, and its rows are named with the sheet. The sheet's
    declared used range (<dimension>) is not trusted: a 1.5 KB file declaring A1:XFD1048576 made
    openpyxl pad every row to 16,384 cells and fill in every row to the millionth, so reading
    never finished; after `reset_dimensions` only the cells present are read.
    """
    for number, sheet in enumerate(book.worksheets):
        sheet.reset_dimensions()
        values = _parsed_rows(sheet.iter_rows(values_only=True), shown=shown)
        for index, row in enumerate(values, start=1):
            if row and any(c not in (None, "") for c in row):
                header = check_unique_columns(row, shown=shown)
                return values, header, index, f"sheet '{sheet.title}' " if number else ""
    raise input_error("E001", shown)


def _parsed_rows(values: Iterator[tuple], *, shown: str) -> Iterator[tuple]:
    """A worksheet's rows, with openpyxl's errors from damaged sheet XML as E005.

    openpyxl parses a read-only sheet as its rows are read, so XML cut short (ElementTree's
    ParseError, a SyntaxError) or an attribute it does not expect (TypeError, ValueError) comes
    out of `next`; they used to end the command with exit status 1. Only `next` is guarded, so
    an error in this module's own code is not mistaken for a damaged file.
    """
    while True:
        try:
            row = next(values)
        except StopIteration:
            return
        except (SyntaxError, TypeError, ValueError, KeyError, AttributeError) as exc:
            raise input_error("E005", shown, fmt="XLSX", detail=one_line(exc)) from None
        yield row


TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".xlsx": None, ".xlsm": None}


def table_rows(path: Path, *, shown: str) -> tuple[list[str], Iterator[tuple[int | str, dict]]]:
    """The header (stripped, lower-case) and the data rows, `(row, values)`, of a CSV, TSV or XLSX
    table that is not excerpts (a coded-excerpts file, say), read with the excerpt readers' own
    checks: encoding, quoting, a repeated column, a damaged workbook. The caller has checked that
    the suffix is one of TABLE_SUFFIXES; rows are numbered as the excerpt readers number them.
    A workbook is read whole (it is closed before this returns)."""
    delimiter = TABLE_SUFFIXES[path.suffix.lower()]
    if delimiter is not None:
        fmt = "TSV" if delimiter == "\t" else "CSV"
        lines = iter_text_lines(path, shown=shown, encoding=None, fmt=fmt)
        return _delimited_table(lines, delimiter=delimiter, shown=shown)
    return _workbook_table(path, shown=shown)


def _workbook_table(
    path: Path, *, shown: str
) -> tuple[list[str], Iterator[tuple[int | str, dict]]]:
    book = _open_workbook(path, shown=shown)
    try:
        values, header, start, sheet = _first_sheet_with_data(book, shown=shown)
        rows = list(_sheet_rows(values, header, start, sheet))
    finally:
        book.close()
    return header, iter(rows)


def read_sources_table(path: Path, *, encoding: str | None = None) -> dict[str, SourceRecord]:
    """Read a sources table (CSV with `source_id` and the source columns) keyed by source_id."""
    shown = str(path)
    if not path.is_file():
        raise input_error("E015", shown)
    lines = iter_text_lines(path, shown=shown, encoding=encoding, fmt="CSV")
    sources: dict[str, SourceRecord] = {}
    seen: dict[str, int] = {}
    for row, values in _delimited_rows(lines, delimiter=",", shown=shown):
        source_id = cell(values.get("source_id"))
        if not source_id:
            raise input_error("E003", shown, column="source_id", found=", ".join(values))
        if source_id in seen:
            raise input_error(
                "E016", shown, row=row, value=source_id, other=f"row {seen[source_id]}"
            )
        seen[source_id] = row
        meta = {
            k: cell(v)
            for k, v in values.items()
            if k not in {"source_id", *SOURCE_COLUMNS} and cell(v)
        }
        sources[source_id] = SourceRecord(
            title=cell(values.get("title")) or source_id,
            authors=cell(values.get("authors")),
            year=parse_year(values.get("year"), shown=shown, row=row),
            venue=cell(values.get("venue")),
            doi=cell(values.get("doi")),
            url=cell(values.get("url")),
            evidence_type=cell(values.get("evidence_type")) or None,
            citation=cell(values.get("citation")),
            key="id:" + source_id,
            meta=meta,
        )
    if not sources:
        raise input_error("E002", shown)
    return sources
