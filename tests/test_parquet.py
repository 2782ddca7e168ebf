"""The Parquet hand-off (#24): exports another engine can read, and Parquet read like a CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines import store
from tests.conftest import dump
from tests.samples import TEXTS, write_csv

ROOT = Path(__file__).resolve().parent.parent
CORPUS = [str(ROOT / "corpus" / "excerpts.csv"), "--sources", str(ROOT / "corpus" / "sources.csv")]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The bundled corpus built with the hash embedder, once for the module."""
    from pipelines.cli import main

    db = tmp_path_factory.mktemp("parquet") / "store.sqlite"
    assert main(["ingest", "--db", str(db), *CORPUS]) == 0
    assert main(["build", "--db", str(db)]) == 0
    return db


def _export(built: Path, what: str, out: Path, fmt: str) -> int:
    from pipelines.cli import main

    return main(["export", what, "--db", str(built), "--out", str(out), "--format", fmt])


@pytest.mark.parametrize("what", ["excerpts", "assignments"])
def test_a_table_export_in_parquet_holds_what_the_json_export_holds(built, tmp_path, what):
    assert _export(built, what, tmp_path / "t.parquet", "parquet") == 0
    assert _export(built, what, tmp_path / "t.json", "json") == 0
    got = pq.read_table(tmp_path / "t.parquet").to_pandas()
    want = pd.read_json(tmp_path / "t.json", orient="records", dtype=False)
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want) > 400
    assert got["excerpt_id"].tolist() == want["excerpt_id"].tolist()
    assert got["field"].tolist() == want["field"].tolist()
    if what == "excerpts":  # cells as they are: no apostrophe before a leading '-' or '='
        assert got["text"].tolist() == want["text"].tolist()


def test_the_embeddings_export_is_a_fixed_size_list_of_the_stored_vectors(built, tmp_path):
    out = tmp_path / "embeddings.parquet"
    assert _export(built, "embeddings", out, "parquet") == 0
    table = pq.read_table(out)
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), 256)
    assert table.column_names == [
        "excerpt_id",
        "external_id",
        "field",
        "text_hash",
        "model_id",
        "embedding",
    ]
    conn = store.connect(built)
    frame = store.excerpts(conn)
    assert table.column("excerpt_id").to_pylist() == frame["excerpt_id"].tolist()
    assert set(table.column("model_id").to_pylist()) == {"hash-256"}
    vectors = table.column("embedding").combine_chunks().flatten().to_numpy().reshape(-1, 256)
    want = store.load_embeddings(conn, "hash-256", frame["text_hash"].tolist())
    assert np.array_equal(vectors, want)


def test_embeddings_are_parquet_only_and_need_a_run(tmp_path, cli):
    assert cli("ingest", str(write_csv(tmp_path)))[0] == 0
    status, _, err = cli("export", "embeddings", "--out", str(tmp_path / "e.parquet"))
    assert status == 2 and "[E027]" in err
    status, _, err = cli("export", "embeddings", "--out", str(tmp_path / "e.csv"))
    assert status == 2 and "unknown format for embeddings 'csv'. Known: parquet." in err


def test_ingest_reads_parquet_as_it_reads_the_same_csv(tmp_path, connect, cli):
    csv_path = write_csv(tmp_path)
    frame = pd.read_csv(csv_path, dtype={"year": "Int64"})
    parquet_path = tmp_path / "same.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), parquet_path)
    assert cli("ingest", str(parquet_path))[0] == 0
    conn = connect()
    rows = conn.execute(
        "SELECT e.external_id, e.field, e.kind, e.text, e.meta, s.title, s.authors, s.year, "
        "s.evidence_type FROM excerpts e JOIN sources s ON s.id = e.source_id ORDER BY e.id"
    ).fetchall()
    assert [r[0] for r in rows] == ["a1", "a2", "a3"]
    assert [r[3] for r in rows] == TEXTS
    assert [r[1] for r in rows] == ["mental_health", "criminal_justice", "substance_use"]
    assert [(r[5], r[6], r[7]) for r in rows][0] == ("Paper one", "Smith, A.", 2011)
    assert {r[8] for r in rows} == {"review", "peer_reviewed", "policy"}
    assert '"extra_note": "keep me"' in rows[0][4]


def test_exported_excerpts_ingest_again_into_a_new_store(built, tmp_path, cli, connect):
    out = tmp_path / "excerpts.parquet"
    assert _export(built, "excerpts", out, "parquet") == 0
    status, stdout, err = cli("ingest", str(out))
    assert status == 0, err
    original = store.excerpts(store.connect(built))
    copy = store.excerpts(connect())
    assert f"{len(original)} new, 0 unchanged, 0 rejected" in stdout
    assert copy["text"].tolist() == original["text"].tolist()
    assert copy["field"].tolist() == original["field"].tolist()


def _bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    valid = folder / "valid.parquet"
    pq.write_table(pa.table({"text": TEXTS, "field": ["mental_health"] * 3}), valid)
    truncated = folder / "truncated.parquet"
    truncated.write_bytes(valid.read_bytes()[:-20])
    not_parquet = folder / "notes.parquet"
    not_parquet.write_text("text,field\nhope,mental_health\n", encoding="utf-8")
    no_text = folder / "no_text.parquet"
    pq.write_table(pa.table({"body": TEXTS}), no_text)
    listed = folder / "listed.parquet"
    pq.write_table(pa.table({"text": [["a", "b"]], "field": ["mental_health"]}), listed)
    return {
        "truncated": (truncated, "this does not look like a Parquet file"),
        "not parquet": (not_parquet, "this does not look like a Parquet file"),
        "no text column": (no_text, "no 'text' column (columns found: body)"),
        "a list for text": (listed, "row 1: the value in column 'text' must be text, not list"),
    }


@pytest.mark.parametrize("case", ["truncated", "not parquet", "no text column", "a list for text"])
def test_bad_parquet_is_a_coded_error_and_leaves_the_store_unchanged(case, tmp_path, cli, db):
    assert cli("ingest", str(write_csv(tmp_path)))[0] == 0
    before = dump(db)
    path, message = _bad_files(tmp_path)[case]
    status, _, err = cli("ingest", str(path))
    assert status == 2
    assert err.startswith(f"error: {path}: ") and message in err, err
    assert len(err.strip().splitlines()) == 1
    assert dump(db) == before
