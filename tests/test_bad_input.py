"""Every kind of bad input: exit 2, one message naming the file (and row) and the problem, store unchanged."""

from __future__ import annotations

import zipfile

import pytest

from tests.conftest import dump
from tests.samples import TEXTS, write_csv


def _csv(tmp_path, name, content: bytes | str):
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def _encrypted_pdf(tmp_path):
    from pypdf import PdfReader, PdfWriter

    from tests.samples import write_pdf

    plain = write_pdf(tmp_path)
    writer = PdfWriter()
    for page in PdfReader(plain).pages:
        writer.add_page(page)
    writer.encrypt("secret")
    path = tmp_path / "locked.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def _image_only_pdf(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 50, 50, style="F")
    path = tmp_path / "scan.pdf"
    pdf.output(str(path))
    return path


def _truncated_zip(tmp_path, name):
    from tests.samples import write_docx, write_xlsx

    source = write_xlsx(tmp_path) if name.endswith("xlsx") else write_docx(tmp_path)
    data = source.read_bytes()
    path = tmp_path / ("cut_" + name)
    path.write_bytes(data[: len(data) // 2])
    return path


def _zip_bomb(tmp_path):
    from pipelines.ingest.readers import MAX_UNZIPPED_BYTES

    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"0" * (MAX_UNZIPPED_BYTES + 1024))
    return path


CASES = {
    "empty file": (lambda t: _csv(t, "empty.csv", b""), ["empty.csv", "the file is empty"]),
    "header only": (
        lambda t: _csv(t, "header.csv", "id,text,field\n"),
        ["header.csv", "header but no rows"],
    ),
    "no text column": (
        lambda t: _csv(t, "notext.csv", "id,body,field\n1,hello,mental_health\n"),
        ["notext.csv", "no 'text' column", "body, field, id"],
    ),
    "latin-1 bytes": (
        lambda t: _csv(
            t, "latin.csv", "id,text,field\n1,caf\xe9 recovery,mental_health\n".encode("latin-1")
        ),
        ["latin.csv", "line 2", "not valid UTF-8", "--encoding"],
    ),
    "binary renamed csv": (
        lambda t: _csv(t, "binary.csv", bytes(range(256)) * 8),
        ["binary.csv", "binary data"],
    ),
    "truncated xlsx": (lambda t: _truncated_zip(t, "sample.xlsx"), ["cut_sample.xlsx", "XLSX"]),
    "not a zip xlsx": (
        lambda t: _csv(t, "fake.xlsx", "id,text\n1,hello\n"),
        ["fake.xlsx", "not a zip"],
    ),
    "truncated docx": (lambda t: _truncated_zip(t, "sample.docx"), ["cut_sample.docx", "DOCX"]),
    "zip bomb docx": (_zip_bomb, ["bomb.docx", "zip bomb"]),
    "pdf without text": (_image_only_pdf, ["scan.pdf", "no text layer"]),
    "encrypted pdf": (_encrypted_pdf, ["locked.pdf", "encrypted"]),
    "malformed bibtex": (
        lambda t: _csv(t, "bad.bib", "@article{k1,\n title = {Unclosed,\n year = 2001\n"),
        ["bad.bib", "malformed BibTeX"],
    ),
    "malformed ris": (
        lambda t: _csv(t, "bad.ris", "TY  - JOUR\nTI  - No end\n"),
        ["bad.ris", "malformed RIS", "ER"],
    ),
    "year not a year": (
        lambda t: _csv(
            t,
            "year.csv",
            f'id,text,field,year\n1,"{TEXTS[0]}",mental_health,2011\n2,"{TEXTS[1]}",mental_health,soon\n',
        ),
        ["year.csv", "row 3", "'soon' is not a year"],
    ),
    "unknown evidence type": (
        lambda t: _csv(
            t, "ev.csv", f'id,text,field,evidence_type\n1,"{TEXTS[0]}",mental_health,blog\n'
        ),
        ["ev.csv", "row 2", "unknown evidence type 'blog'"],
    ),
    "unknown kind": (
        lambda t: _csv(
            t, "kind.csv", f'id,text,field,kind\n1,"{TEXTS[0]}",mental_health,opinion\n'
        ),
        ["kind.csv", "row 2", "unknown kind 'opinion'"],
    ),
    "no field": (
        lambda t: _csv(t, "nofield.csv", f'id,text\n1,"{TEXTS[0]}"\n'),
        ["nofield.csv", "row 2", "no field given"],
    ),
    "duplicate ids": (
        lambda t: _csv(
            t,
            "dup.csv",
            f'id,text,field\n1,"{TEXTS[0]}",mental_health\n1,"{TEXTS[1]}",mental_health\n',
        ),
        ["dup.csv", "row 3", "duplicate id '1'", "row 2"],
    ),
    "malformed jsonl": (
        lambda t: _csv(t, "bad.jsonl", '{"text": "ok", "field": "x"}\n{"text": \n'),
        ["bad.jsonl", "line 2", "malformed JSON"],
    ),
    "unsupported type": (
        lambda t: _csv(t, "notes.odt", "hello"),
        ["notes.odt", "unsupported file type"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exit_2_message_and_store_unchanged(case, tmp_path, db, cli):
    good = write_csv(tmp_path)
    assert cli("ingest", str(good))[0] == 0
    before = dump(db)
    make, expected = CASES[case]
    path = make(tmp_path)
    status, out, err = cli("ingest", str(path))
    assert status == 2, (out, err)
    assert err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1
    for fragment in expected:
        assert fragment in err, (fragment, err)
    assert dump(db) == before


def test_unknown_field_when_fields_are_closed(tmp_path, db, cli):
    assert cli("fields", "close")[0] == 0
    before = dump(db)
    path = _csv(tmp_path, "f.csv", f'id,text,field\n1,"{TEXTS[0]}",astrology\n')
    status, _, err = cli("ingest", str(path))
    assert status == 2
    assert "f.csv: row 2: unknown field 'astrology'" in err
    assert dump(db) == before


def test_unknown_field_is_added_when_fields_are_open(tmp_path, connect, cli):
    path = _csv(tmp_path, "f.csv", f'id,text,field\n1,"{TEXTS[0]}",youth_justice\n')
    assert cli("ingest", str(path))[0] == 0
    colours = [r[0] for r in connect().execute("SELECT colour FROM fields")]
    assert len(set(colours)) == len(colours) == 5


def test_one_bad_file_among_several_writes_nothing(tmp_path, db, cli):
    good = write_csv(tmp_path)
    bad = _csv(tmp_path, "bad.csv", "id,body\n1,x\n")
    assert cli("stats")[0] == 0
    before = dump(db)
    status, _, err = cli("ingest", str(good), str(bad))
    assert status == 2 and "bad.csv" in err
    assert dump(db) == before


def test_usage_error_is_exit_2(cli):
    status, _, err = cli("export")
    assert status == 2
    assert "required" in err


def test_rows_with_empty_text_are_rejected_and_reported(tmp_path, cli):
    path = _csv(
        tmp_path, "gaps.csv", f'id,text,field\n1,"{TEXTS[0]}",mental_health\n2,"  ",mental_health\n'
    )
    status, out, _ = cli("ingest", str(path))
    assert status == 0
    assert "1 new, 0 unchanged, 1 rejected" in out
    assert "rejected row 3: empty text" in out


def test_utf8_bom_and_utf16_are_read(tmp_path, connect, cli):
    content = f'id,text,field\n1,"Café {TEXTS[0]}",mental_health\n'
    bom = _csv(tmp_path, "bom.csv", b"\xef\xbb\xbf" + content.encode("utf-8"))
    utf16 = _csv(
        tmp_path, "u16.csv", content.replace("1,", "2,").replace("Café", "Naïve").encode("utf-16")
    )
    assert cli("ingest", str(bom), str(utf16))[0] == 0
    texts = [r[0] for r in connect().execute("SELECT text FROM excerpts ORDER BY id")]
    assert texts[0].startswith("Café") and texts[1].startswith("Naïve")


def test_latin1_with_encoding_option(tmp_path, connect, cli):
    path = _csv(
        tmp_path,
        "latin.csv",
        "id,text,field\n1,caf\xe9 and recovery over time,mental_health\n".encode("latin-1"),
    )
    assert cli("ingest", str(path), "--encoding", "latin-1")[0] == 0
    assert (
        connect().execute("SELECT text FROM excerpts").fetchone()[0]
        == "café and recovery over time"
    )


@pytest.mark.parametrize("separator", ["\x1e", "\x0b", "\u2028"])
def test_a_quoted_value_with_a_line_separator_keeps_the_message_on_one_line(
    separator, tmp_path, db, cli
):
    """Found by the full-strength fuzz test: a field value holding a record separator broke the one
    error line in two (`str.splitlines` breaks at it); quoted values are escaped."""
    assert cli("fields", "list")[0] == 0
    before = dump(db)
    path = tmp_path / "f.tsv"
    path.write_text(f"id\ttext\tfield\n1\t{TEXTS[0]}\tmental{separator}health\n", encoding="utf-8")
    status, _, err = cli("ingest", str(path))
    assert status == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "f.tsv: row 2: field slug 'mental" in err and "[E020]" in err
    assert dump(db) == before
