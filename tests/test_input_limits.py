"""The named bad and big inputs of #8 on top of test_bad_input.py: encodings, NUL bytes, a 1 MB
cell, a million-row CSV in bounded memory, a 100 MB file, zip bombs, duplicate ids per format."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipelines.ingest.readers import MAX_FILE_BYTES, MAX_UNZIPPED_BYTES
from tests.conftest import dump
from tests.reliability import ROOT, count, record, subprocess_env
from tests.samples import TEXTS, write_csv

# Peak memory may grow by at most this much over the same command on a tiny file. Holding a
# million rows (or a 100 MB file) in memory, as ingest used to, takes far more.
MEMORY_GROWTH_LIMIT_MB = 60


def _write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _refused(cli, db, path, *fragments):
    before = dump(db)
    status, out, err = cli("ingest", str(path))
    assert status == 2, (out, err)
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    for fragment in (str(path), *fragments):
        assert fragment in err, (fragment, err)
    assert dump(db) == before


@pytest.fixture
def seeded(tmp_path, cli, db):
    assert cli("ingest", str(write_csv(tmp_path)))[0] == 0
    return db


def test_utf16_big_endian_with_bom_is_read(tmp_path, cli, connect):
    content = f'id,text,field\n1,"Naïve {TEXTS[0]}",mental_health\n'
    path = _write(tmp_path, "be.csv", content.encode("utf-16-be").join([b"\xfe\xff", b""]))
    assert cli("ingest", str(path))[0] == 0
    assert connect().execute("SELECT text FROM excerpts").fetchone()[0].startswith("Naïve")


def test_utf16_without_bom_is_a_clear_error(tmp_path, cli, seeded):
    content = f'id,text,field\n1,"{TEXTS[0]}",mental_health\n'.encode("utf-16-le")
    _refused(cli, seeded, _write(tmp_path, "nobom.csv", content), "binary data (NUL bytes)")


def test_nul_byte_after_the_first_64_kb_is_dropped_like_other_control_characters(
    tmp_path, cli, connect
):
    """A NUL in the first 64 KB marks a binary file (refused above); one deep inside a text file is
    a control character, and text drops control characters when it is normalised."""
    rows = [f"{i},Recovery note {i} about hope,mental_health" for i in range(3000)]
    rows[2500] = "2500,Recovery note with a \x00 inside,mental_health"
    path = _write(tmp_path, "nul.csv", ("id,text,field\n" + "\n".join(rows) + "\n").encode())
    assert path.stat().st_size > 65536
    assert cli("ingest", str(path))[0] == 0
    text = connect().execute("SELECT text FROM excerpts WHERE external_id = '2500'").fetchone()[0]
    assert text == "Recovery note with a inside"


def test_latin1_after_the_first_chunk_names_the_line(tmp_path, cli, seeded):
    rows = [f"{i},Recovery note {i} about hope,mental_health" for i in range(3000)]
    rows[2900] = "2900,caf\xe9 recovery,mental_health"
    path = _write(
        tmp_path, "late.csv", ("id,text,field\n" + "\n".join(rows) + "\n").encode("latin-1")
    )
    _refused(cli, seeded, path, "line 2902", "not valid UTF-8", "--encoding")


def test_a_1_mb_cell_is_split_and_nothing_is_lost(tmp_path, cli, connect):
    sentences = []
    while sum(map(len, sentences)) < 1024 * 1024:
        sentences.append(f"Recovery step {len(sentences)} brings setbacks, hope and new ties. ")
    text = "".join(sentences)
    path = _write(tmp_path, "big_cell.csv", f'id,text,field\nbig,"{text}",mental_health\n'.encode())
    status, out, err = cli("ingest", str(path))
    assert status == 0, err
    rows = (
        connect()
        .execute("SELECT external_id, text, split_count FROM excerpts ORDER BY split_index")
        .fetchall()
    )
    assert len(rows) > 1000 and rows[0][0] == "big#1" and rows[0][2] == len(rows)
    assert " ".join(r[1] for r in rows).split() == text.split()


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path, cli, seeded):
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: costs no disk and no time
    _refused(cli, seeded, path, "over the limit", str(MAX_FILE_BYTES))


def test_xlsx_zip_bomb_is_refused(tmp_path, cli, seeded):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<" * (MAX_UNZIPPED_BYTES + 1024))
    assert path.stat().st_size < 2 * 1024 * 1024
    _refused(cli, seeded, path, "zip bomb")


def test_duplicate_ids_in_jsonl_are_an_error(tmp_path, cli, seeded):
    lines = [
        f'{{"id": "j1", "text": "{TEXTS[0]}", "field": "mental_health"}}',
        f'{{"id": "j1", "text": "{TEXTS[1]}", "field": "mental_health"}}',
    ]
    path = _write(tmp_path, "dup.jsonl", ("\n".join(lines) + "\n").encode())
    _refused(cli, seeded, path, "line 2", "duplicate id 'j1'", "also on line 1")


def test_duplicate_bibtex_keys_are_an_error(tmp_path, cli, seeded):
    entry = "@article{{k1,\n title = {{{title}}},\n abstract = {{{text}}}\n}}\n"
    content = entry.format(title="A", text=TEXTS[0]) + entry.format(title="B", text=TEXTS[1])
    _refused(cli, seeded, _write(tmp_path, "dup.bib", content.encode()), "Duplicate entry key 'k1'")


def test_duplicate_ris_ids_keep_both_records_with_numbered_ids(tmp_path, cli, connect):
    """RIS exports from reference managers reuse ids; neither record wins: both are kept, and
    their ids are numbered so every excerpt's id stays unique (README, Reliability)."""
    record_text = "TY  - JOUR\nID  - r1\nTI  - {title}\nAB  - {text}\nER  - \n"
    content = record_text.format(title="A", text=TEXTS[0]) + record_text.format(
        title="B", text=TEXTS[1]
    )
    path = _write(tmp_path, "dup.ris", content.encode())
    assert cli("ingest", str(path), "--field", "mental_health")[0] == 0
    rows = connect().execute("SELECT external_id, text FROM excerpts ORDER BY id").fetchall()
    assert [tuple(r) for r in rows] == [("r1#abstract1", TEXTS[0]), ("r1#abstract2", TEXTS[1])]


