"""Reference-manager files as they really come (#27): RIS with record numbers, headers and wrapped
tags, Web of Science exports, BibTeX with macros, crossref and LaTeX.

The contract tests build real-shaped files and compare what the store holds with what the
maintained parser (rispy, bibtexparser) returns for the same file.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import rispy

from tests.conftest import dump
from tests.samples import write_csv


def _words(text: str) -> str:
    return " ".join(text.split())


def _ris(*records: str, crlf: bool = False, bom: bool = False) -> bytes:
    text = "\n".join(records)
    if crlf:
        text = text.replace("\n", "\r\n")
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


# Each a file as an exporter writes it: EndNote and Ovid number their records, some databases put
# a header before each record, long values wrap onto lines that are not tags.
RIS_FILES = {
    "numbered.ris": _ris(
        "1.",
        "TY  - JOUR\nID  - ov1\nT1  - Peer support and personal recovery in community teams",
        "A1  - Repper, Julie\nA1  - Carter, Tim\nY1  - 2011//",
        "N2  - Peer support workers share lived experience of distress; hope and agency grow when "
        "recovery is modelled by someone who has been there.",
        "KW  - peer support\nJF  - Journal of Mental Health\nER  - \n",
        "2.",
        "TY  - JOUR\nID  - ov2\nT1  - Recovery capital in the first year after treatment",
        "A1  - Best, David\nY1  - 2016//",
        "N2  - Recovery capital, the resources a person can draw on, predicted abstinence at twelve "
        "months more strongly than baseline severity.",
        "ER  - \n",
    ),
    "headers.ris": _ris(
        "Record #1 of 2",
        "Provider: Crosswalk test exports",
        'Content: text/plain; charset="UTF-8"',
        "1.",
        "TY  - JOUR\nTI  - Desistance and the narrative reconstruction of identity",
        "AU  - Maruna, Shadd\nPY  - 2001/05//",
        "AB  - People who desisted told redemption scripts in which their true self had been good.",
        "N1  - Interviews with former prisoners in Liverpool.",
        "ER  - \n",
        "Record #2 of 2",
        "Provider: Crosswalk test exports",
        'Content: text/plain; charset="UTF-8"',
        "2.",
        "TY  - JOUR\nTI  - Housing first and recovery from homelessness",
        "AU  - Tsemberis, Sam\nPY  - 2010",
        "AB  - Housing offered without conditions kept most tenants housed after two years.",
        "ER  - \n",
    ),
    "wrapped.ris": _ris(
        "TY  - JOUR\nTI  - Recovery from mental illness: the guiding vision of the",
        "      mental health service system in the 1990s",
        "AU  - Anthony, William A.\nPY  - 1993",
        "JF  - Psychosocial Rehabilitation",
        "      Journal",
        "KW  - recovery; mental illness;",
        "      service systems",
        "AB  - Recovery is described as a deeply personal, unique process of changing one's",
        "      attitudes, values, feelings, goals, skills and roles.",
        "It is a way of living a satisfying, hopeful and contributing life",
        "even with limitations caused by illness.",
        "N1  - first point",
        "      * second point on the same note",
        "      * last point",
        "UR  - http://example.org/a; http://example.org/b",
        "ER  -\n",
    ),
    "bom_crlf_utf8.ris": _ris(
        "TY  - JOUR\nAU  - Добрынина, Е. А.\nPY  - 2019",
        "ST  - Восстановление после зависимости",
        "AB  - Выздоровление — это личный путь надежды и обретения смысла за пределами болезни.",
        "N1  - Müller betont die Übergänge: Rückfälle gehören dazu, Straße für Straße.",
        "ER  - \n",
        "TY  - JOUR\nTI  - Genesung und Teilhabe nach der Haft\nAU  - Müller, Jürgen\nPY  - 2020",
        "AB  - Für viele heißt Genesung nach der Haft, schrittweise ein neues Leben aufzubauen.",
        "ER  - \n",
        crlf=True,
        bom=True,
    ),
    "empty_tags.ris": _ris(
        "TY  - JOUR\nTI  - Harm reduction and the meaning of recovery\nAU  - Neale, Joanne",
        "PY  - 2015\nSP  -\nKW  -\nAB  - ",
        "N2  - Recovery for many service users meant control over use rather than abstinence.",
        "ER  -",
        "TY  - JOUR\nTI  - A record that carries no text\nAU  - Nobody, N.\nPY  - 2014\nAB  -",
        "ER  -",
        "",
    ),
}


@pytest.fixture
def seeded(tmp_path, cli, db) -> Path:
    """A store that already holds a file, so a refused command can be seen to change nothing."""
    assert cli("ingest", str(write_csv(tmp_path)))[0] == 0
    return db


def _ingest(cli, path: Path, *extra: str):
    return cli("ingest", str(path), "--field", "mental_health", *extra)


def _stored(db: Path) -> list[dict]:
    """The store's sources in the order their first excerpt was written, with their texts."""
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT s.id, s.title, s.authors, s.year, e.location, e.text FROM excerpts e "
        "JOIN sources s ON s.id = e.source_id ORDER BY e.id"
    ).fetchall()
    conn.close()
    sources: dict[int, dict] = {}
    for source_id, title, authors, year, location, text in rows:
        item = sources.setdefault(
            source_id,
            {"title": title, "first_author": authors.split("; ")[0], "year": year, "texts": {}},
        )
        item["texts"].setdefault(location, []).append(text)
    return [
        {**s, "texts": {k: _words(" ".join(v)) for k, v in s["texts"].items()}}
        for s in sources.values()
    ]


