"""Ingest: read every file first, validate and normalise, then write each file in one transaction.

If any file fails to read or validate, nothing is written at all, so a bad command leaves the store
exactly as it was.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipelines import store
from pipelines.errors import input_error
from pipelines.ingest.readers import ReadOptions, read_file
from pipelines.ingest.readers.tabular import read_sources_table
from pipelines.ingest.records import (
    EVIDENCE_TYPES,
    FIELD_SLUG,
    KINDS,
    ExcerptRecord,
    ExternalIds,
    ReadResult,
    normalise_text,
    text_hash,
)
from pipelines.ingest.splitting import split_long


@dataclass
class PreparedExcerpt:
    record: ExcerptRecord
    text: str
    text_hash: str
    field: str
    kind: str | None


@dataclass
class FileReport:
    """What happened to one file: counts a user sees, and the rows that were skipped and why."""

    path: str
    format: str
    new: int = 0
    unchanged: int = 0
    rejected: list[tuple[int | str, str]] = field(default_factory=list)
    split: int = 0


def prepare_iter(
    result: ReadResult, conn: sqlite3.Connection, *, rejected: list[tuple[int | str, str]]
) -> Iterator[PreparedExcerpt]:
    """Validate each record of a file against the store's vocabularies and split long texts, one
    record at a time; records whose text normalises to nothing go to `rejected`."""
    closed = store.fields_closed(conn)
    known_fields = set(store.field_labels(conn))
    for record in result.excerpts:
        field_value = (record.field or "").strip()
        if not field_value:
            raise input_error("E013", result.path, row=record.row)
        field_value = field_value.lower()
        if not FIELD_SLUG.match(field_value):
            raise input_error("E020", result.path, row=record.row, value=field_value)
        if field_value not in known_fields and closed:
            raise input_error(
                "E010",
                result.path,
                row=record.row,
                value=field_value,
                known=", ".join(sorted(known_fields)),
            )
        kind = (record.kind or "").strip().lower() or None
        if kind is not None and kind not in KINDS:
            raise input_error(
                "E012", result.path, row=record.row, value=kind, known=", ".join(KINDS)
            )
        evidence = (record.source.evidence_type or "").strip().lower() or None
        if evidence is not None and evidence not in EVIDENCE_TYPES:
            raise input_error(
                "E011", result.path, row=record.row, value=evidence, known=", ".join(EVIDENCE_TYPES)
            )
        record.source.evidence_type = evidence
        text = normalise_text(record.text)
        if not text:
            rejected.append((record.row, "empty text"))
            continue
        chunks = split_long(text)
        for index, chunk in enumerate(chunks):
            piece = record
            if len(chunks) > 1:
                piece = ExcerptRecord(**{**record.__dict__, "meta": dict(record.meta)})
                piece.split_index, piece.split_count = index, len(chunks)
                if record.external_id:
                    piece.external_id = f"{record.external_id}#{index + 1}"
            yield PreparedExcerpt(piece, chunk, text_hash(chunk), field_value, kind)


def prepare(result: ReadResult, conn: sqlite3.Connection) -> list[PreparedExcerpt]:
    """Every record of a file validated and split, as a list; skipped rows join `result.rejected`."""
    return list(prepare_iter(result, conn, rejected=result.rejected))


# Sources looked up by key are remembered up to this many, so memory stays bounded on a file
# with a million distinct sources.
SOURCE_CACHE = 10_000


def _source_id(conn: sqlite3.Connection, source, cache: dict[str, int]) -> int:
    key = source.identity()
    if key in cache:
        return cache[key]
    found = store.source_id_for_key(conn, key)
    if found is None:
        found = store.insert_source(conn, key, source, title=normalise_text(source.title))
    if len(cache) >= SOURCE_CACHE:
        cache.clear()
    cache[key] = found
    return found


def write_file(
    conn: sqlite3.Connection,
    result: ReadResult,
    prepared: Iterable[PreparedExcerpt],
    digest: str,
    *,
    rejected: list[tuple[int | str, str]] | None = None,
) -> FileReport:
    """Write one file's excerpts in a single transaction; the same text in the same field is unchanged.

    `prepared` may be a generator that reads the file as it goes: anything it raises rolls the
    whole file back. `rejected` holds the rows that preparing skipped. A source is stored only
    when one of its excerpts is, so a file whose excerpts are all stored already adds nothing.
    """
    report = FileReport(result.path, result.format)
    ids = ExternalIds(Path(result.path).name, digest)
    with store.transaction(conn):
        source_ids: dict[str, int] = {}
        known_fields = set(store.field_labels(conn))
        # Only a file stored before (the same bytes, maybe under another field) can meet the ids
        # it would be given already in the store.
        seen_before = store.file_digest_seen(conn, digest)
        file_id = store.insert_file(conn, result.path, digest, result.format)
        for item in prepared:
            if item.field not in known_fields:
                store.add_field(conn, item.field)
                known_fields.add(item.field)
            record = item.record
            external_id = ids.next_id(record)
            if store.excerpt_exists(conn, item.field, item.text_hash):
                report.unchanged += 1
                continue
            if record.external_id:
                external_id = record.external_id
            elif seen_before and store.external_id_taken(conn, external_id):
                external_id = f"{external_id}~{item.field}"
            store.insert_excerpt(
                conn,
                source_id=_source_id(conn, record.source, source_ids),
                file_id=file_id,
                item=item,
                record=record,
                external_id=external_id,
            )
            report.new += 1
            report.split += int(record.split_count > 1)
        # Read after the pass: a streamed file refills its list of skipped rows on every pass.
        report.rejected = list(result.rejected) + list(rejected or [])
        store.set_file_counts(
            conn, file_id, new=report.new, unchanged=report.unchanged, rejected=len(report.rejected)
        )
    return report


@dataclass
class Preview:
    """What ingesting a file would do, computed without writing anything."""

    path: str
    format: str
    new: int
    unchanged: int
    rejected: list[tuple[int | str, str]]
    fields: dict[str, int]
    sample: list[str]


def preview(
    conn: sqlite3.Connection, path: Path, *, options: ReadOptions, display_name: str | None = None
) -> Preview:
    """Read and validate one file and say what ingesting it would add; raises InputError if bad."""
    shown = display_name or str(path)
    refuse_not_a_file(Path(path), shown)
    file_options = ReadOptions(
        **{**options.__dict__, "display_name": shown, "file_digest": _digest_if_file(Path(path))}
    )
    result = read_file(Path(path), file_options)
    prepared = prepare(result, conn)
    existing = store.excerpt_keys(conn)
    seen: set[tuple[str, str]] = set()
    new = 0
    fields: dict[str, int] = {}
    for item in prepared:
        key = (item.field, item.text_hash)
        if key not in existing and key not in seen:
            new += 1
            fields[item.field] = fields.get(item.field, 0) + 1
        seen.add(key)
    return Preview(
        result.path,
        result.format,
        new,
        len(prepared) - new,
        list(result.rejected),
        fields,
        [p.text for p in prepared[:3]],
    )


def ingest_paths(
    conn: sqlite3.Connection,
    paths: list[Path],
    *,
    options: ReadOptions | None = None,
    sources_path: Path | None = None,
    display_names: list[str] | None = None,
    progress=None,
) -> list[FileReport]:
    """Read and validate all `paths`, then store each file in its own transaction.

    Raises InputError (and writes nothing) if any file is bad.
    """
    options = options or ReadOptions()
    if options.evidence_type and options.evidence_type not in EVIDENCE_TYPES:
        raise input_error(
            "E011", None, value=options.evidence_type, known=", ".join(EVIDENCE_TYPES)
        )
    if sources_path is not None:
        refuse_not_a_file(Path(sources_path), str(sources_path))
        options.sources = read_sources_table(sources_path, encoding=options.encoding)
        options.sources_path = str(sources_path)
    # Pass 1 reads and validates every file without writing; pass 2 reads each file again and
    # writes it in its own transaction. CSV, TSV and JSONL are streamed in both passes, so memory
    # stays bounded however long the file is.
    staged = []
    for index, path in enumerate(paths):
        shown = display_names[index] if display_names else str(path)
        refuse_not_a_file(Path(path), shown)
        digest = _digest_if_file(Path(path))
        file_options = ReadOptions(
            **{**options.__dict__, "display_name": shown, "file_digest": digest}
        )
        result = read_file(Path(path), file_options, stream=True)
        for _ in prepare_iter(result, conn, rejected=[]):
            pass
        staged.append((result, Path(path), digest))
        if progress:
            progress(index + 1, len(paths) * 2, f"read {shown}")
    reports = []
    for index, (result, path, digest) in enumerate(staged):
        rejected: list[tuple[int | str, str]] = []
        reports.append(
            write_file(
                conn,
                result,
                _unchanged_since(path, digest, result, conn, rejected),
                digest,
                rejected=rejected,
            )
        )
        if progress:
            progress(len(paths) + index + 1, len(paths) * 2, f"stored {result.path}")
    return reports


def file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _digest_if_file(path: Path) -> str | None:
    """The file's digest, or None for a path that is not a file (the reader then says why)."""
    return file_digest(path) if path.is_file() else None


