"""Contract tests: every registered reader through the same checks, via the public ingest path."""

from __future__ import annotations

import pytest

from pipelines.ingest.readers import READERS, ReadOptions, read_file
from tests.samples import SAMPLES, TEXTS


def test_every_reader_has_a_sample():
    assert set(READERS) == set(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_reader_contract(name, tmp_path):
    writer, expected, _ = SAMPLES[name]
    path = writer(tmp_path)
    result = read_file(path, ReadOptions(field="mental_health"))
    assert result.format == READERS[name].name or result.format in (
        "csv",
        "tsv",
        "jsonl",
        "xlsx",
        "text",
    )
    assert len(result.excerpts) == expected
    assert [" ".join(e.text.split()) for e in result.excerpts] == TEXTS
    for excerpt in result.excerpts:
        assert excerpt.source.title
        assert excerpt.field
        assert excerpt.row is not None


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_ingest_each_format_then_reingest_adds_nothing(name, tmp_path, cli):
    writer, expected, _ = SAMPLES[name]
    path = writer(tmp_path)
    status, out, err = cli("ingest", str(path), "--field", "mental_health")
    assert status == 0, err
    assert f"{expected} new, 0 unchanged, 0 rejected" in out
    status, out, _ = cli("ingest", str(path), "--field", "mental_health")
    assert status == 0
    assert f"0 new, {expected} unchanged" in out


def test_csv_keeps_ids_and_unknown_columns_as_metadata(tmp_path, connect, cli):
    from tests.samples import write_csv

    assert cli("ingest", str(write_csv(tmp_path)))[0] == 0
    conn = connect()
    rows = conn.execute(
        "SELECT external_id, field, kind, meta FROM excerpts ORDER BY id"
    ).fetchall()
    assert [r[0] for r in rows] == ["a1", "a2", "a3"]
    assert [r[1] for r in rows] == ["mental_health", "criminal_justice", "substance_use"]
    assert '"extra_note": "keep me"' in rows[0][3]
    evidence = {r[0] for r in conn.execute("SELECT evidence_type FROM sources")}
    assert evidence == {"review", "peer_reviewed", "policy"}


def test_pdf_location_is_the_page(tmp_path):
    from tests.samples import write_pdf

    result = read_file(write_pdf(tmp_path), ReadOptions(field="mental_health"))
    assert [e.location for e in result.excerpts] == ["p. 1", "p. 2", "p. 3"]


def test_docx_location_is_the_heading_path(tmp_path):
    from tests.samples import write_docx

    result = read_file(write_docx(tmp_path), ReadOptions(field="mental_health"))
    assert result.excerpts[0].location == "Recovery across fields > Mental health"
    assert result.excerpts[2].location == "Recovery across fields > Criminal justice"


def test_markdown_headings_become_locations_and_front_matter_the_source(tmp_path):
    from tests.samples import write_md, write_txt

    md = read_file(write_md(tmp_path), ReadOptions(field="mental_health"))
    assert md.excerpts[2].location == "Review > Resources"
    txt = read_file(write_txt(tmp_path), ReadOptions())
    assert txt.excerpts[0].source.title == "Notes on recovery"
    assert txt.excerpts[0].source.year == 2020
    assert txt.excerpts[0].field == "mental_health"


def test_bibtex_and_ris_map_metadata(tmp_path):
    from tests.samples import write_bibtex, write_ris

    bib = read_file(write_bibtex(tmp_path), ReadOptions(field="substance_use"))
    first = bib.excerpts[0]
    assert first.source.doi == "10.1000/test.0"
    assert first.source.authors == "Smith, Ann; Jones, Bob"
    assert first.external_id == "key0"
    ris = read_file(write_ris(tmp_path), ReadOptions(field="substance_use"))
    assert ris.excerpts[1].source.year == 2011
    assert ris.excerpts[1].source.venue == "Journal of Tests"


def test_long_text_is_split_at_sentences_and_recorded(tmp_path, connect, cli):
    long_text = "".join(
        f"Recovery unfolds over {i} years with setbacks and support from peers. " for i in range(40)
    )
    path = tmp_path / "long.csv"
    path.write_text(f'id,text\nlong1,"{long_text}"\n', encoding="utf-8")
    status, out, err = cli("ingest", str(path), "--field", "mental_health")
    assert status == 0, err
    rows = (
        connect()
        .execute("SELECT external_id, text, split_index, split_count FROM excerpts ORDER BY id")
        .fetchall()
    )
    assert len(rows) >= 4
    assert all(r[3] == len(rows) for r in rows)
    assert rows[0][0] == "long1#1"
    assert all(len(r[1].split()) <= 150 for r in rows)
    assert " ".join(r[1] for r in rows) == " ".join(long_text.split())
    assert "split to fit the model" in out


def test_sources_table_join(tmp_path, connect, cli):
    sources = tmp_path / "sources.csv"
    sources.write_text(
        "source_id,authors,year,title,venue,doi,url,evidence_type,citation\n"
        's1,"Anthony, W. A.",1993,Recovery from mental illness,Psychosocial Rehabilitation Journal,10.1037/h0095655,,peer_reviewed,Anthony (1993)\n',
        encoding="utf-8",
    )
    excerpts = tmp_path / "excerpts.csv"
    excerpts.write_text(
        f'id,source_id,field,kind,text\ne1,s1,mental_health,definition,"{TEXTS[0]}"\n',
        encoding="utf-8",
    )
    status, _, err = cli("ingest", str(excerpts), "--sources", str(sources))
    assert status == 0, err
    row = connect().execute("SELECT title, doi, evidence_type, citation FROM sources").fetchone()
    assert tuple(row) == (
        "Recovery from mental illness",
        "10.1037/h0095655",
        "peer_reviewed",
        "Anthony (1993)",
    )
