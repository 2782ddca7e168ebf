"""Coverage calibrated on hand-coded excerpts (`build --coded`, #23): the coded file's formats and
errors, and a constructed corpus where one field writes a concept in its own words, which the
cues miss and the hand codes catch."""

from __future__ import annotations

import random

import pytest

from pipelines import store
from pipelines.analysis.coded import read_coded
from pipelines.analysis.concepts import load_frameworks
from pipelines.analysis.contract import load_result
from tests.conftest import dump

CODEBOOK = """\
framework:
  id: hw
  label: Hand-coding test codebook
  field: null
  kind: codebook
concepts:
  - id: hope
    label: Hope
    description: Hope and optimism about what lies ahead.
    cues: [hope, optimism, hopeful]
  - id: housing
    label: Housing
    description: A home, a flat, a tenancy.
    cues: [housing, tenancy, flat]
  - id: family
    label: Family
    description: Parents, children, partners and kin.
    cues: [family, parents, children]
  - id: rare
    label: A rare concept
    description: Lighthouses and their keepers.
    cues: [lighthouse keeper]
"""
FILLER = ["the", "people", "in", "the", "study", "described", "their", "days", "week", "by"]
# The same idea in each field's own words: mental health says hope, criminal justice says it
# as plans for the years ahead, which none of the concept's cues match.
HOPE = {
    "mental_health": "she felt hope and optimism and was hopeful",
    "criminal_justice": "he was making plans for the years ahead once released",
}
OTHER = {
    "housing": "they found housing with a secure tenancy in a flat",
    "family": "family parents and children visited",
}
PER_FIELD = 40


def _corpus(folder):
    """A corpus CSV, its truth (external id -> concept ids) and the codebook's path."""
    rng = random.Random(7)
    rows, truth = ["id,text,field"], {}
    for field, hope in HOPE.items():
        for n in range(PER_FIELD):
            has = set()
            parts = rng.sample(FILLER, 6)
            if n % 2 == 0:
                parts.append(hope)
                has.add("hope")
            for concept, words in OTHER.items():
                if rng.random() < 0.3:
                    parts.append(words)
                    has.add(concept)
            rng.shuffle(parts)
            ident = f"{field[:2]}-{n:02d}"
            rows.append(f'{ident},"{" ".join(parts)}",{field}')
            truth[ident] = has
    corpus = folder / "corpus.csv"
    corpus.write_text("\n".join(rows) + "\n", encoding="utf-8")
    codebook = folder / "codebook.yaml"
    codebook.write_text(CODEBOOK, encoding="utf-8")
    return corpus, truth, codebook


def _coded(folder, truth: dict[str, set[str]], *, name="coded.csv") -> tuple:
    """A coded CSV for half of each field's excerpts (half of them with hope), and the ids coded."""
    chosen = [ident for n, ident in enumerate(sorted(truth)) if n % 4 in (0, 3)]
    lines = ["id,codes"] + [f"{i},{';'.join(sorted(truth[i]))}" for i in chosen]
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, set(chosen)


@pytest.fixture
def ingested(tmp_path, cli):
    corpus, truth, codebook = _corpus(tmp_path)
    assert cli("ingest", str(corpus))[0] == 0
    return tmp_path, truth, codebook


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One store built twice on the constructed corpus: run 1 on the cues, run 2 with hand codes
    for half of each field's excerpts."""
    from pipelines.cli import main

    folder = tmp_path_factory.mktemp("coded")
    db = str(folder / "store.sqlite")
    corpus, truth, codebook = _corpus(folder)
    coded, chosen = _coded(folder, truth)
    assert main(["ingest", "--db", db, str(corpus)]) == 0
    assert main(["build", "--db", db, "--concepts", str(codebook)]) == 0
    assert main(["build", "--db", db, "--concepts", str(codebook), "--coded", str(coded)]) == 0
    return store.connect(db), truth, chosen, codebook, coded


def _frameworks(codebook):
    return load_frameworks([codebook])


def _by_external(conn, run_id: int, name: str):
    frame = store.excerpts(conn)
    value = store.run_result(conn, run_id, name)
    return {
        e: value[str(i)] for i, e in zip(frame["excerpt_id"], frame["external_id"], strict=True)
    }


# --- the file ------------------------------------------------------------------------------------


def _write(folder, suffix: str, rows: list[list[str]]):
    path = folder / f"codes{suffix}"
    if suffix == ".xlsx":
        import openpyxl

        book = openpyxl.Workbook()
        for row in rows:
            book.active.append(row)
        book.save(path)
    else:
        sep = "\t" if suffix == ".tsv" else ","
        path.write_text("\n".join(sep.join(r) for r in rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".xlsx"])
