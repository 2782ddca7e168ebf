"""Exporters, registered by name: each turns the store (and the current run) into a table or graph.

A new export is one function plus one `register` call. Tables are written as CSV or JSON (cells
that a spreadsheet would run as a formula are neutralised), and as Parquet for other engines
(Ray, DuckDB, Spark, pandas): every table export offers it, and `embeddings` is Parquet alone.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines import store
from pipelines.errors import input_error

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Characters XML 1.0 cannot carry at all (most C0 controls, lone surrogates, U+FFFE/U+FFFF):
# a parser refuses the whole file over one of them, and lxml refuses to write it.
XML_ILLEGAL = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_clean(text: str) -> str:
    """`text` without the characters XML cannot hold (a control character pasted into a theme
    name or a field label would otherwise fail the whole export)."""
    return XML_ILLEGAL.sub("", text)


@contextmanager
def atomic_path(out: Path) -> Iterator[Path]:
    """A temporary path in `out`'s folder to write to; renamed over `out` when the block ends
    without an error, removed when it fails. A reader never sees half a file, and a failed export
    leaves the previous file whole (writers that take a path, such as pandas and networkx, cannot
    be handed a half-written file to clean up otherwise)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes it private; an export is an ordinary file
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(out: Path, data: bytes) -> None:
    """Write `data` to `out` through `atomic_path`."""
    with atomic_path(out) as tmp:
        tmp.write_bytes(data)


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
    """Each embedded excerpt's embedding under the current run's model, as an Arrow table whose
    `embedding` column is a fixed-size list of float32 (L2-normalised), beside the excerpt's
    ids, field and text hash. Excerpts that await a build have none yet and are left out (the
    count written says so) rather than failing the export."""
    import pyarrow as pa

    run = store.latest_run(conn)
    if run is None:
        raise input_error("E027")
    frame = store.excerpts(conn)
    frame = frame[frame["text_hash"].isin(store.cached_hashes(conn, run["model_id"]))]
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
    with atomic_path(out) as tmp:
        if fmt == "parquet":
            # Cells as they are: a Parquet reader runs no formulas.
            frame.to_parquet(tmp, index=False, engine="pyarrow")
        elif fmt == "csv":
            safe = frame.copy()
            for column in safe.columns:
                if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
                    safe[column] = safe[column].map(neutralise)
            safe.to_csv(tmp, index=False)
        elif fmt == "json":
            tmp.write_text(
                frame.to_json(orient="records", force_ascii=False, indent=1), encoding="utf-8"
            )
        else:  # pragma: no cover - guarded by export()
            raise ValueError(fmt)


def xml_safe_graph(graph):
    """A copy of `graph` whose node ids, attribute names and text values XML can carry."""
    import networkx as nx

    def clean(value):
        return xml_clean(value) if isinstance(value, str) else value

    def clean_all(attrs: dict) -> None:
        cleaned = {clean(k): clean(v) for k, v in attrs.items()}
        attrs.clear()
        attrs.update(cleaned)

    safe = nx.relabel_nodes(graph, {n: clean(n) for n in graph.nodes}, copy=True)
    for _, attrs in safe.nodes(data=True):
        clean_all(attrs)
    for *_, attrs in safe.edges(data=True):
        clean_all(attrs)
    clean_all(safe.graph)
    return safe


def write_graph(graph, out: Path, fmt: str) -> None:
    import networkx as nx

    with atomic_path(out) as tmp:
        if fmt == "graphml":
            nx.write_graphml(xml_safe_graph(graph), tmp)
        else:
            data = nx.node_link_data(graph, edges="links")
            tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")


def export(conn: sqlite3.Connection, what: str, out: Path, fmt: str | None = None) -> int:
    """Write export `what` to `out`; returns the number of rows (or nodes) written."""
    if what not in EXPORTERS:
        raise input_error("E025", None, what="export", value=what, known=", ".join(EXPORTERS))
    if out.is_dir():
        raise input_error("E065", None, value=str(out), example=out / f"{what}.{fmt or 'csv'}")
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

        with atomic_path(out) as tmp:
            pq.write_table(result, tmp)
        return result.num_rows
    import networkx as nx

    if isinstance(result, nx.Graph):
        write_graph(result, out, fmt)
        return result.number_of_nodes()
    write_atomic(out, json.dumps(result, indent=1, ensure_ascii=False, default=str).encode())
    return len(result)
