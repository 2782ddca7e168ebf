"""Parquet: one row per excerpt, with the columns of a CSV (DESIGN.md's tabular columns).

What `export excerpts --format parquet` writes reads back here, and so does a table written by
Ray, DuckDB, Spark or pandas. The file is read a record batch at a time, twice (ingest validates
in one pass and writes in a second), so a large file is never held in memory whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pipelines.errors import input_error
from pipelines.ingest.readers.base import ReadOptions, RecordStream, register
from pipelines.ingest.readers.tabular import iter_records
from pipelines.ingest.records import ExcerptRecord, ReadResult

BATCH_ROWS = 4096


def _damaged(shown: str, exc: Exception, row: int | None = None):
    # Arrow's messages run over several lines; the CLI prints one.
    detail = " ".join(str(exc).split())[:160] or type(exc).__name__
    return input_error("E005", shown, row=row, fmt="Parquet", detail=detail)


def _open(path: Path, shown: str):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError, ValueError, MemoryError) as exc:
        raise _damaged(shown, exc) from None


def _rows(path: Path, shown: str) -> Iterator[tuple[int, dict]]:
    """(row number from 1, {column: value}) for every row; a damaged page is E005 at its row."""
    import pyarrow as pa

    handle = _open(path, shown)
    number = 0
    try:
        for batch in handle.iter_batches(batch_size=BATCH_ROWS):
            for values in batch.to_pylist():
                number += 1
                yield number, values
    except (pa.ArrowException, OSError, ValueError, MemoryError) as exc:
        # Arrow decodes whole pages, so the row is where the damaged page starts or after.
        raise _damaged(shown, exc, number + 1) from None
    finally:
        handle.close()


@register("parquet", extensions=(".parquet", ".pq"))
def read_parquet(path: Path, options: ReadOptions) -> ReadResult:
    shown = options.display_name or str(path)
    _open(path, shown).close()  # a file that is not Parquet fails here, before any pass

    def produce(rejected: list) -> Iterator[ExcerptRecord]:
        return iter_records(_rows(path, shown), path=path, options=options, rejected=rejected)

    stream = RecordStream(produce)
    return ReadResult(path=shown, format="parquet", excerpts=stream, rejected=stream.rejected)
