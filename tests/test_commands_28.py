"""The commands' rough edges (#28): exports written atomically and XML-safe, clear exit-2 errors
for a directory as --out and an existing field, analogues by external id in the order of the
score shown, and search / analogues / workshop (and the pages) before a build has caught up."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import pytest

from pipelines import store
from pipelines.analysis.results import rename_theme, themes_with_edits
from pipelines.cli import main
from tests.conftest import dump
from tests.reliability import ROOT, copy_store, record, subprocess_env

WORDS = {
    "mental_health": "hope identity illness clinic patient meaning",
    "substance_use": "drinking abstinence harm reduction control use",
    "criminal_justice": "offending desistance probation label prison change",
}
# Exit-2 cases met by this file, with how long each took (for the reliability record).
EXIT_2: list[float] = []


@pytest.fixture(scope="module", autouse=True)
def _record_reliability():
    """After the file's tests: how many hostile commands they ran, all exit 2, and the slowest."""
    yield
    if EXIT_2:
        record(
            "commands_28",
            cases=len(EXIT_2),
            all_exit_2=True,
            max_seconds=round(max(EXIT_2), 2),
        )


def write_corpus(path: Path, *, start: int = 1, per_field: int = 6, fields=WORDS) -> Path:
    """A small corpus, `per_field` rows a field, external ids r<start>...; the tenth row's id is
    '2', so it matches another excerpt's internal id."""
    rows = []
    n = start - 1
    for field in fields:
        words = WORDS[field].split()
        for i in range(per_field):
            n += 1
            rows.append(
                {
                    "id": "2" if n == 10 else f"r{n}",
                    "text": f"Excerpt {n} on {words[i % 6]} and {words[(i + 2) % 6]}: recovery "
                    f"involves {words[(i + 3) % 6]} over a long process with setbacks.",
                    "field": field,
                    "title": f"Paper {n}",
                    "authors": "Smith, A.",
                    "year": 2000 + n,
                }
            )
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """18 excerpts in three fields, ingested and built with the hash embedder, once."""
    folder = tmp_path_factory.mktemp("built28")
    db = folder / "store.sqlite"
    assert main(["ingest", "--db", str(db), str(write_corpus(folder / "small.csv"))]) == 0
    assert main(["build", "--db", str(db)]) == 0
    return db


@pytest.fixture
def built_db(built, db) -> Path:
    copy_store(built, db)
    return db


def run(db: Path, *args: str) -> subprocess.CompletedProcess:
    """The CLI in a subprocess on `db` (the fast hash embedder)."""
    return subprocess.run(
        [sys.executable, "-m", "pipelines", args[0], "--db", str(db), *args[1:]],
        env=subprocess_env(db),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def exit_2(cli, db: Path, *args: str) -> str:
    """Run a command that must fail with exit 2, a one-line message and the store unchanged;
    returns the message."""
    before = dump(db)
    started = time.monotonic()
    status, _, err = cli(*args)
    EXIT_2.append(time.monotonic() - started)
    assert status == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert dump(db) == before
    return lines[0]


# --- 1. exports through a temporary file, XML-safe --------------------------------------------


def test_graphml_export_strips_control_characters_from_labels(built_db, cli, tmp_path):
    out = tmp_path / "graph.graphml"
    assert cli("export", "graph", "--out", str(out))[0] == 0
    conn = store.connect(built_db)
    theme = themes_with_edits(conn)[0][0]
    rename_theme(conn, theme.key, "Hope\x01 and\x0b identity")
    status, _, err = cli("export", "graph", "--out", str(out))
    assert status == 0, err
    labels = [e.text for e in ET.parse(out).getroot().iter() if e.text]
    assert "Hope and identity" in labels


@pytest.fixture
def broken_graph():
    """An exporter whose graph networkx cannot write (a dict as a node's value): it fails after
    the writer has started the file."""
    from pipelines.exports import EXPORTERS, register

    def build(conn):
        graph = nx.Graph()
        graph.add_node("a", label="fine")
        graph.add_node("b", label={"not": "writable"})
        return graph

    register("broken_graph_28", formats=("graphml", "json"))(build)
    yield "broken_graph_28"
    EXPORTERS.pop("broken_graph_28")


def test_a_failing_export_leaves_the_previous_file_whole(built_db, cli, tmp_path, broken_graph):
    out = tmp_path / "graph.graphml"
    assert cli("export", "graph", "--out", str(out))[0] == 0
    good = out.read_bytes()
    status, _, err = cli("export", broken_graph, "--out", str(out))
    assert status == 1 and "GraphML" in err
    assert out.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".graph")] == []


