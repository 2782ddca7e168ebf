"""Hand-offs (#25): the REFI-QDA project and codebook, read back by pyrefiqda (models generated
from the standard's schema) and by ElementTree, on a small store with hostile text and on the
bundled corpus (with the references and the time lens)."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from pipelines import store
from pipelines.analysis.results import themes_with_edits
from pipelines.cli import main
from pipelines.handoff.common import xml_text
from tests.handoff_store import HOSTILE_TEXTS, HOSTILE_TITLE, ROOT, build_small
from tests.handoff_store import export_file as _export

NS = {"q": "urn:QDA-XML:project:1.0"}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return build_small(tmp_path_factory)


def _selections(qdpx: Path) -> dict[str, tuple[str, list[str]]]:
    """Selection name -> (its text cut from its source's file, the names of its codes)."""
    with zipfile.ZipFile(qdpx) as archive:
        root = ET.fromstring(archive.read("project.qde"))
        codes = {c.get("guid"): c.get("name") for c in root.iterfind(".//q:Code", NS)}
        out = {}
        for source in root.iterfind(".//q:TextSource", NS):
            member = source.get("plainTextPath").removeprefix("internal://")
            text = archive.read(f"sources/{member}").decode("utf-8")
            for sel in source.iterfind("q:PlainTextSelection", NS):
                start, end = int(sel.get("startPosition")), int(sel.get("endPosition"))
                names = [codes[c.get("targetGUID")] for c in sel.iterfind("q:Coding/q:CodeRef", NS)]
                out[sel.get("name")] = (text[start:end], names)
    return out


def test_every_selection_is_its_excerpt_coded_with_its_themes_and_concepts(small, tmp_path):
    qdpx = _export(small, "project", tmp_path / "study.qdpx")
    conn = store.connect(small)
    frame = store.excerpts(conn)
    fine = {t.key: t.label for t in themes_with_edits(conn, level=2)[0]}
    broad = {t.key: t.label for t in themes_with_edits(conn, level=1)[0]}
    _, fine_of = themes_with_edits(conn, level=2)
    _, broad_of = themes_with_edits(conn, level=1)
    selections = _selections(qdpx)
    assert len(selections) == len(frame)
    for row in frame.itertuples():
        text, code_names = selections[row.external_id]
        assert text == xml_text(row.text)
        assert xml_text(fine[fine_of[str(row.excerpt_id)]]) in code_names
        assert xml_text(broad[broad_of[str(row.excerpt_id)]]) in code_names
    hostile = [selections[f"=evil{i}"][0] for i in range(len(HOSTILE_TEXTS))]
    assert hostile == HOSTILE_TEXTS  # kept verbatim: a QDA project runs no formulas
    assert "control" in selections[frame.iloc[0]["external_id"]][0]
    assert "\x01" not in selections[frame.iloc[0]["external_id"]][0]


def test_a_schema_driven_reader_loads_the_project(small, tmp_path):
    from pyrefiqda import RefiProject

    qdpx = _export(small, "project", tmp_path / "study.qdpx")
    project = RefiProject.load(qdpx, extract_dir=str(tmp_path / "extracted"))
    conn = store.connect(small)
    n_sources = conn.execute("SELECT COUNT(DISTINCT source_id) FROM excerpts").fetchone()[0]
    assert len(project.sources.text_source) == n_sources
    top = {c.name: c for c in project.code_book.codes.code}
    assert "Themes" in top and not top["Themes"].is_codable
    broad = top["Themes"].code
    assert broad and all(c.is_codable for c in broad)
    assert sum(len(b.code) for b in broad) == len(themes_with_edits(conn, level=2)[0])
    chime = next(c for c in top.values() if "CHIME" in c.name)
    assert chime.code and all(c.description for c in chime.code)
    names = {v.name for v in project.variables.variable}
    assert {"Field", "Evidence type", "Year"} <= names
    cases = {c.name for c in project.cases.case}
    assert "Field: Mental health" in cases and "Evidence: Grey literature" in cases
    notes = project.notes.note
    assert len(notes) == 1 and "]]>" in notes[0].plain_text_content
    evil = next(s for s in project.sources.text_source if "evil.example" in s.name)
    assert evil.name.endswith(HOSTILE_TITLE)


def test_guids_are_stable_across_exports_of_the_same_run(small, tmp_path):
    first = _export(small, "project", tmp_path / "a.qdpx")
    second = _export(small, "project", tmp_path / "b.qdpx")
    assert first.read_bytes() == second.read_bytes()
    guids = [
        e.get("guid") for e in ET.fromstring(zipfile.ZipFile(first).read("project.qde")).iter()
    ]
    guids = [g for g in guids if g]
    assert len(guids) > 100
    # Every GUID names one thing (the user is defined once and referred to elsewhere).
    assert len(set(guids)) == len(guids)


def test_a_failed_export_leaves_the_previous_file(small, tmp_path, monkeypatch):
    from pipelines import exports  # every export's atomic write lives there (#28)

    out = _export(small, "project", tmp_path / "study.qdpx")
    before = out.read_bytes()

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(exports.os, "replace", broken)
    assert main(["export", "project", "--db", str(small), "--out", str(out)]) == 1
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["study.qdpx"]  # no temporary file left


def test_xml_text_drops_what_xml_cannot_carry():
    assert xml_text("a\x00b\x08c\x0bd\x1fe\ufffef\ud800g") == "abcdefg"
    assert xml_text("keep\ttab\nline\r\nend\rx") == "keep\ttab\nline\nend\nx"
    assert xml_text("\U0001f600 <&>") == "\U0001f600 <&>"


@pytest.mark.slow
def test_the_bundled_corpus_hands_off_every_file(tmp_path):
    from pyrefiqda import RefiProject

    db = tmp_path / "store.sqlite"
    assert (
        main(
            [
                "ingest",
                "--db",
                str(db),
                str(ROOT / "corpus" / "excerpts.csv"),
                "--sources",
                str(ROOT / "corpus" / "sources.csv"),
            ]
        )
        == 0
    )
    assert main(["build", "--db", str(db), "--model", "hash-256"]) == 0
    qdpx = _export(db, "project", tmp_path / "study.qdpx")
    frame = store.excerpts(store.connect(db))
    selections = _selections(qdpx)
    assert len(selections) == len(frame)
    for row in frame.itertuples():
        assert selections[row.external_id][0] == row.text
        assert len(selections[row.external_id][1]) >= 2  # a fine and a broad theme at least
    project = RefiProject.load(qdpx, extract_dir=str(tmp_path / "extracted"))
    assert len(project.sources.text_source) == frame["source_id"].nunique()
    _the_other_hand_offs_read_back(db, tmp_path, frame["source_id"].nunique())


def _the_other_hand_offs_read_back(db: Path, tmp_path: Path, n_sources: int) -> None:
    """References, codebook and time lens of the same store, read back by their readers."""
    import bibtexparser
    import pandas as pd
    import rispy
    from bibtexparser.middlewares import LatexDecodingMiddleware
    from pyrefiqda import RefiCodebook

    ris = _export(db, "references", tmp_path / "refs.ris")
    assert len(rispy.loads(ris.read_text(encoding="utf-8"))) == n_sources
    bib = _export(db, "references", tmp_path / "refs.bib")
    library = bibtexparser.parse_string(
        bib.read_text(encoding="utf-8"), append_middleware=[LatexDecodingMiddleware()]
    )
    assert not library.failed_blocks and len(library.entries) == n_sources
    qdc = _export(db, "codebook", tmp_path / "codes.qdc")
    assert "Themes" in [c.name for c in RefiCodebook.load(qdc).codes.code]
    lens = pd.read_csv(_export(db, "timelens", tmp_path / "lens.csv"))
    sums = lens[lens["dimension"] == "theme"].groupby(["field", "period"])["share"].sum()
    assert sums.round(9).eq(1).all()


NVIVO_CODEBOOK = """<?xml version="1.0" encoding="utf-8"?>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="NVivo 14">
 <Codes>
  <Code guid="11111111-1111-4111-8111-111111111111" name="Social world" isCodable="false">
   <Description>Group: people around the person</Description>
   <Code guid="22222222-2222-4222-8222-222222222222" name="Family &amp; &lt;kin&gt;" isCodable="true">
    <Description>Support from parents, partners and children =HYPERLINK("x")</Description>
   </Code>
   <Code guid="33333333-3333-4333-8333-333333333333" name="Peers" isCodable="true">
    <Code guid="44444444-4444-4444-8444-444444444444" name="Mutual aid" isCodable="true">
     <Description>Groups of people in recovery who help one another</Description>
    </Code>
   </Code>
  </Code>
  <Code guid="55555555-5555-4555-8555-555555555555" name="Hope" isCodable="true">
   <Description>Believing that a better life is possible</Description>
  </Code>
 </Codes>
</CodeBook>
"""


def test_the_codebook_export_reads_back_as_a_tree_and_as_concepts(small, tmp_path):
    from pyrefiqda import RefiCodebook

    from pipelines.analysis.concepts import load_frameworks
    from pipelines.analysis.contract import load_result
    from pipelines.analysis.results import current_run_id

    qdc = _export(small, "codebook", tmp_path / "team.qdc")
    conn = store.connect(small)
    frameworks = load_result(conn, current_run_id(conn), "frameworks")
    top = {c.name: c for c in RefiCodebook.load(qdc).codes.code}
    assert len(top) == len(frameworks) + 1 and "Themes" in top
    for framework in frameworks:
        codes = top[framework.label].code
        assert [c.name for c in codes] == [c.label for c in framework.concepts]
    noted = [b for b in top["Themes"].code for t in [b, *b.code] if "Note:" in t.description]
    assert noted  # the theme's note travels in its description
    back = load_frameworks([qdc])[-1]
    assert back.id == "team"
    expected = [c for f in frameworks for c in f.concepts]
    for concept, read in zip(expected, back.concepts, strict=False):
        assert (read.label, read.description) == (
            concept.label,
            " ".join(concept.description.split()),
        )
    assert len(back.concepts) == len(expected) + len(themes_with_edits(conn, level=1)[0]) + len(
        themes_with_edits(conn, level=2)[0]
    )


def test_a_qdc_codebook_becomes_a_framework(tmp_path):
    from pipelines.handoff.codebook import load_qdc

    path = tmp_path / "Team codes.qdc"
    path.write_text(NVIVO_CODEBOOK, encoding="utf-8")
    framework = load_qdc(path)
    assert framework.id == "team_codes" and framework.kind == "codebook"
    concepts = {c.label: c for c in framework.concepts}
    assert list(concepts) == ["Family & <kin>", "Peers", "Mutual aid", "Hope"]  # no group
    assert concepts["Family & <kin>"].key == "team_codes/family_kin"
    assert concepts["Family & <kin>"].description.endswith('=HYPERLINK("x")')
    assert concepts["Peers"].description == "Social world: Peers"  # none of its own


def test_build_tags_with_a_qdc_codebook(small, tmp_path):
    copy = tmp_path / "copy.sqlite"
    store.connect(small).execute(f"VACUUM INTO '{copy}'")
    codebook = tmp_path / "team codes.qdc"
    codebook.write_text(NVIVO_CODEBOOK, encoding="utf-8")
    assert main(["build", "--db", str(copy), "--concepts", str(codebook), "--full"]) == 0
    from pipelines.analysis.contract import load_result
    from pipelines.analysis.results import current_run_id

    conn = store.connect(copy)
    frameworks = {f.id: f for f in load_result(conn, current_run_id(conn), "frameworks")}
    assert len(frameworks["team_codes"].concepts) == 4
    rows = csv.DictReader(_export(copy, "concepts", tmp_path / "c.csv").open(encoding="utf-8"))
    assert any(row["concept"].startswith("team_codes/") for row in rows)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("<CodeBook", "not well-formed XML"),
        ('<Project xmlns="urn:QDA-XML:project:1.0" name="p"/>', "not a REFI-QDA CodeBook"),
        (
            '<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>'
            '<Code guid="11111111-1111-4111-8111-111111111111" name="G" isCodable="false"/>'
            "</Codes></CodeBook>",
            "no code that can be coded",
        ),
        (
            '<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>'
            '<Code guid="11111111-1111-4111-8111-111111111111" name=" " isCodable="true"/>'
            "</Codes></CodeBook>",
            "has no name",
        ),
    ],
)
def test_a_malformed_qdc_is_a_clear_error_and_changes_nothing(
    small, tmp_path, capsys, content, fragment
):
    from tests.conftest import dump

    before = dump(small)
    bad = tmp_path / "bad.qdc"
    bad.write_text(content, encoding="utf-8")
    assert main(["build", "--db", str(small), "--concepts", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "E026" in err and "bad.qdc" in err and fragment in err, err
    assert dump(small) == before


def test_an_excerpt_without_an_id_or_kind_is_named_by_its_number(small, tmp_path):
    copy = tmp_path / "copy.sqlite"
    store.connect(small).execute(f"VACUUM INTO '{copy}'")
    conn = store.connect(copy)
    first = conn.execute("SELECT id FROM excerpts ORDER BY id LIMIT 1").fetchone()[0]
    with store.transaction(conn):
        conn.execute(
            "UPDATE excerpts SET external_id = NULL, kind = NULL, location = NULL WHERE id = ?",
            (first,),
        )
    qdpx = _export(copy, "project", tmp_path / "study.qdpx")
    root = ET.fromstring(zipfile.ZipFile(qdpx).read("project.qde"))
    selection = next(
        s
        for s in root.iterfind(".//q:PlainTextSelection", NS)
        if s.get("name") == f"excerpt {first}"
    )
    assert "nan" not in selection.findtext("q:Description", namespaces=NS).lower()
