"""Workshop packs: selection quality, card fronts that do not give the field away, and every format
opened with the library that reads it."""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from conftest import dump
from docx import Document
from pptx import Presentation
from pypdf import PdfReader

from pipelines import store
from pipelines.analysis.results import effective_themes
from pipelines.analysis.run import run_analysis
from pipelines.embed.embedders import HashEmbedder, embed_missing
from pipelines.ingest.files import ingest_bundled_corpus
from pipelines.workshop.formats import render
from pipelines.workshop.masking import card_front
from pipelines.workshop.pack import PackRequest, build_pack_from_store, remove_item, swap_item

ROOT = Path(__file__).resolve().parent.parent
THREE = ("mental_health", "substance_use", "criminal_justice")
LABELS = ["Mental health", "Substance use", "Criminal justice", "Homelessness"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("workshop") / "store.sqlite"
    conn = store.connect(path)
    ingest_bundled_corpus(conn)
    embedder = HashEmbedder()
    embed_missing(conn, embedder)
    run_analysis(conn, embedder=embedder, frameworks=None, seed=3)
    return path, conn


def pack_for(conn, **options):
    request = PackRequest(**{"focus": "chime/hope", "fields": THREE, "items": 24, **options})
    return build_pack_from_store(conn, request, model="hash-256")


def giveaways(item) -> list[str]:
    """Strings that would tell a player the card's field or source."""
    surnames = [a.split(",")[0].strip() for a in (item_authors(item) or "").split(";") if a.strip()]
    return [*LABELS, *THREE, item.short_citation, *[s for s in surnames if len(s) > 2]]


AUTHORS: dict[int, str] = {}


def item_authors(item) -> str:
    return AUTHORS.get(item.excerpt_id, "")


@pytest.fixture(scope="module", autouse=True)
def authors(built):
    _, conn = built
    frame = store.excerpts(conn)
    AUTHORS.update(zip(frame["excerpt_id"], frame["authors"].fillna(""), strict=True))


def test_pack_is_balanced_relevant_and_not_repetitive(built):
    _, conn = built
    pack = pack_for(conn)
    counts = {f: sum(i.field == f for i in pack.items) for f in THREE}
    assert counts == {f: 8 for f in THREE} or pack.warnings
    frame = store.excerpts(conn)
    vectors = store.load_embeddings(conn, "hash-256", frame["text_hash"].tolist())
    position = {e: n for n, e in enumerate(frame["excerpt_id"])}
    chosen = vectors[[position[i.excerpt_id] for i in pack.items]]
    similarity = chosen @ chosen.T
    np.fill_diagonal(similarity, 0)
    assert similarity.max() < 0.9
    assert len({i.excerpt_id for i in pack.items}) == len(pack.items)
    assert [i.number for i in pack.items] == list(range(1, len(pack.items) + 1))


def test_same_seed_same_pack_and_another_seed_still_valid(built):
    _, conn = built
    first, again = pack_for(conn, seed=7), pack_for(conn, seed=7)
    assert render(first, "md") == render(again, "md")
    assert render(first, "csv") == render(again, "csv")
    other = pack_for(conn, seed=8)
    assert len(other.items) == len(first.items)


def test_card_fronts_never_show_field_or_source(built):
    _, conn = built
    for focus in ("chime/hope", "what recovery means to people", "desistance_phases/tertiary"):
        pack = pack_for(
            conn, focus=focus, fields=("mental_health", "criminal_justice", "homelessness")
        )
        for item in pack.items:
            for secret in giveaways(item):
                assert not re.search(rf"\b{re.escape(secret)}\b", item.front, re.IGNORECASE), (
                    secret,
                    item.front,
                )


def test_card_front_masks_giveaway_wording_unless_kept():
    text = "Offenders leaving prison and patients in psychiatric wards, as Maruna (2001) says."
    front, masked = card_front(text, field_labels=LABELS, authors="Maruna, S.", keep_wording=False)
    assert front == "People leaving […] and people in […] wards, as [author] (2001) says."
    assert {"Offenders", "prison", "patients", "psychiatric", "Maruna"} <= set(masked)
    kept, _ = card_front(text, field_labels=LABELS, authors="Maruna, S.", keep_wording=True)
    assert kept.startswith("Offenders leaving prison") and "[author]" in kept


def test_lived_experience_share_is_met_or_explained(built):
    _, conn = built
    pack = pack_for(conn, lived_experience=True)
    lived = sum(i.lived_experience for i in pack.items)
    if lived < math.ceil(len(pack.items) / 3):
        assert any("lived-experience" in w for w in pack.warnings)
    else:
        assert lived >= math.ceil(24 / 3)


def test_request_the_corpus_cannot_meet_is_stated_not_padded(built):
    _, conn = built
    themes, assignments = effective_themes(conn)
    frame = store.excerpts(conn)
    field_of = dict(zip(frame["excerpt_id"].astype(str), frame["field"], strict=True))

    def members(key, field):
        return sum(1 for e, k in assignments.items() if k == key and field_of[e] == field)

    theme = min(themes, key=lambda t: members(t["theme_key"], "homelessness"))
    have = members(theme["theme_key"], "homelessness")
    assert have < 20
    pack = pack_for(
        conn,
        focus=f"theme:{theme['theme_key']}",
        fields=("homelessness", "substance_use"),
        items=40,
    )
    assert sum(i.field == "homelessness" for i in pack.items) == have
    assert any(f"only {have} excerpt(s) from Homelessness" in w for w in pack.warnings)
    assert all(assignments[str(i.excerpt_id)] == theme["theme_key"] for i in pack.items), (
        "an off-topic excerpt was used as padding"
    )
    assert "only" in render(pack, "md").decode() and "only" in _docx_text(render(pack, "docx"))


def test_remove_and_swap_keep_the_pack_consistent(built):
    _, conn = built
    pack = pack_for(conn)
    smaller = remove_item(pack, 3)
    assert len(smaller.items) == len(pack.items) - 1
    assert [i.number for i in smaller.items] == list(range(1, len(smaller.items) + 1))
    target = pack.items[0]
    swapped = swap_item(pack, target.number)
    new = swapped.items[0]
    if pack.reserves[target.field]:
        assert new.excerpt_id != target.excerpt_id and new.field == target.field
        assert len({i.excerpt_id for i in swapped.items}) == len(swapped.items)


# --- the formats, each opened by the library that reads it ---------------------------------------


def _docx_text(data: bytes) -> str:
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        parts += [cell.text for row in table.rows for cell in row.cells]
    return "\n".join(parts)


def test_docx_handout_and_guide(built):
    _, conn = built
    pack = pack_for(conn)
    doc = Document(io.BytesIO(render(pack, "docx")))
    text = _docx_text(render(pack, "docx"))
    definitions, answer_key = doc.tables[0], doc.tables[1]
    assert [c.text for c in definitions.rows[0].cells] == LABELS[:3]
    assert len(answer_key.rows) == len(pack.items) + 1
    for row, item in zip(answer_key.rows[1:], pack.items, strict=True):
        assert row.cells[1].text == item.field_label
        assert item.short_citation in row.cells[2].text
    for citation in pack.bibliography():
        assert citation in text
    assert {i.citation for i in pack.items} <= set(pack.bibliography())
    assert "Facilitator guide" in text and "Limits of the method" in text
    for prompt in pack.prompts:
        assert prompt.question in text and prompt.statement in text


def test_pptx_has_a_slide_per_definition_pair_and_prompt(built):
    _, conn = built
    pack = pack_for(conn)
    deck = Presentation(io.BytesIO(render(pack, "pptx")))
    titles = [
        next(s.text_frame.text for s in slide.shapes if s.has_text_frame) for slide in deck.slides
    ]
    definitions = pack.definitions()
    pairs = [
        (a, b)
        for n, a in enumerate(THREE)
        for b in THREE[n + 1 :]
        if definitions[a] and definitions[b]
    ]
    assert sum(t.startswith("Definitions:") for t in titles) == len(pairs)
    assert sum(t.startswith("Discussion") for t in titles) == len(pack.prompts)
    assert sum(t.startswith("References") for t in titles) == math.ceil(
        len(pack.bibliography()) / 8
    )


def test_pdf_cards_fronts_are_clean_and_backs_answer(built):
    _, conn = built
    pack = pack_for(conn)
    reader = PdfReader(io.BytesIO(render(pack, "pdf")))
    sheets = math.ceil(len(pack.items) / 6)
    assert len(reader.pages) == 2 * sheets
    fronts = " ".join(reader.pages[i].extract_text() for i in range(0, 2 * sheets, 2))
    backs = " ".join(reader.pages[i].extract_text() for i in range(1, 2 * sheets, 2))
    assert len(re.findall(r"card \d+", fronts)) == len(pack.items)
    flat = re.sub(r"\s+", " ", fronts)
    for item in pack.items:
        for secret in [*LABELS, item.short_citation]:
            assert secret not in flat
    flat_backs = re.sub(r"\s+", " ", backs)
    for item in pack.items:
        assert item.field_label in flat_backs
        assert re.sub(r"\s+", " ", item.short_citation) in flat_backs


class _Cards(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fronts, self.tags, self._in_front = [], [], False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "div" and ("class", "card front") in attrs:
            self._in_front = True
            self.fronts.append("")

    def handle_endtag(self, tag):
        if tag == "div":
            self._in_front = False

    def handle_data(self, data):
        if self._in_front:
            self.fronts[-1] += data


def test_html_cards_and_csv_items(built):
    _, conn = built
    pack = pack_for(conn)
    parser = _Cards()
    parser.feed(render(pack, "html").decode())
    assert len(parser.fronts) == len(pack.items)
    for front, item in zip(parser.fronts, pack.items, strict=True):
        assert item.front in front
        assert item.field_label not in front and item.short_citation not in front
    rows = list(csv.DictReader(io.StringIO(render(pack, "csv").decode())))
    assert [r["excerpt_id"] for r in rows] == [str(i.excerpt_id) for i in pack.items]
    assert all(r["citation"] for r in rows)


# --- hostile text and the command line ------------------------------------------------------------

HOSTILE = [
    "<script>alert('x')</script> Recovery means hope and a home of one's own.",
    '=HYPERLINK("http://evil.example","click") recovery is a journey of hope',
    "<img src=x onerror=alert(1)> hope in recovery, **bold** [link](http://evil.example)",
    "+SUM(A1:A9) hope for recovery grows with peer support \x00 and a NUL byte",
    "@cmd hope and recovery in the community # heading | pipe",
    "-2+3 hope after prison, recovery through work",
]


@pytest.fixture(scope="module")
def hostile(built):
    """A real pack whose first items carry hostile excerpt text and hostile metadata."""
    _, conn = built
    pack = pack_for(conn)
    for n, text in enumerate(HOSTILE):
        pack.items[n] = replace(
            pack.items[n],
            text=text,
            front=text,
            citation=HOSTILE[(n + 1) % len(HOSTILE)],
            short_citation=f"=cmd|' /C calc'!A{n}",
            concepts=["<b>bold</b>", "=1+1"],
        )
    return pack


def test_hostile_text_is_inert_in_every_format(hostile):
    page = render(hostile, "html").decode()
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "default-src 'none'" in page  # the page may load and run nothing
    markdown = render(hostile, "md").decode()
    cards = markdown.split("## 2. Card sort")[1].split("## 3.")[0]
    assert not re.search(r"(?<!\\)[<>*\[\]_`]", cards)
    assert "\\<img" in cards and "\\*\\*bold\\*\\*" in cards
    for row in csv.DictReader(io.StringIO(render(hostile, "csv").decode())):
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), value
    text = _docx_text(render(hostile, "docx"))
    assert "<script>alert('x')</script>" in text  # shown as the text it is, not run
    assert "\x00" not in text and "and a NUL byte" in text
    deck = Presentation(io.BytesIO(render(hostile, "pptx")))
    slides = " ".join(
        shape.text_frame.text
        for slide in deck.slides
        for shape in slide.shapes
        if shape.has_text_frame
    )
    assert "<script>alert('x')</script>" in slides  # the hostile citation, as text
    reader = PdfReader(io.BytesIO(render(hostile, "pdf")))
    assert "alert" in " ".join(p.extract_text() for p in reader.pages)


def test_cli_writes_each_format(cli, db, tmp_path):
    ingest = ["ingest", str(Path("corpus/excerpts.csv")), "--sources", "corpus/sources.csv"]
    assert cli(*ingest)[0] == 0
    assert cli("build")[0] == 0
    for fmt in ("docx", "pptx", "pdf", "html", "md", "csv"):
        out = tmp_path / f"pack.{fmt}"
        status, stdout, _ = cli(
            "workshop",
            "--focus",
            "chime/hope",
            "--fields",
            ",".join(THREE),
            "--items",
            "12",
            "--out",
            str(out),
        )
        assert status == 0, stdout
        assert out.stat().st_size > 0 and "12-item pack" in stdout


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--focus", "chime/nothing", "--fields", "mental_health,substance_use"], "E040"),
        (["--focus", "theme:T999", "--fields", "mental_health,substance_use"], "E040"),
        (["--focus", "hope", "--fields", "mental_health"], "E041"),
        (["--focus", "hope", "--fields", "mental_health,mental_health"], "E041"),
        (["--focus", "hope", "--fields", "mental_health,astrology"], "E025"),
        (["--focus", "hope", "--fields", "mental_health,substance_use", "--items", "41"], "E041"),
        (["--focus", "hope", "--fields", "mental_health,substance_use", "--format", "odt"], "E042"),
    ],
)
def test_cli_bad_requests_exit_2_and_change_nothing(cli, db, tmp_path, args, expected):
    assert cli("ingest", "corpus/excerpts.csv", "--sources", "corpus/sources.csv")[0] == 0
    assert cli("build")[0] == 0
    before = dump(db)
    out = tmp_path / "pack.docx"
    status, _, stderr = cli("workshop", *args, "--out", str(out))
    assert status == 2 and expected in stderr
    assert not out.exists() and dump(db) == before