@pytest.mark.parametrize(
    ("what", "name"),
    [
        ("excerpts", "excerpts.csv"),
        ("excerpts", "excerpts.json"),
        ("excerpts", "excerpts.parquet"),
        ("graph", "graph.graphml"),
        ("graph", "graph.json"),
        ("themes", "themes.csv"),
        ("references", "references.ris"),
    ],
)
def test_a_reader_of_the_old_export_keeps_a_whole_file(what, name, built_db, cli, tmp_path):
    """An export replaces the file rather than rewriting it in place: a program that has the old
    file open (a spreadsheet, a QDA tool) keeps reading the old file, whole."""
    out = tmp_path / name
    assert cli("export", what, "--out", str(out))[0] == 0
    old = out.read_bytes()
    with out.open("rb") as reader:
        conn = store.connect(built_db)
        rename_theme(conn, themes_with_edits(conn)[0][0].key, "A longer name " * 20)
        with store.transaction(conn):
            conn.execute("UPDATE sources SET title = title || ' (second edition)'")
        assert cli("export", what, "--out", str(out))[0] == 0
        assert reader.read() == old
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_workshop_pack_written_by_the_cli_leaves_no_partial_file(built_db, cli, tmp_path):
    out = tmp_path / "pack.md"
    (tmp_path / "pack.md.partial").write_text("the user's own notes")
    status, _, err = cli(
        "workshop",
        "--focus",
        "hope",
        "--fields",
        "mental_health,substance_use",
        "--items",
        "8",
        "--out",
        str(out),
    )
    assert status == 0, err
    assert (tmp_path / "pack.md.partial").read_text() == "the user's own notes"
    assert out.read_text(encoding="utf-8").startswith("#")


# --- 2. clear exit-2 errors ---------------------------------------------------------------------