def _expected_ris(path: Path) -> tuple[list[dict], int]:
    """What rispy reads from the file, in the store's terms; and how many records have no text."""
    expected, without_text = [], 0
    for entry in rispy.load(path, encoding="utf-8-sig"):
        abstract = " ".join(entry.get(k, "") for k in ("abstract", "notes_abstract"))
        notes = " ".join(entry.get("notes", []))
        texts = {k: _words(v) for k, v in (("abstract", abstract), ("note", notes)) if v.strip()}
        if not texts:
            without_text += 1
            continue
        title = next(entry[k] for k in ("title", "primary_title", "short_title") if entry.get(k))
        year = next(entry[k] for k in ("year", "publication_year") if entry.get(k))
        expected.append(
            {
                "title": _words(title),
                "first_author": (entry.get("authors", []) + entry.get("first_authors", []))[0],
                "year": int(re.search(r"\d{4}", year).group()),
                "texts": texts,
            }
        )
    return expected, without_text


@pytest.mark.parametrize("name", sorted(RIS_FILES))
def test_ris_files_store_what_rispy_reads(name, tmp_path, cli, db):
    path = tmp_path / name
    path.write_bytes(RIS_FILES[name])
    expected, without_text = _expected_ris(path)
    status, out, err = _ingest(cli, path)
    assert status == 0, err
    assert _stored(db) == expected
    excerpts = sum(len(e["texts"]) for e in expected)
    assert f"{excerpts} new, 0 unchanged" in out
    assert out.count("rejected record at line") == without_text


def test_lines_outside_records_are_skipped_and_counted(tmp_path, cli):
    path = tmp_path / "headers.ris"
    path.write_bytes(RIS_FILES["headers.ris"])
    status, out, _ = _ingest(cli, path)
    assert status == 0
    assert "3 new, 0 unchanged, 1 rejected" in out
    assert "rejected lines 1-4, 13-16: 8 lines outside any record (TY ... ER) skipped" in out
    assert "'Record #1 of 2'" in out


def test_every_tag_continues_onto_the_next_line(tmp_path, cli, connect):
    """A wrapped AU or JF continues its value, as an abstract does; rispy would make the wrapped
    part of AU a second author."""
    path = tmp_path / "wrapped_authors.ris"
    path.write_text(
        "TY  - JOUR\nTI  - Wrapped\nAU  - Leamy,\n  Mary\nAU  - Slade, Mike\n"
        "JF  - British Journal\n  of Psychiatry\nAB  - Connectedness, hope, identity, meaning "
        "and empowerment.\nER  - \n",
        encoding="utf-8",
    )
    assert _ingest(cli, path)[0] == 0
    row = connect().execute("SELECT authors, venue FROM sources").fetchone()
    assert tuple(row) == ("Leamy, Mary; Slade, Mike", "British Journal of Psychiatry")


def test_ris_records_without_text_get_the_no_text_message(tmp_path, cli, seeded):
    path = tmp_path / "no_abstracts.ris"
    path.write_text(
        "1.\nTY  - JOUR\nTI  - Only a title\nER  - \n\n2.\nTY  - BOOK\nTI  - Another\nER  - \n",
        encoding="utf-8",
    )
    before = dump(seeded)
    status, _, err = _ingest(cli, path)
    assert status == 2
    assert "no text was found in the file: none of its 2 records has an abstract" in err
    assert "[E032]" in err and "malformed" not in err
    assert dump(seeded) == before


@pytest.mark.parametrize(
    "content, fragments",
    [
        ("TY  - JOUR\nAB  - x\nTY  - JOUR\nAB  - y\nER  - \n", ["line 3", "a new TY"]),
        ("1.\nTI  - Stray\nTY  - JOUR\nAB  - x\nER  - \n", ["line 2", "tag TI outside a record"]),
        ("Record #1 of 1\n1.\n", ["no records (TY ... ER) found"]),
    ],
)
def test_ris_structure_errors_name_the_line(content, fragments, tmp_path, cli, seeded):
    good = tmp_path / "good.ris"
    good.write_bytes(RIS_FILES["numbered.ris"])
    bad = tmp_path / "bad.ris"
    bad.write_text(content, encoding="utf-8")
    before = dump(seeded)
    status, _, err = cli("ingest", str(good), str(bad), "--field", "mental_health")
    assert status == 2
    assert "malformed RIS" in err and "[E008]" in err
    for fragment in fragments:
        assert fragment in err
    assert dump(seeded) == before  # the good file is not written either


