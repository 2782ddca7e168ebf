"""Exporters, registered by name: each turns the store (and the current run) into a table or graph.

A new export is one function plus one `register` call. Tables are written as CSV or JSON (cells
that a spreadsheet would run as a formula are neutralised), and as Parquet for other engines
(Ray, DuckDB, Spark, pandas): every table export offers it, and `embeddings` is Parquet alone.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines import store
from pipelines.errors import input_error

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """Prefix a text cell that a spreadsheet would evaluate (=, +, -, @) with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_output_path(folder: Path, name: str) -> Path:
    """`folder / name` for a file name that comes from data or a user (a theme or concept label, an
    uploaded file's name), refusing any name that would land outside `folder` or on the folder."""
    candidate = Path(name)
    if (
        not name.strip()
        or name in (".", "..")
        or candidate.is_absolute()
        or candidate.name != name
        or "\\" in name
        or "\x00" in name
    ):
        raise input_error(
            "E029",
            None,
            value=repr(name),
            detail=f"give a plain file name to write inside {folder}",
        )
    path = (folder / name).resolve()
    if path.parent != folder.resolve():
        raise input_error(
            "E029", None, value=repr(name), detail=f"it would be written outside {folder}"
        )
    return path


@dataclass
class Exporter:
    name: str
    build: Callable[[sqlite3.Connection], object]
    formats: tuple[str, ...] = ("csv", "json")

    @property
    def offered(self) -> tuple[str, ...]:
        """The formats it writes: a table (CSV) is Parquet too."""
        return self.formats + (("parquet",) if "csv" in self.formats else ())


EXPORTERS: dict[str, Exporter] = {}


class FileExport:
    """A result that writes its own file (a REFI-QDA zip, a reference list): an exporter returns
    one when its output is neither a table nor a graph."""

    def write(self, out: Path, fmt: str) -> int:
        """Write the file; returns the number of items written."""
        raise NotImplementedError


def register(name: str, *, formats: tuple[str, ...] = ("csv", "json")):
    def wrap(build):
        EXPORTERS[name] = Exporter(name, build, formats)
        return build

    return wrap


@register("excerpts")
def excerpts_table(conn: sqlite3.Connection) -> pd.DataFrame:
    frame = store.excerpts(conn)
    columns = [
        "excerpt_id",
        "external_id",
        "field",
        "kind",
        "location",
        "text",
        "title",
        "authors",
        "year",
        "venue",
        "doi",
        "url",
        "evidence_type",
        "citation",
        "split_index",
        "split_count",
    ]
    return frame[columns]


@register("embeddings", formats=("parquet",))
def embeddings_table(conn: sqlite3.Connection):
    """Each excerpt's embedding under the current run's model, as an Arrow table whose
    `embedding` column is a fixed-size list of float32 (L2-normalised), beside the excerpt's
    ids, field and text hash."""
    import pyarrow as pa

    run = store.latest_run(conn)
    if run is None:
        raise input_error("E027")
    frame = store.excerpts(conn)
    vectors = store.load_embeddings(conn, run["model_id"], frame["text_hash"].tolist())
    dim = vectors.shape[1] if len(frame) else 0
    flat = pa.array(vectors.reshape(-1), type=pa.float32())
    return pa.table(
        {
            "excerpt_id": pa.array(frame["excerpt_id"].astype("int64"), type=pa.int64()),
            "external_id": pa.array(frame["external_id"].fillna("").astype(str), pa.string()),
            "field": pa.array(frame["field"].astype(str), type=pa.string()),
            "text_hash": pa.array(frame["text_hash"].astype(str), type=pa.string()),
            "model_id": pa.array([run["model_id"]] * len(frame), type=pa.string()),
            "embedding": pa.FixedSizeListArray.from_arrays(flat, dim),
        }
    )


def write_table(frame: pd.DataFrame, out: Path, fmt: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        # Cells as they are: a Parquet reader runs no formulas.
        frame.to_parquet(out, index=False, engine="pyarrow")
    elif fmt == "csv":
        safe = frame.copy()
        for column in safe.columns:
            if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
                safe[column] = safe[column].map(neutralise)
        safe.to_csv(out, index=False)
    elif fmt == "json":
        out.write_text(
            frame.to_json(orient="records", force_ascii=False, indent=1), encoding="utf-8"
        )
    else:  # pragma: no cover - guarded by export()
        raise ValueError(fmt)


def export(conn: sqlite3.Connection, what: str, out: Path, fmt: str | None = None) -> int:
    """Write export `what` to `out`; returns the number of rows (or nodes) written."""
    if what not in EXPORTERS:
        raise input_error("E025", None, what="export", value=what, known=", ".join(EXPORTERS))
    exporter = EXPORTERS[what]
    fmt = fmt or (out.suffix.lstrip(".").lower() or exporter.formats[0])
    if fmt not in exporter.offered:
        raise input_error(
            "E025", None, what=f"format for {what}", value=fmt, known=", ".join(exporter.offered)
        )
    result = exporter.build(conn)
    if isinstance(result, FileExport):
        return result.write(out, fmt)
    if isinstance(result, pd.DataFrame):
        write_table(result, out, fmt)
        return len(result)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(result, out)
        return result.num_rows
    import networkx as nx

    if isinstance(result, nx.Graph):
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "graphml":
            nx.write_graphml(result, out)
        else:
            out.write_text(
                json.dumps(nx.node_link_data(result, edges="links"), indent=1, default=str),
                encoding="utf-8",
            )
        return result.number_of_nodes()
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    return len(result)
