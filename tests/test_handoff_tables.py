"""Hand-offs (#25): the reference lists read back by rispy and bibtexparser, and the time lens on
constructed data with known answers and on the small store."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from pipelines import store
from tests.handoff_store import HOSTILE_TITLE, build_small
from tests.handoff_store import export_file as _export


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return build_small(tmp_path_factory)


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


def test_a_source_without_evidence_type_or_year_says_nothing_of_them(small, tmp_path):
    import rispy

    copy = tmp_path / "copy.sqlite"
    store.connect(small).execute(f"VACUUM INTO '{copy}'")
    conn = store.connect(copy)
    with store.transaction(conn):
        conn.execute(
            "UPDATE sources SET evidence_type = NULL, year = NULL WHERE title = ?",
            (HOSTILE_TITLE,),
        )
    entries = rispy.loads(_export(copy, "references", tmp_path / "r.ris").read_text("utf-8"))
    evil = next(e for e in entries if e["title"] == HOSTILE_TITLE)
    assert evil["type_of_reference"] == "GEN" and "year" not in evil
    assert not [k for k in evil["keywords"] if "evidence" in k or "nan" in k]
    project = _export(copy, "project", tmp_path / "p.qdpx")
    with zipfile.ZipFile(project) as archive:
        assert "Evidence: nan" not in archive.read("project.qde").decode("utf-8")