# --- Web of Science -------------------------------------------------------------------------------

WOS_EXPORT = "\r\n".join(
    [
        "FN Clarivate Analytics Web of Science",
        "VR 1.0",
        "PT J",
        "AU Maruna, S",
        "   LeBel, TP",
        "AF Maruna, Shadd",
        "   LeBel, Thomas P.",
        "TI Desistance from crime and the narrative reconstruction of a",
        "   non-offending identity",
        "SO JOURNAL OF OFFENDER REHABILITATION",
        "LA English",
        "DT Article",
        "DE desistance; identity;",
        "   narrative",
        "AB Desistance is the process by which people stop offending; former",
        "   prisoners who desisted told redemption scripts in which their true",
        "   self had been good all along.",
        "CR Laub JH, 2003, SHARED BEGINNINGS",
        "   Sampson RJ, 1993, CRIME MAKING",
        "PY 2004",
        "VL 12",
        "DI 10.1000/wos.maruna",
        "UT WOS:000000000000001",
        "ER",
        "",
        "PT J",
        "AU Müller, J",
        "AF Müller, Jürgen",
        "TI Übergänge nach der Haft: Genesung und Teilhabe",
        "SO KRIMINOLOGISCHES JOURNAL",
        "AB Genesung nach der Haft heißt für viele, Straße für Straße ein neues",
        "   Leben aufzubauen; Выздоровление — это путь.",
        "EA JAN 2021",
        "UT WOS:000000000000002",
        "ER",
        "",
        "PT J",
        "AU Nobody, N",
        "TI A record without an abstract",
        "PY 2019",
        "UT WOS:000000000000003",
        "ER",
        "",
        "EF",
        "",
    ]
)


def _expected_wos(path: Path) -> list[dict]:
    expected = []
    for entry in rispy.load(path, encoding="utf-8-sig", implementation=rispy.WokParser):
        if not entry.get("abstract"):
            continue
        year = entry.get("publication_year") or entry["early_access_date"]
        expected.append(
            {
                "title": entry["document_title"],
                "first_author": entry["author_full_name"][0],
                "year": int(re.search(r"\d{4}", year).group()),
                "texts": {"abstract": _words(entry["abstract"])},
            }
        )
    return expected


@pytest.mark.parametrize("name", ["savedrecs.txt", "savedrecs.ciw", "savedrecs.ris"])
def test_web_of_science_export_stores_what_rispy_reads(name, tmp_path, cli, db):
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + WOS_EXPORT.encode("utf-8"))
    status, out, err = _ingest(cli, path)
    assert status == 0, err
    assert _stored(db) == _expected_wos(path)
    assert "2 new, 0 unchanged, 1 rejected" in out
    assert "rejected record at line 37: no abstract" in out
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT format FROM files").fetchone()[0] == "wos"
    rows = conn.execute("SELECT external_id, location FROM excerpts ORDER BY id").fetchall()
    assert rows == [("WOS:000000000000001", "abstract"), ("WOS:000000000000002", "abstract")]
    assert conn.execute("SELECT doi FROM sources WHERE year = 2004").fetchone()[0] == (
        "10.1000/wos.maruna"
    )


def test_a_text_file_that_is_not_an_export_is_still_read_as_text(tmp_path, cli, connect):
    path = tmp_path / "notes.txt"
    path.write_text("FN stands for a footnote here.\n\nRecovery is a journey.\n", encoding="utf-8")
    assert _ingest(cli, path)[0] == 0
    assert connect().execute("SELECT format FROM files").fetchone()[0] == "text"


@pytest.mark.parametrize(
    "body, fragments",
    [
        ("PT J\nTI Never closed\nAB Text.\n", ["line 3", "no closing ER line"]),
        ("PT J\nTI No abstract\nER\n", ["no text was found", "none of its 1 record", "[E032]"]),
        ("AU Stray, A\nPT J\nAB Text.\nER\n", ["line 3", "tag AU outside a record"]),
    ],
)
def test_web_of_science_errors(body, fragments, tmp_path, cli, seeded):
    path = tmp_path / "bad.ciw"
    path.write_text(f"FN Clarivate Analytics Web of Science\nVR 1.0\n{body}EF\n", encoding="utf-8")
    before = dump(seeded)
    status, _, err = _ingest(cli, path)
    assert status == 2
    for fragment in fragments:
        assert fragment in err, err
    assert dump(seeded) == before
