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


# --- BibTeX as reference managers write it (#27) ---------------------------------------------------

BIB = r"""
@string{jnl = "Journal of Recovery"}
@String{ series = jnl # " Studies"}
@article{leamy2011,
  author = {Leamy, Mary and Bird, Victoria and M\"uller, Hans and {Barnes and Noble}},
  title = {Personal recovery: a {S}ystematic review and \emph{narrative} synthesis},
  journal = jnl # " Review",
  year = 2011,
  url = {https://doi.org/10.1192/bjp.bp.110.083733?via%3Dihub},
  abstract = {Connectedness, hope, identity, meaning and empowerment \& more, at 50\%.},
}
@inproceedings{best2016,
  author = {Best, David},
  title = {Recovery capital in the {UK}},
  crossref = {proc2016},
  abstract = "Recovery capital grows with {\'e}tudes of social networks.",
}
@proceedings{proc2016,
  title = {Proceedings of the Recovery Conference},
  year = {2016},
  publisher = {Springer},
}
@article{series1, title = {In a series}, journal = series, year = {2019}, note = {A note.}}
"""


def _bib_sources(connect) -> dict[str, tuple]:
    rows = connect().execute(
        "SELECT e.external_id, s.title, s.authors, s.year, s.venue, e.location, e.text "
        "FROM excerpts e JOIN sources s ON s.id = e.source_id ORDER BY e.id"
    )
    return {row[0]: tuple(row[1:]) for row in rows}


def test_bibtex_macros_concatenation_crossref_and_latex(tmp_path, cli, connect):
    path = tmp_path / "refs.bib"
    path.write_text(BIB, encoding="utf-8")
    status, out, err = cli("ingest", str(path), "--field", "mental_health")
    assert status == 0, err
    assert "3 new, 0 unchanged, 1 rejected" in out
    assert "rejected entry proc2016: no abstract or notes" in out
    stored = _bib_sources(connect)
    assert stored["leamy2011"] == (
        "Personal recovery: a Systematic review and narrative synthesis",
        "Leamy, Mary; Bird, Victoria; Müller, Hans; Barnes and Noble",
        2011,
        "Journal of Recovery Review",
        "abstract",
        "Connectedness, hope, identity, meaning and empowerment & more, at 50%.",
    )
    # crossref: the year comes from the proceedings, the venue from its title
    assert stored["best2016"] == (
        "Recovery capital in the UK",
        "Best, David",
        2016,
        "Proceedings of the Recovery Conference",
        "abstract",
        "Recovery capital grows with études of social networks.",
    )
    assert stored["series1"][3:] == ("Journal of Recovery Studies", "note", "A note.")
    url = connect().execute("SELECT url FROM sources WHERE year = 2011").fetchone()[0]
    assert url == "https://doi.org/10.1192/bjp.bp.110.083733?via%3Dihub"


def test_bibtex_text_is_what_bibtexparser_decodes(tmp_path, cli, connect):
    """Where no macro or crossref is involved, titles and abstracts are bibtexparser's own
    LaTeX decoding of the field, word for word."""
    import bibtexparser
    from bibtexparser.middlewares import LatexDecodingMiddleware

    library = bibtexparser.parse_string(BIB, append_middleware=[LatexDecodingMiddleware()])
    path = tmp_path / "refs.bib"
    path.write_text(BIB, encoding="utf-8")
    assert cli("ingest", str(path), "--field", "mental_health")[0] == 0
    stored = _bib_sources(connect)
    for key in ("leamy2011", "best2016"):
        entry = library.entries_dict[key]
        assert stored[key][0] == " ".join(entry["title"].split())
        assert stored[key][5] == " ".join(entry["abstract"].split())


def test_bibtex_in_latin1_needs_encoding_and_is_then_decoded(tmp_path, cli, connect):
    content = "@article{k1, author = {Müller, Hans}, title = {Nach der \\emph{Haft}},\n"
    content += " abstract = {Straße für Straße ein neues Leben.}}\n"
    path = tmp_path / "latin1.bib"
    path.write_bytes(content.encode("latin-1"))
    status, _, err = cli("ingest", str(path), "--field", "criminal_justice")
    assert status == 2 and "not valid UTF-8" in err and "--encoding" in err
    status, _, err = cli(
        "ingest", str(path), "--field", "criminal_justice", "--encoding", "latin-1"
    )
    assert status == 0, err
    row = connect().execute("SELECT s.authors, s.title, e.text FROM excerpts e JOIN sources s")
    assert tuple(row.fetchone()) == (
        "Müller, Hans",
        "Nach der Haft",
        "Straße für Straße ein neues Leben.",
    )


def test_bibtex_entries_without_text_get_the_no_text_message(tmp_path, cli):
    path = tmp_path / "titles.bib"
    path.write_text("@book{a, title = {A}}\n@book{b, title = {B}, year = 2001}\n", encoding="utf-8")
    status, _, err = cli("ingest", str(path), "--field", "mental_health")
    assert status == 2
    assert "no text was found in the file: none of its 2 entries has an abstract" in err
