"""The readers' shared machinery: options, the registry, encodings, limits, the library noise
filter and a file's own source. Each reader module registers itself here; the package imports
them all (`pipelines.ingest.readers`), so nothing here imports a reader."""

from __future__ import annotations

import codecs
import logging
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path

from pipelines.errors import input_error
from pipelines.ingest.records import ReadResult, SourceRecord

# Size limits: a bigger file is refused with a clear message rather than exhausting memory.
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_UNZIPPED_BYTES = 300 * 1024 * 1024


@dataclass
class ReadOptions:
    """Options from the command line or the app that readers honour."""

    field: str | None = None
    evidence_type: str | None = None
    text_column: str = "text"
    id_column: str = "id"
    field_column: str = "field"
    encoding: str | None = None
    sources: dict[str, SourceRecord] = dc_field(default_factory=dict)
    sources_path: str | None = None
    display_name: str | None = None
    # The SHA-256 of the file being read, set by ingest: a file's own source is keyed by it.
    file_digest: str | None = None


Reader = Callable[[Path, ReadOptions], ReadResult]

# The libraries the readers call, whose warnings and log records are kept off the terminal.
_LIBRARIES = ("pypdf", "openpyxl", "docx", "pyarrow")
_LIBRARY_MODULES = r"(pypdf|openpyxl|docx|pyarrow)(\.|$)"


def quiet_libraries() -> None:
    """Keep the reading libraries' warnings and log records off the terminal.

    pypdf logs "incorrect startxref pointer", openpyxl warns "Workbook contains no stylesheet":
    beside a refused file's one coded line they read as more errors (#28), and beside a file
    that was read they say nothing a user can act on. This runs before every read rather than
    once at import because test runners reset the warning filters (an identical filter replaces
    the earlier one, so repeating it adds nothing), and it is not scoped with
    `warnings.catch_warnings`, which is not thread-safe: the app reads files in several threads.
    """
    warnings.filterwarnings("ignore", module=_LIBRARY_MODULES)
    for name in _LIBRARIES:
        logger = logging.getLogger(name)
        logger.propagate = False
        if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
            logger.addHandler(logging.NullHandler())


@dataclass
class ReaderSpec:
    name: str
    extensions: tuple[str, ...]
    read: Reader
    # A format saved under another format's extension (a Web of Science export is a .txt) claims
    # such a file when `recognises` finds its signature in the first bytes.
    claims: tuple[str, ...] = ()
    recognises: Callable[[bytes], bool] | None = None


READERS: dict[str, ReaderSpec] = {}


def register(
    name: str,
    *,
    extensions: tuple[str, ...],
    claims: tuple[str, ...] = (),
    recognises: Callable[[bytes], bool] | None = None,
) -> Callable[[Reader], Reader]:
    def wrap(read: Reader) -> Reader:
        READERS[name] = ReaderSpec(name, extensions, read, claims, recognises)
        return read

    return wrap


def reader_for(path: Path, *, shown: str | None = None) -> ReaderSpec:
    suffix = path.suffix.lower()
    claimants = [s for s in READERS.values() if suffix in s.claims and s.recognises]
    if claimants and path.is_file():
        with path.open("rb") as handle:
            head = handle.read(4096)
        for spec in claimants:
            if spec.recognises(head):
                return spec
    for spec in READERS.values():
        if suffix in spec.extensions:
            return spec
    known = ", ".join(sorted(ext for spec in READERS.values() for ext in spec.extensions))
    raise input_error("E014", shown or path, suffix=suffix or "(none)", known=known)


def read_file(
    path: Path, options: ReadOptions | None = None, *, stream: bool = False
) -> ReadResult:
    """Read one file with the reader registered for its extension.

    With `stream=True` a reader that can stream (CSV, TSV, JSONL) returns its excerpts as a
    `RecordStream` that reads the file afresh on every pass; otherwise they come as a list.
    """
    options = options or ReadOptions()
    shown = options.display_name or str(path)
    if not path.is_file():
        raise input_error("E015", shown)
    spec = reader_for(path, shown=shown)
    size = path.stat().st_size
    if size == 0:
        raise input_error("E001", shown)
    if size > MAX_FILE_BYTES:
        raise input_error("E017", shown, size=size, limit=MAX_FILE_BYTES, fmt=spec.name)
    quiet_libraries()
    result = spec.read(path, options)
    result.path = shown
    if not stream and isinstance(result.excerpts, RecordStream):
        result.excerpts = list(result.excerpts)
    return result