def test_export_to_a_directory_is_exit_2_naming_it(built_db, cli, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    message = exit_2(cli, built_db, "export", "themes", "--out", str(folder))
    assert str(folder) in message and "is a folder" in message and "[E065]" in message
    assert list(folder.iterdir()) == []


def test_adding_an_existing_field_is_exit_2_saying_it_exists(built_db, cli):
    message = exit_2(cli, built_db, "fields", "add", "mental_health", "--label", "Psychiatry")
    assert "'mental_health' already exists" in message and "Mental health" in message
    assert "[E066]" in message
    conn = store.connect(built_db)
    assert store.field_labels(conn)["mental_health"] == "Mental health"


HOSTILE = {
    "export to a folder": (("export", "themes", "--out", "{folder}"), "[E065]"),
    "graphml to a folder": (
        ("export", "graph", "--out", "{folder}", "--format", "graphml"),
        "[E065]",
    ),
    "project to a folder": (("export", "project", "--out", "{folder}"), "[E065]"),
    "workshop to a folder": (
        (
            "workshop",
            "--focus",
            "hope",
            "--fields",
            "mental_health,substance_use",
            "--out",
            "{folder}",
        ),
        "[E065]",
    ),
    "existing field": (("fields", "add", "substance_use"), "[E066]"),
    "unknown excerpt": (("analogues", "r999"), "[E067]"),
    "empty excerpt id": (("analogues", ""), "[E067]"),
    "negative excerpt id": (("analogues", "-3"), "[E067]"),
    "search k of 0": (("search", "hope", "--k", "0"), "--k"),
    "search negative k": (("search", "hope", "--k", "-1"), "--k"),
    "analogues k not a number": (("analogues", "1", "--k", "x"), "--k"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_commands_are_exit_2_with_one_message(case, built_db, cli, tmp_path):
    args, expected = HOSTILE[case]
    folder = tmp_path / "out"
    folder.mkdir()
    args = tuple(a.format(folder=folder) for a in args)
    before = dump(built_db)
    started = time.monotonic()
    status, _, err = cli(*args)
    EXIT_2.append(time.monotonic() - started)
    assert status == 2, err
    assert expected in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].count("error") == 1
    assert dump(built_db) == before and list(folder.iterdir()) == []


def test_search_in_an_unknown_field_says_why_it_is_empty(built_db, cli):
    status, out, err = cli("search", "hope", "--field", "astrology")
    assert status == 0 and out == ""
    assert "no embedded excerpt is in astrology" in err and "mental_health" in err


# --- 3. analogues: external ids, reasons, order, decimals ------------------------------------


def _analogues(cli, *args) -> tuple[list[dict], str]:
    status, out, err = cli("analogues", *args, "--json")
    assert status == 0, err
    return json.loads(out), err


def test_analogues_accept_the_external_id(built_db, cli):
    by_external, err = _analogues(cli, "r3")
    by_internal, _ = _analogues(cli, "3")
    assert by_external == by_internal and by_external
    assert "external id" in err and "excerpt 3" in err


def test_analogues_say_which_id_was_used_when_a_value_matches_both(built_db, cli):
    conn = store.connect(built_db)
    other = conn.execute("SELECT id FROM excerpts WHERE external_id = '2'").fetchone()[0]
    assert other != 2
    found, err = _analogues(cli, "2")
    assert found == _analogues(cli, "2")[0]
    assert "excerpt 2" in err and f"excerpt {other}" in err and "internal id" in err
    assert {row["excerpt_id"] for row in found}.isdisjoint({2})


def test_analogues_of_an_unknown_or_ambiguous_id_are_exit_2(built_db, cli, tmp_path):
    message = exit_2(cli, built_db, "analogues", "nope")
    assert "'nope'" in message and "[E067]" in message
    again = tmp_path / "again.csv"
    again.write_text("id,text,field\nr3,A second file reuses the id r3.,mental_health\n")
    assert cli("ingest", str(again))[0] == 0
    message = exit_2(cli, built_db, "analogues", "r3")
    conn = store.connect(built_db)
    ids = [r[0] for r in conn.execute("SELECT id FROM excerpts WHERE external_id = 'r3'")]
    assert "[E068]" in message and all(str(i) in message for i in ids)


def test_analogues_of_an_empty_id_do_not_match_excerpts_without_one(built_db, cli, tmp_path):
    unnamed = tmp_path / "unnamed.csv"
    unnamed.write_text("text,field\nOne without an id.,mental_health\nTwo without.,substance_use\n")
    assert cli("ingest", str(unnamed))[0] == 0
    for value in ("", " "):
        assert "[E067]" in exit_2(cli, built_db, "analogues", value)


def test_analogues_are_ordered_by_the_score_shown_with_three_decimals(built_db, cli):
    for excerpt_id in range(1, 19):
        found, _ = _analogues(cli, str(excerpt_id))
        for field in {row["field"] for row in found}:
            rows = [row for row in found if row["field"] == field]
            scores = [row["similarity"] for row in rows]
            assert [row["rank"] for row in rows] == list(range(1, len(rows) + 1))
            assert scores == sorted(scores, reverse=True), (excerpt_id, field, scores)
            assert all(round(s, 3) == s for s in scores)
    status, out, _ = cli("analogues", "5")
    assert status == 0
    printed = re.findall(r"\| \d+ (\S+)\n", out)
    assert printed and all(re.fullmatch(r"-?\d\.\d{3}", s) for s in printed), out


def test_search_prints_scores_with_three_decimals(built_db, cli):
    status, out, _ = cli("search", "hope and identity", "--k", "5")
    assert status == 0
    printed = re.findall(r"\| (\S+)\n", out)
    assert len(printed) == 5 and all(re.fullmatch(r"-?\d\.\d{3}", s) for s in printed), out
    status, out, _ = cli("search", "hope and identity", "--k", "5", "--json")
    scores = [row["score"] for row in json.loads(out)]
    assert scores == sorted(scores, reverse=True) and all(round(s, 3) == s for s in scores)


def test_analogues_in_a_one_field_store_say_why_there_are_none(db, cli, tmp_path):
    only = write_corpus(tmp_path / "one.csv", per_field=3, fields=["mental_health"])
    assert cli("ingest", str(only))[0] == 0
    assert cli("build", "--embed-only")[0] == 0
    found, err = _analogues(cli, "1")
    assert found == []
    assert "no other field" in err


# --- 4. before a build has caught up ----------------------------------------------------------


def _add_new(db: Path, tmp_path: Path, count: int = 3) -> None:
    extra = tmp_path / "extra.csv"
    lines = ["id,text,field"] + [
        f"n{i},A new excerpt number {i} about hope in recovery.,mental_health" for i in range(count)
    ]
    extra.write_text("\n".join(lines) + "\n")
    assert main(["ingest", "--db", str(db), str(extra)]) == 0


WORKSHOP = (
    "workshop",
    "--focus",
    "chime/hope",
    "--fields",
    "mental_health,substance_use",
    "--items",
    "8",
)


def test_commands_after_ingest_without_build_use_the_run_and_say_what_awaits(built_db, tmp_path):
    _add_new(built_db, tmp_path, 3)
    for args in (
        ("search", "hope"),
        ("analogues", "1"),
        (*WORKSHOP, "--out", str(tmp_path / "pack.md")),
    ):
        done = run(built_db, *args)
        assert done.returncode == 0, done.stderr
        notes = [line for line in done.stderr.splitlines() if "await" in line]
        assert notes == ["note: 3 new excerpts await a build (`python -m pipelines build`)."]
        assert "Traceback" not in done.stderr and "KeyError" not in done.stderr
    found = json.loads(run(built_db, "search", "new excerpt hope", "--k", "30", "--json").stdout)
    assert len(found) == 18 and max(row["excerpt_id"] for row in found) == 18


def test_embeddings_export_after_ingest_without_build_writes_the_embedded(built_db, tmp_path):
    import pyarrow.parquet as pq

    _add_new(built_db, tmp_path, 2)
    out = tmp_path / "embeddings.parquet"
    done = run(built_db, "export", "embeddings", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "wrote 18 embeddings" in done.stdout
    assert pq.read_table(out).num_rows == 18


def test_analogues_of_an_excerpt_awaiting_a_build_say_so(built_db, tmp_path):
    _add_new(built_db, tmp_path, 1)
    done = run(built_db, "analogues", "n0", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    assert "excerpt 19 has no embedding yet" in done.stderr and "build" in done.stderr


def test_commands_after_a_build_killed_while_embedding(built_db, tmp_path):
    """Some new excerpts embedded, some not, the run still the old one (as a build killed in its
    embedding step leaves the store)."""
    _add_new(built_db, tmp_path, 3)
    assert main(["build", "--db", str(built_db), "--embed-only"]) == 0
    conn = sqlite3.connect(built_db)
    with conn:
        conn.execute(
            "DELETE FROM embeddings WHERE text_hash = "
            "(SELECT text_hash FROM excerpts WHERE external_id = 'n2')"
        )
    conn.close()
    for args in (
        ("search", "hope"),
        ("analogues", "n0"),
        (*WORKSHOP, "--out", str(tmp_path / "pack.md")),
    ):
        done = run(built_db, *args)
        assert done.returncode == 0, done.stderr
        assert "1 new excerpt awaits a build" in done.stderr


def test_commands_with_no_run_say_to_build(db, tmp_path):
    assert main(["ingest", "--db", str(db), str(write_corpus(tmp_path / "c.csv"))]) == 0
    for args in (
        ("search", "hope"),
        ("analogues", "1"),
        (*WORKSHOP, "--out", str(tmp_path / "pack.md")),
    ):
        before = dump(db)
        started = time.monotonic()
        done = run(db, *args)
        EXIT_2.append(time.monotonic() - started)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1
        assert "python -m pipelines build" in done.stderr
        assert dump(db) == before
    assert not (tmp_path / "pack.md").exists()


@pytest.fixture
def pending_app(built_db, tmp_path, monkeypatch) -> Path:
    _add_new(built_db, tmp_path, 2)
    monkeypatch.setenv("CROSSWALK_DB", str(built_db))
    return built_db


def _page(name: str):
    from streamlit.testing.v1 import AppTest

    return AppTest.from_string(
        f"from crosswalk_ui import {name}\n{name}.render()\n", default_timeout=60
    )


@pytest.mark.parametrize(
    ("page", "act"),
    [
        ("compare_page", None),
        ("search_page", lambda app: app.text_input(key="search_query").input("hope").run()),
        ("workshop_page", lambda app: app.button[0].click().run()),
    ],
)
def test_pages_before_a_build_show_what_awaits(page, act, pending_app):
    app = _page(page)
    app.run()
    if act is not None:
        if page == "workshop_page":
            # A theme: the sample corpus has too few excerpts using the word "hope" (the default
            # concept's cue, test_workshop_28) for a concept pack, and the hash embedder finds
            # no question relevant.
            app.radio(key="workshop_focus_kind").set_value("a theme")
            app.slider(key="workshop_items").set_value(8)
        act(app)
    assert not app.exception, app.exception
    assert any("2 new excerpts await a build" in info.value for info in app.info)
    if page == "workshop_page":
        assert app.session_state["workshop_pack"].items