def test_cli_without_a_run_says_build_first(cli, tmp_path):
    assert cli("ingest", "corpus/excerpts.csv", "--sources", "corpus/sources.csv")[0] == 0
    status, _, stderr = cli(
        "workshop",
        "--focus",
        "hope",
        "--fields",
        "mental_health,substance_use",
        "--out",
        str(tmp_path / "p.md"),
    )
    assert status == 2 and "E027" in stderr


@pytest.mark.model
def test_real_model_pack_on_hope_is_balanced_with_lived_experience(real_store):
    conn = store.connect(real_store)
    request = PackRequest(focus="chime/hope", fields=THREE, items=24, lived_experience=True)
    pack = build_pack_from_store(conn, request)
    assert {f: sum(i.field == f for i in pack.items) for f in THREE} == {f: 8 for f in THREE}
    lived = sum(i.lived_experience for i in pack.items)
    assert lived >= 8 or any("lived-experience" in w for w in pack.warnings)
    # The pack is about hope, judged by the development set's hand codes: items coded "hope" are
    # at least twice as common in the pack as in the three fields' excerpts overall.
    with (ROOT / "benchmarks" / "devset" / "labels.csv").open(encoding="utf-8") as handle:
        codes = {r["id"]: r["codes"].split(";") for r in csv.DictReader(handle)}
    hoped = lambda external: "hope" in codes.get(external.split("#")[0], [])  # noqa: E731
    frame = store.excerpts(conn)
    pool = frame[frame["field"].isin(THREE)]["external_id"].astype(str)
    base_rate = sum(map(hoped, pool)) / len(pool)
    precision = sum(hoped(i.external_id) for i in pack.items) / len(pack.items)
    assert precision >= 2 * base_rate, (precision, base_rate)


def test_cli_writes_the_packs_references(built, tmp_path, capsys):
    """`workshop --references` writes the sources of the pack's cards, read back by rispy."""
    import rispy

    from pipelines.cli import main

    path, conn = built
    out, refs = tmp_path / "pack.md", tmp_path / "pack.ris"
    args = ["workshop", "--db", str(path), "--focus", "chime/hope", "--fields", ",".join(THREE)]
    args += ["--items", "12", "--model", "hash-256", "--out", str(out), "--references", str(refs)]
    assert main(args) == 0
    pack = pack_for(conn, items=12)
    sources = set(store.excerpts(conn, ids=[i.excerpt_id for i in pack.items])["source_id"])
    entries = rispy.loads(refs.read_text(encoding="utf-8"))
    assert len(entries) == len(sources) and all(e.get("title") for e in entries)
    bad = ["workshop", "--db", str(path), "--focus", "chime/hope", "--fields", ",".join(THREE)]
    bad += ["--out", str(out), "--references", str(tmp_path / "pack.txt")]
    assert main(bad) == 2 and "--references must end in .ris or .bib" in capsys.readouterr().err