def refuse_not_a_file(path: Path, shown: str) -> None:
    """A folder, or a pipe, socket or device, is not a file that does not exist: say which it is
    (and for a folder how to give its files) rather than send the user looking for a typo."""
    if path.is_dir():
        raise input_error("E060", shown, pattern=str(Path(shown) / "*"))
    if path.exists() and not path.is_file():
        raise input_error("E061", shown)


def _unchanged_since(
    path: Path, digest: str, result: ReadResult, conn: sqlite3.Connection, rejected: list
) -> Iterator[PreparedExcerpt]:
    """The file's records for pass 2, refusing a file that changed after pass 1 validated it."""
    if file_digest(path) != digest:
        raise input_error("E031", result.path)
    yield from prepare_iter(result, conn, rejected=rejected)


BUNDLED_EXCERPTS = store.PROJECT_ROOT / "corpus" / "excerpts.csv"
BUNDLED_SOURCES = store.PROJECT_ROOT / "corpus" / "sources.csv"


def ingest_bundled_corpus(conn: sqlite3.Connection, *, progress=None) -> list[FileReport]:
    """Ingest corpus/ through the ordinary CSV reader and its sources table, like a user's files."""
    return ingest_paths(conn, [BUNDLED_EXCERPTS], sources_path=BUNDLED_SOURCES, progress=progress)
