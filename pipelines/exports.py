"""Exporters, registered by name: each turns the store (and the current run) into a table or graph.

A new export is one function plus one `register` call. Tables are written as CSV or JSON; cells
that a spreadsheet would run as a formula are neutralised.
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


def write_table(frame: pd.DataFrame, out: Path, fmt: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
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
    if fmt not in exporter.formats:
        raise input_error(
            "E025", None, what=f"format for {what}", value=fmt, known=", ".join(exporter.formats)
        )
    result = exporter.build(conn)
    if isinstance(result, FileExport):
        return result.write(out, fmt)
    if isinstance(result, pd.DataFrame):
        write_table(result, out, fmt)
        return len(result)
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