def test_the_coded_file_is_read_from_csv_tsv_and_xlsx_with_bare_and_prefixed_codes(
    suffix, ingested, connect
):
    folder, _truth, codebook = ingested
    conn = connect()
    frame = store.excerpts(conn)
    first = int(frame.loc[frame["external_id"] == "me-03", "excerpt_id"].iloc[0])
    path = _write(
        folder,
        suffix,
        [
            ["id", "codes", "coder"],
            ["me-00", "hope; hw/family", "A"],
            ["cr-01", " hw/housing | family ", "A"],
            ["cr-02", "", "B"],  # coded: none applies
            [str(first), "hope", "B"],  # the store's excerpt_id
        ],
    )
    coded = read_coded(path, frame, _frameworks(codebook), need=1)
    by_external = dict(zip(frame["excerpt_id"], frame["external_id"], strict=True))
    got = {by_external[i]: set(keys) for i, keys in coded.codes.items()}
    assert got == {
        "me-00": {"hw/hope", "hw/family"},
        "cr-01": {"hw/housing", "hw/family"},
        "cr-02": set(),
        "me-03": {"hw/hope"},
    }
    assert coded.frameworks == ("hw",)


BAD = {
    "missing file": (lambda f: f / "nowhere.csv", "E069", "nowhere.csv", "does not exist"),
    "not a table": (
        lambda f: _text(f, "codes.json", "{}"),
        "E069",
        "codes.json",
        "file type '.json'",
    ),
    "no codes column": (
        lambda f: _text(f, "nocodes.csv", "id,labels\nme-00,hope\n"),
        "E070",
        "nocodes.csv: header",
        "no 'codes' column",
    ),
    "unknown id": (
        lambda f: _text(f, "badid.csv", "id,codes\nme-00,hope\nzz-99,hope\n"),
        "E071",
        "badid.csv: row 3",
        "'zz-99'",
    ),
    "unknown code": (
        lambda f: _text(f, "badcode.csv", "id,codes\nme-00,hope;despair\n"),
        "E072",
        "badcode.csv: row 2",
        "'despair'",
    ),
    "unknown framework": (
        lambda f: _text(f, "badfw.csv", "id,codes\nme-00,nope/hope\n"),
        "E072",
        "badfw.csv: row 2",
        "no framework 'nope'",
    ),
    "duplicate id": (
        lambda f: _text(f, "dup.csv", "id,codes\nme-00,hope\nme-01,\nme-00,family\n"),
        "E073",
        "dup.csv: row 4",
        "also on row 2",
    ),
    "too few": (
        lambda f: _text(f, "few.csv", "id,codes\nme-00,hope\nme-01,\nme-02,hope\n"),
        "E074",
        "few.csv",
        "hw/hope, has 2 with it and 1 without",
    ),
}


def _text(folder, name: str, content: str):
    path = folder / name
    path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", BAD)
def test_a_bad_coded_file_is_exit_2_naming_file_and_row_and_writes_nothing(case, ingested, db, cli):
    folder, _truth, codebook = ingested
    make, code, where, problem = BAD[case]
    path = make(folder)
    before = dump(db)
    status, _out, err = cli("build", "--concepts", str(codebook), "--coded", str(path))
    assert status == 2
    assert f"[{code}]" in err and where in err and problem in err, err
    assert dump(db) == before  # nothing embedded, no run


# --- calibration ---------------------------------------------------------------------------------


def _share(tags: dict, ids, key: str) -> float:
    return sum(any(t["concept"] == key for t in tags[i]) for i in ids) / len(ids)


def test_calibration_finds_a_concept_written_in_one_fields_own_words(built):
    conn, truth, chosen, _codebook, _coded = built
    cues, calibrated = _by_external(conn, 1, "tags"), _by_external(conn, 2, "tags")
    uncoded = [i for i in truth if i not in chosen and i.startswith("cr")]
    hand = sum("hope" in truth[i] for i in uncoded) / len(uncoded)
    before = abs(_share(cues, uncoded, "hw/hope") - hand)
    after = abs(_share(calibrated, uncoded, "hw/hope") - hand)
    assert before > 0.3  # the cues miss criminal justice's wording
    assert after < 0.15 and after < before / 2
    counts = store.run_result(conn, 2, "coverage_counts")["hw/hope"]["criminal_justice"]
    cj = [i for i in truth if i.startswith("cr")]
    assert abs(counts / len(cj) - sum("hope" in truth[i] for i in cj) / len(cj)) < 0.15


