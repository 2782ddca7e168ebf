"""Sources and excerpts keep their own identity (#28): a file's source is keyed by its content,
not its name; every excerpt gets an external id a user can join on; a folder (or a pipe) given to
`ingest` is named as what it is; the Corpus page stores two uploads of the same name and leaves no temporary
folders behind."""

from __future__ import annotations

import csv
import sqlite3
import tempfile
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipelines import store
from pipelines.ingest.files import BUNDLED_EXCERPTS, BUNDLED_SOURCES, ingest_bundled_corpus
from tests.conftest import dump
from tests.reliability import record
from tests.samples import TEXTS, write_docx, write_md, write_pdf, write_txt

CASES: dict[str, float] = {}


def _timed_case(name: str, started: float) -> None:
    """Note how long a case took and rewrite this file's reliability record with every case so
    far, so a partial run (`-k`) records what it ran."""
    CASES[name] = round(time.perf_counter() - started, 3)
    record(
        "sources_identity_28",
        cases=len(CASES),
        hostile_inputs_exit_2=sum(case.startswith("exit 2:") for case in CASES),
        slowest_case_s=max(CASES.values()),
        seconds=dict(CASES),
    )


def _notes(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "notes.txt"
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _evidence_by_text(conn) -> dict[str, str]:
    rows = conn.execute(
        "SELECT e.text, s.evidence_type FROM excerpts e JOIN sources s ON s.id = e.source_id"
    )
    return {text: evidence for text, evidence in rows}


# --- 1. a file's source is keyed by its content, not its name -----------------------------------


def test_same_named_files_in_different_folders_are_different_sources(tmp_path, cli, connect):
    started = time.perf_counter()
    lived = _notes(tmp_path / "a", TEXTS[0])
    study = _notes(tmp_path / "b", TEXTS[1])
    common = ("--field", "mental_health", "--evidence-type")
    assert cli("ingest", str(lived), *common, "lived_experience")[0] == 0
    assert cli("ingest", str(study), *common, "peer_reviewed")[0] == 0
    conn = connect()
    assert store.counts(conn)["sources"] == 2
    assert _evidence_by_text(conn) == {TEXTS[0]: "lived_experience", TEXTS[1]: "peer_reviewed"}
    _timed_case("same name, two folders", started)


def test_same_named_files_in_one_command_are_different_sources(tmp_path, cli, connect):
    lived = _notes(tmp_path / "a", TEXTS[0])
    other = _notes(tmp_path / "b", TEXTS[2])
    status, out, err = cli("ingest", str(lived), str(other), "--field", "mental_health")
    assert status == 0, err
    assert store.counts(connect())["sources"] == 2


def test_reingesting_the_same_file_adds_nothing(tmp_path, cli, db):
    path = _notes(tmp_path / "a", TEXTS[0])
    args = ("ingest", str(path), "--field", "mental_health", "--evidence-type", "lived_experience")
    assert cli(*args)[0] == 0
    before = dump(db)
    status, out, _ = cli(*args)
    assert status == 0
    assert "0 new, 1 unchanged" in out
    after = [line for line in dump(db) if not line.startswith('INSERT INTO "files"')]
    assert after == [line for line in before if not line.startswith('INSERT INTO "files"')]


def test_a_copy_under_another_folder_adds_no_source(tmp_path, cli, connect):
    """The same content is the same document, wherever it lies: no empty second source."""
    first = _notes(tmp_path / "a", TEXTS[0])
    copy = _notes(tmp_path / "b", TEXTS[0])
    assert cli("ingest", str(first), "--field", "mental_health")[0] == 0
    status, out, _ = cli("ingest", str(copy), "--field", "mental_health")
    assert status == 0 and "0 new, 1 unchanged" in out
    assert store.counts(connect())["sources"] == 1


def test_a_store_keyed_by_file_names_gains_no_empty_source_on_reingest(tmp_path, cli, connect):
    """A store made before #28 keyed the file's source `file:NAME`; ingesting the same file again
    finds every excerpt stored, so it must not add a second, empty source under the new key."""
    path = _notes(tmp_path / "a", TEXTS[0])
    assert cli("ingest", str(path), "--field", "mental_health")[0] == 0
    conn = connect()
    with store.transaction(conn):
        conn.execute("UPDATE sources SET key = 'file:notes.txt'")
    assert cli("ingest", str(path), "--field", "mental_health")[0] == 0
    assert store.counts(connect())["sources"] == 1


def _rows(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def test_the_bundled_corpus_ingests_to_the_same_counts(tmp_path):
    conn = store.connect(tmp_path / "bundled.sqlite")
    reports = ingest_bundled_corpus(conn)
    counts = store.counts(conn)
    assert counts["excerpts"] == reports[0].new == _rows(BUNDLED_EXCERPTS)
    assert counts["sources"] == _rows(BUNDLED_SOURCES)
    again = ingest_bundled_corpus(conn)
    assert (again[0].new, again[0].unchanged) == (0, _rows(BUNDLED_EXCERPTS))
    assert store.counts(conn)["sources"] == _rows(BUNDLED_SOURCES)
    # The bundled rows carry their own ids; nothing rewrites them.
    ids = [r[0] for r in conn.execute("SELECT external_id FROM excerpts ORDER BY id")]
    with BUNDLED_EXCERPTS.open(encoding="utf-8", newline="") as handle:
        assert ids == [row["id"] for row in csv.DictReader(handle)]


# --- 2. every excerpt has a stable external id ----------------------------------------------------

WRITERS = {"txt": write_txt, "md": write_md, "docx": write_docx, "pdf": write_pdf}


def _external_ids(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT external_id FROM excerpts ORDER BY id")]
    finally:
        conn.close()


@pytest.mark.parametrize("kind", list(WRITERS))
def test_document_excerpts_get_a_stable_external_id(kind, tmp_path, cli, db):
    started = time.perf_counter()
    path = WRITERS[kind](tmp_path)
    assert cli("ingest", str(path), "--field", "mental_health")[0] == 0
    ids = _external_ids(db)
    assert len(ids) == 3
    assert all(i and i.startswith(path.name + ":") for i in ids), ids
    assert len(set(ids)) == len(ids)
    # A fresh store gives the same file the same ids.
    fresh = tmp_path / "fresh.sqlite"
    from pipelines.cli import main

    assert main(["ingest", "--db", str(fresh), str(path), "--field", "mental_health"]) == 0
    assert _external_ids(fresh) == ids
    _timed_case(f"external ids, {kind}", started)


def test_pdf_ids_name_the_page_and_count_its_blocks(tmp_path, cli, db):
    path = write_pdf(tmp_path)
    assert cli("ingest", str(path), "--field", "mental_health")[0] == 0
    ids = _external_ids(db)
    assert [i.rsplit(":", 2)[1:] for i in ids] == [
        ["page-1", "1"],
        ["page-2", "1"],
        ["page-3", "1"],
    ]


def test_ids_of_same_named_files_and_of_one_file_in_two_fields_are_unique(tmp_path, cli, db):
    started = time.perf_counter()
    one = _notes(tmp_path / "a", TEXTS[0])
    two = _notes(tmp_path / "b", TEXTS[1])
    assert cli("ingest", str(one), str(two), "--field", "mental_health")[0] == 0
    assert cli("ingest", str(one), "--field", "substance_use")[0] == 0
    ids = _external_ids(db)
    assert len(ids) == 3 and all(ids)
    assert len(set(ids)) == 3, ids
    _timed_case("external ids unique across same-named files and fields", started)


def test_an_edited_file_keeps_its_ids_and_gives_new_ones_to_what_it_adds(tmp_path, cli, db):
    path = _notes(tmp_path / "a", f"{TEXTS[0]}\n\n{TEXTS[1]}")
    assert cli("ingest", str(path), "--field", "mental_health")[0] == 0
    first = _external_ids(db)
    # A paragraph put first takes the location the first paragraph had.
    path.write_text(f"{TEXTS[2]}\n\n{TEXTS[0]}\n\n{TEXTS[1]}\n", encoding="utf-8")
    status, out, _ = cli("ingest", str(path), "--field", "mental_health")
    assert status == 0 and "1 new, 2 unchanged" in out
    ids = _external_ids(db)
    assert ids[:2] == first
    assert ids[2].split(":")[2:] == ["line-1", "1"] and ids[2] != first[0]


def test_export_assignments_carries_the_document_ids(tmp_path, cli, db):
    from pipelines.cli import main

    paths = [w(tmp_path) for w in WRITERS.values()]
    status, _, err = cli("ingest", *map(str, paths), "--field", "mental_health")
    assert status == 0, err
    extra = tmp_path / "more.csv"
    extra.write_text(
        "text,field\n"
        + "".join(
            f'"Recovery story {i}: hope, peers and housing.",substance_use\n' for i in range(8)
        ),
        encoding="utf-8",
    )
    assert cli("ingest", str(extra))[0] == 0
    assert main(["build", "--db", str(db)]) == 0
    out = tmp_path / "assignments.csv"
    assert cli("export", "assignments", "--out", str(out))[0] == 0
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(row["external_id"] for row in rows)
    assert len({row["external_id"] for row in rows}) == len(rows)


# --- 3. a folder given to ingest ---------------------------------------------------------------


def test_a_folder_is_named_as_a_folder(tmp_path, cli, db):
    started = time.perf_counter()
    folder = tmp_path / "papers"
    good = _notes(folder, TEXTS[0])
    assert cli("ingest", str(good), "--field", "mental_health")[0] == 0
    before = dump(db)
    status, out, err = cli("ingest", str(good), str(folder), "--field", "mental_health")
    assert status == 2
    errors = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert f"{folder}: this is a folder, not a file" in errors[0]
    assert "[E060]" in err and "does not exist" not in err
    assert str(folder / "*") in err
    assert dump(db) == before
    _timed_case("exit 2: a folder to ingest", started)


def test_a_folder_as_the_sources_table_is_named_as_a_folder(tmp_path, cli, db):
    started = time.perf_counter()
    path = _notes(tmp_path / "a", TEXTS[0])
    assert cli("stats")[0] == 0
    before = dump(db)
    status, _, err = cli(
        "ingest", str(path), "--field", "mental_health", "--sources", str(tmp_path)
    )
    assert status == 2
    assert "this is a folder, not a file" in err and "[E060]" in err
    assert dump(db) == before
    _timed_case("exit 2: a folder as the sources table", started)


def test_a_pipe_is_named_as_not_a_regular_file(tmp_path, cli, db):
    """A named pipe exists but is no file: reading it would wait for a writer for ever."""
    import os

    started = time.perf_counter()
    pipe = tmp_path / "incoming.csv"
    os.mkfifo(pipe)
    assert cli("stats")[0] == 0
    before = dump(db)
    status, _, err = cli("ingest", str(pipe), "--field", "mental_health")
    assert status == 2
    assert f"{pipe}: this is not a regular file" in err and "[E061]" in err
    assert dump(db) == before
    _timed_case("exit 2: a named pipe to ingest", started)


# --- 4 and 5. the Corpus page: two uploads of one name, and no temporary folders left -----------


@pytest.fixture
def page_store(tmp_path, monkeypatch):
    """A small store for the Corpus page, and a private temporary folder to count what it
    leaves there (tempfile caches the folder, so both TMPDIR and the cache are set)."""
    path = tmp_path / "page.sqlite"
    seed = tmp_path / "seed.csv"
    seed.write_text(f'id,text,field\ns1,"{TEXTS[2]}",substance_use\n', encoding="utf-8")
    store.connect(path)
    from pipelines.cli import main

    assert main(["ingest", "--db", str(path), str(seed)]) == 0
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("CROSSWALK_DB", str(path))
    return path, temp


def _corpus_page() -> AppTest:
    return AppTest.from_string(
        "from crosswalk_ui import excerpts_page\nexcerpts_page.render()\n", default_timeout=60
    )


def _two_notes() -> list[tuple[str, bytes, str]]:
    first = f'text,field\n"{TEXTS[0]}",mental_health\n"{TEXTS[1]}",criminal_justice\n'
    second = 'text,field\n"Harm reduction meets people where they are.",substance_use\n'
    return [
        ("notes.csv", first.encode(), "text/csv"),
        ("notes.csv", second.encode(), "text/csv"),
    ]


def _report_lines(app: AppTest) -> list[str]:
    return [t.value for t in app.text if t.value.startswith("notes.csv")]


def test_two_uploads_of_one_name_are_both_reported_and_stored(page_store):
    started = time.perf_counter()
    path, _ = page_store
    app = _corpus_page()
    app.session_state["corpus_add_open"] = True
    app.run()
    app.file_uploader(key="corpus_upload").set_value(_two_notes()).run()
    assert not app.exception
    lines = _report_lines(app)
    assert len(lines) == 2
    assert "2 new" in lines[0] and "1 new" in lines[1], lines
    app.button(key="corpus_ingest").click().run()
    assert not app.exception
    ingested = [line for line in _report_lines(app) if "(csv)" not in line]
    assert ingested == [
        "notes.csv (upload 1): 2 new, 0 unchanged, 0 rejected",
        "notes.csv (upload 2): 1 new, 0 unchanged, 0 rejected",
    ]
    texts = {r[0] for r in sqlite3.connect(path).execute("SELECT text FROM excerpts")}
    assert {TEXTS[0], TEXTS[1], "Harm reduction meets people where they are."} <= texts
    assert len(texts) == 4
    _timed_case("two uploads named notes.csv", started)


def _left_behind(temp: Path) -> list[str]:
    return sorted(p.name for p in temp.iterdir())


def test_the_corpus_page_leaves_no_temporary_folders(page_store):
    started = time.perf_counter()
    _, temp = page_store
    app = _corpus_page()
    app.session_state["corpus_add_open"] = True
    app.run()
    app.file_uploader(key="corpus_upload").set_value(_two_notes()).run()
    for _ in range(3):
        app.run()
    app.button(key="corpus_ingest").click().run()
    assert not app.exception
    assert _left_behind(temp) == []
    for what in ("excerpts", "references"):
        app.selectbox(key="corpus_export_what").set_value(what).run()
        app.button(key="corpus_export").click().run()
        assert not app.exception
        assert app.get("download_button"), "the export offers its file"
    assert _left_behind(temp) == []
    _timed_case("Corpus page reruns, uploads and exports", started)


def test_a_refused_upload_leaves_no_temporary_folder(page_store):
    _, temp = page_store
    app = _corpus_page()
    app.session_state["corpus_add_open"] = True
    app.run()
    bad = ("bad.csv", b"id,body\n1,no text column here\n", "text/csv")
    app.file_uploader(key="corpus_upload").set_value([bad]).run()
    assert not app.exception
    assert any("bad.csv: no 'text' column" in e.value for e in app.error)
    assert "corpus_ingest" not in [b.key for b in app.button]
    assert _left_behind(temp) == []