# --- big files, streamed -------------------------------------------------------------------------

PEAK = """
import re, sys
from pipelines.cli import main
def peak():
    return int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) // 1024
status = main(sys.argv[1:])
print("PEAK", peak(), "STATUS", status, file=sys.stderr)
"""


def _peak_mb(db: Path, *args: str) -> tuple[int, int, str]:
    """Run the CLI in a fresh process; return its exit status, peak RSS in MB and stderr."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK, args[0], "--db", str(db), *args[1:]],
        env=subprocess_env(db),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    match = re.search(r"PEAK (\d+) STATUS (\d+)", done.stderr)
    assert match, done.stderr
    return int(match.group(2)), int(match.group(1)), done.stderr


def _baseline_mb(tmp_path: Path) -> int:
    small = tmp_path / "small.csv"
    small.write_text("id,text,field\n1,Recovery is hope,mental_health\n", encoding="utf-8")
    status, peak, err = _peak_mb(tmp_path / "baseline.sqlite", "ingest", str(small))
    assert status == 0, err
    return peak


@pytest.mark.slow
def test_a_million_row_csv_is_streamed_in_bounded_memory(tmp_path):
    rows = count(50_000, 1_000_000)
    path = tmp_path / "rows.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("id,text,field,year\n")
        for i in range(rows):
            handle.write(f"r{i},Recovery note {i} on hope and identity,mental_health,2011\n")
    baseline = _baseline_mb(tmp_path)
    db = tmp_path / "store.sqlite"
    status, peak, err = _peak_mb(db, "ingest", str(path))
    assert status == 0, err
    import sqlite3

    conn = sqlite3.connect(db)
    stored = conn.execute("SELECT COUNT(*) FROM excerpts").fetchone()[0]
    distinct = conn.execute("SELECT COUNT(DISTINCT external_id) FROM excerpts").fetchone()[0]
    conn.close()
    assert stored == distinct == rows
    assert peak - baseline < MEMORY_GROWTH_LIMIT_MB, (peak, baseline)
    record(
        "streamed csv",
        rows=rows,
        file_mb=round(path.stat().st_size / 2**20, 1),
        peak_mb=peak,
        baseline_mb=baseline,
        records_lost=rows - stored,
    )


@pytest.mark.slow
def test_a_100_mb_file_with_a_bad_last_row_writes_nothing_in_bounded_memory(tmp_path):
    size = count(10, 100) * 2**20
    words = " ".join(["recovery", "hope", "identity", "housing", "work", "peer"] * 16)
    path = tmp_path / "big.csv"
    written = 0
    with path.open("w", encoding="utf-8") as handle:
        handle.write("id,text,field,year\n")
        i = 0
        while written < size:
            line = f"r{i},{i} {words},mental_health,2011\n"
            handle.write(line)
            written += len(line)
            i += 1
        handle.write(f"r{i},{words},mental_health,soon\n")
    baseline = _baseline_mb(tmp_path)
    db = tmp_path / "store.sqlite"
    good = write_csv(tmp_path)
    assert _peak_mb(db, "ingest", str(good))[0] == 0
    before = dump(db)
    status, peak, err = _peak_mb(db, "ingest", str(path))
    assert status == 2, err
    assert f"{path}: row {i + 2}: column 'year': 'soon' is not a year" in err
    assert dump(db) == before
    assert peak - baseline < MEMORY_GROWTH_LIMIT_MB, (peak, baseline)
    record(
        "big file refused at its last row",
        file_mb=round(path.stat().st_size / 2**20, 1),
        peak_mb=peak,
        baseline_mb=baseline,
    )