class RecordStream:
    """A file's excerpt records, produced afresh each time it is iterated.

    Ingest validates a file in one pass and writes it in a second, so a file of any length is
    never held in memory. `rejected` is the list of rows skipped in the latest pass.
    """

    def __init__(self, produce: Callable[[list], Iterator]):
        self._produce = produce
        self.rejected: list[tuple[int | str, str]] = []

    def __iter__(self) -> Iterator:
        self.rejected.clear()
        return self._produce(self.rejected)


def _choose_encoding(head: bytes, *, shown: str, encoding: str | None, fmt: str) -> str:
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise input_error("E004", shown, encoding=encoding, detail=str(exc)[:120]) from None
        return encoding
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\x00" in head:
        raise input_error("E005", shown, fmt=fmt, detail="it contains binary data (NUL bytes)")
    return "utf-8-sig"


def _locate_decode_error(path: Path, encoding: str) -> tuple[int, int]:
    """The line and byte offset of the first byte that does not decode, found by a second pass."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line, offset = 1, 0
    with path.open("rb") as handle:
        for raw in handle:
            try:
                decoder.decode(raw)
            except UnicodeDecodeError as exc:
                return line, max(offset + exc.start, 0)
            line += 1
            offset += len(raw)
    return line, offset


def iter_text_lines(path: Path, *, shown: str, encoding: str | None, fmt: str) -> Iterator[str]:
    """The lines of a text file (endings kept, split as `newline=""` does), decoded like
    `decode_text`, without reading the file whole."""
    with path.open("rb") as handle:
        head = handle.read(65536)
    chosen = _choose_encoding(head, shown=shown, encoding=encoding, fmt=fmt)
    label = encoding or ("UTF-16" if chosen == "utf-16" else "UTF-8")
    with path.open("r", encoding=chosen, newline="") as handle:
        try:
            yield from handle
        except UnicodeError:
            line, byte = _locate_decode_error(path, chosen)
            raise input_error(
                "E004", shown, row=f"line {line}", encoding=label, detail=f"byte {byte}"
            ) from None


def decode_text(data: bytes, *, shown: str, encoding: str | None, fmt: str) -> str:
    """Decode bytes as the given encoding, else UTF-8 (with or without BOM) or BOM-marked UTF-16.

    Binary content (NUL bytes outside UTF-16) is refused rather than decoded into garbage.
    """
    if encoding:
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise input_error("E004", shown, encoding=encoding, detail=str(exc)[:120]) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise input_error("E004", shown, encoding="UTF-16", detail=str(exc)[:120]) from None
    if b"\x00" in data[:65536]:
        raise input_error("E005", shown, fmt=fmt, detail="it contains binary data (NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise input_error(
            "E004", shown, row=f"line {line}", encoding="UTF-8", detail=f"byte {exc.start}"
        ) from None


def check_zip(path: Path, *, shown: str, fmt: str) -> None:
    """Refuse archives that are not zips or that expand beyond the limit (zip bombs)."""
    import zipfile
    import zlib

    if not zipfile.is_zipfile(path):
        raise input_error(
            "E005", shown, fmt=fmt, detail="it is not a zip archive, or it is truncated"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as exc:
        # zlib.error: a member whose compressed data is corrupt; NotImplementedError: a
        # compression method zipfile does not support. Both mean the file cannot be read.
        raise input_error("E005", shown, fmt=fmt, detail=f"damaged archive ({exc})") from None
    if bad is not None:
        raise input_error("E005", shown, fmt=fmt, detail=f"damaged archive member {bad}")
    if total > MAX_UNZIPPED_BYTES:
        raise input_error("E030", shown, limit=MAX_UNZIPPED_BYTES)


def one_line(exc: BaseException, limit: int = 160) -> str:
    """A library's exception as one short line for a message: openpyxl's and lxml's span lines,
    and a refused file must print exactly one (#28)."""
    return " ".join(str(exc).split())[:limit] or type(exc).__name__


def file_source(path: Path, options: ReadOptions) -> SourceRecord:
    """The source to use when a file carries no citation of its own: the file itself.

    Keyed by the file's content (else its full path), never its name alone: `a/notes.txt` and
    `b/notes.txt` are two documents, and an upload's name says nothing of what is in it (#28).
    """
    if options.file_digest:
        key = "file:sha256:" + options.file_digest
    else:
        key = "file:path:" + str(path.resolve())
    return SourceRecord(
        title=path.stem,
        evidence_type=options.evidence_type,
        key=key,
        citation=path.name,
    )