def test_coded_excerpts_carry_exactly_their_hand_codes(built):
    conn, truth, chosen, _codebook, coded = built
    tags = _by_external(conn, 2, "tags")
    for ident in chosen:
        mine = [t for t in tags[ident] if t["concept"].startswith("hw/")]
        assert {t["concept"] for t in mine} == {f"hw/{c}" for c in truth[ident]}
        assert all(t["evidence"] == f"hand-coded in {coded}" for t in mine)


def test_a_concept_with_too_few_coded_examples_keeps_its_cue_tags(built):
    conn, _truth, chosen, _codebook, _coded = built
    report = load_result(conn, 2, "calibration")
    by_key = {c.concept: c for c in report.concepts}
    assert report.coded == len(chosen)
    assert by_key["hw/rare"].calibrated is False and by_key["hw/rare"].positives == 0
    assert by_key["hw/hope"].calibrated and 0 < by_key["hw/hope"].bar < 1
    assert report.calibrated == 3
    cues, calibrated = _by_external(conn, 1, "tags"), _by_external(conn, 2, "tags")
    for ident in cues:
        if ident not in chosen:
            before = [t for t in cues[ident] if t["concept"] == "hw/rare"]
            after = [t for t in calibrated[ident] if t["concept"] == "hw/rare"]
            assert len(after) <= len(before)  # a calibrated concept may take its place


def test_at_most_three_codebook_tags_on_an_excerpt_not_coded(built):
    conn, truth, chosen, _codebook, _coded = built
    tags = _by_external(conn, 2, "tags")
    counts = [
        sum(t["concept"].startswith("hw/") for t in tags[i]) for i in truth if i not in chosen
    ]
    assert max(counts) <= 3 and sum(counts) > 0


def test_only_a_build_with_hand_codes_stores_a_calibration(built):
    import json

    conn = built[0]
    params = dict(conn.execute("SELECT id, params FROM runs").fetchall())
    assert load_result(conn, 1, "calibration") is None
    assert "coded" not in json.loads(params[1]) and "coded" in json.loads(params[2])
    assert "concepts calibrated on hand codes" in store.latest_run(conn)["summary"]


def test_calibrated_runs_are_identical_from_the_same_input(built, tmp_path):
    from pipelines.analysis.run import run_analysis
    from pipelines.embed.embedders import get_embedder

    conn, _truth, _chosen, codebook, coded_path = built
    frameworks = _frameworks(codebook)
    coded = read_coded(coded_path, store.excerpts(conn), frameworks)
    again = run_analysis(
        conn, embedder=get_embedder(None), frameworks=frameworks, coded=coded, force=True
    )
    for name in ("tags", "coverage_counts", "calibration"):
        assert store.run_result(conn, again.run_id, name) == store.run_result(conn, 2, name)


@pytest.mark.parametrize("module", ["compare_page", "concepts_page"])
def test_the_app_says_coverage_was_calibrated_only_when_it_was(module, built, monkeypatch):
    from streamlit.testing.v1 import AppTest

    conn = built[0]
    path = conn.execute("PRAGMA database_list").fetchone()[2]
    monkeypatch.setenv("CROSSWALK_DB", path)
    app = AppTest.from_string(
        f"from crosswalk_ui import {module}\n{module}.render()\n", default_timeout=60
    ).run()
    assert not app.exception
    captions = [c.value for c in app.caption]
    note = "Coverage calibrated on 40 hand-coded excerpts (3 concepts calibrated; the rest use the cues alone)."
    assert note in captions
    from crosswalk_ui.views import calibration_note

    assert calibration_note(store.run_result(conn, 1, "calibration")) is None


def test_a_rebuild_from_the_app_keeps_the_codebook_and_the_hand_codes(built, tmp_path, monkeypatch):
    """The Corpus page's rebuild used to build with the bundled frameworks alone: the user's
    codebook and the calibration on their hand codes were gone without a word."""
    from streamlit.testing.v1 import AppTest

    from pipelines.analysis.build import current_inputs

    copy = tmp_path / "store.sqlite"
    built[0].execute(f"VACUUM INTO '{copy}'")
    conn = store.connect(copy)
    codebooks, coded = current_inputs(conn)
    assert [f.id for f in codebooks] == ["hw"] and coded == built[4]
    before = store.latest_run(conn)["id"]
    monkeypatch.setenv("CROSSWALK_DB", str(copy))
    # What the page's "Rebuild the analysis" button runs (it shows after files are added).
    app = AppTest.from_string(
        "from crosswalk_ui import excerpts_page\nexcerpts_page._rebuild()\n", default_timeout=120
    ).run()
    assert not app.exception
    run = store.latest_run(store.connect(copy))
    assert run["id"] > before
    assert load_result(conn, run["id"], "calibration").coded == 40
    assert "hw" in {f.id for f in load_result(conn, run["id"], "frameworks")}
