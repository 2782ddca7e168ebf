"""The corpus in the store: fields, evidence types, sources, excerpts and the files they came from."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd

from pipelines.ingest.records import PALETTE
from pipelines.store.connection import now, transaction

# --- vocabularies -------------------------------------------------------------------------------


def fields(conn: sqlite3.Connection) -> pd.DataFrame:
    return pd.read_sql_query("SELECT slug, label, colour FROM fields ORDER BY position", conn)


def field_colours(conn: sqlite3.Connection) -> dict[str, str]:
    return {r["slug"]: r["colour"] for r in conn.execute("SELECT slug, colour FROM fields")}


def field_labels(conn: sqlite3.Connection) -> dict[str, str]:
    return {r["slug"]: r["label"] for r in conn.execute("SELECT slug, label FROM fields")}


def fields_closed(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT value FROM meta WHERE key = 'closed_fields'").fetchone()
    return bool(row) and row[0] == "1"


def set_fields_closed(conn: sqlite3.Connection, closed: bool) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT INTO meta VALUES ('closed_fields', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            ("1" if closed else "0",),
        )


def add_field(conn: sqlite3.Connection, slug: str, label: str | None = None) -> None:
    """Insert a field (inside the caller's transaction) with the next palette colour."""
    position = conn.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM fields").fetchone()[0]
    conn.execute(
        "INSERT OR IGNORE INTO fields VALUES (?, ?, ?, ?)",
        (
            slug,
            label or slug.replace("_", " ").capitalize(),
            PALETTE[position % len(PALETTE)],
            position,
        ),
    )


# --- reading the corpus -------------------------------------------------------------------------

EXCERPT_COLUMNS = """
    e.id AS excerpt_id, e.external_id, e.field, e.kind, e.location, e.text, e.text_hash,
    e.split_index, e.split_count, e.meta, s.id AS source_id, s.title, s.authors, s.year,
    s.venue, s.doi, s.url, s.evidence_type, s.citation
"""


def excerpts(conn: sqlite3.Connection, *, ids: list[int] | None = None) -> pd.DataFrame:
    """Every excerpt (or those with `ids`) joined to its source, ordered by id (the order every
    matrix uses)."""
    where, params = "", ()
    if ids is not None:
        params = tuple(int(i) for i in ids)
        where = f"WHERE e.id IN ({', '.join('?' * len(params))})" if params else "WHERE 0"
    frame = pd.read_sql_query(
        f"SELECT {EXCERPT_COLUMNS} FROM excerpts e JOIN sources s ON s.id = e.source_id {where} ORDER BY e.id",
        conn,
        params=params,
    )
    frame["year"] = frame["year"].astype("Int64")
    # Citations depend on the source only: format each source once, not once per excerpt (at
    # 10,000 excerpts the per-row loop was most of the time the app took to read the store).
    sources = frame.drop_duplicates("source_id")
    short, full = {}, {}
    for s, c, a, y, t, v in zip(
        sources["source_id"],
        sources["citation"],
        sources["authors"],
        sources["year"],
        sources["title"],
        sources["venue"],
        strict=True,
    ):
        short[s] = short_citation(a, y)
        full[s] = c or fallback_citation(a, y, t, v)
    frame["short_citation"] = frame["source_id"].map(short)
    frame["citation"] = frame["source_id"].map(full)
    return frame


def excerpt_facets(conn: sqlite3.Connection) -> pd.DataFrame:
    """Field, source, evidence type and year of every excerpt, without text: enough to count the
    corpus, at a fraction of the cost of `excerpts`."""
    frame = pd.read_sql_query(
        "SELECT e.id AS excerpt_id, e.field, s.id AS source_id, s.evidence_type, s.year "
        "FROM excerpts e JOIN sources s ON s.id = e.source_id ORDER BY e.id",
        conn,
    )
    frame["year"] = frame["year"].astype("Int64")
    return frame


def short_citation(authors: str | None, year) -> str:
    """'Leamy et al., 2011' style, from 'Surname, I.; Surname, I.' author lists."""
    names = [a.strip() for a in (authors or "").split(";") if a.strip()]
    surnames = [n.split(",")[0].strip() for n in names]
    year_text = "n.d." if year is None or pd.isna(year) else str(int(year))
    if not surnames:
        return year_text
    if len(surnames) == 1:
        who = surnames[0]
    elif len(surnames) == 2:
        who = f"{surnames[0]} & {surnames[1]}"
    else:
        who = f"{surnames[0]} et al."
    return f"{who}, {year_text}"


def fallback_citation(authors, year, title, venue) -> str:
    year_text = "n.d." if year is None or pd.isna(year) else str(int(year))
    parts = [
        p for p in ((authors or "").replace(";", ","), f"({year_text}).", f"{title}.", venue) if p
    ]
    return " ".join(parts).strip()


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    return {
        "excerpts": one("SELECT COUNT(*) FROM excerpts"),
        "sources": one("SELECT COUNT(*) FROM sources"),
        "files": one("SELECT COUNT(*) FROM files"),
        "fields": one("SELECT COUNT(DISTINCT field) FROM excerpts"),
        "runs": one("SELECT COUNT(*) FROM runs WHERE status = 'complete'"),
    }


def corpus_hash(conn: sqlite3.Connection) -> str:
    """A hash of every excerpt's (id, field, text hash): what a run was computed from."""
    import hashlib

    digest = hashlib.sha256()
    for row in conn.execute("SELECT id, field, kind, text_hash FROM excerpts ORDER BY id"):
        digest.update(f"{row[0]}|{row[1]}|{row[2]}|{row[3]}\n".encode())
    return digest.hexdigest()


def delete_source(conn: sqlite3.Connection, source_id: int) -> int:
    """Delete a source and its excerpts (cached embeddings stay, keyed by text). Returns the
    number of excerpts deleted."""
    with transaction(conn):
        count = conn.execute(
            "SELECT COUNT(*) FROM excerpts WHERE source_id = ?", (source_id,)
        ).fetchone()[0]
        conn.execute("DELETE FROM excerpts WHERE source_id = ?", (source_id,))
        conn.execute("DELETE FROM sources WHERE id = ?", (source_id,))
    return count


# --- writing the corpus (ingest) ----------------------------------------------------------------


def source_id_for_key(conn: sqlite3.Connection, key: str) -> int | None:
    row = conn.execute("SELECT id FROM sources WHERE key = ?", (key,)).fetchone()
    return None if row is None else int(row[0])


def insert_source(conn: sqlite3.Connection, key: str, source, *, title: str) -> int:
    """A new source row (inside the caller's transaction); its id."""
    return int(
        conn.execute(
            "INSERT INTO sources (key, title, authors, year, venue, doi, url, evidence_type, "
            "citation, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                title,
                source.authors,
                source.year,
                source.venue,
                source.doi,
                source.url,
                source.evidence_type,
                source.citation,
                json.dumps(source.meta),
            ),
        ).lastrowid
    )


def insert_file(conn: sqlite3.Connection, path: str, digest: str, fmt: str) -> int:
    return int(
        conn.execute(
            "INSERT INTO files (path, sha256, format, ingested_at, n_new, n_unchanged, n_rejected) "
            "VALUES (?, ?, ?, ?, 0, 0, 0)",
            (path, digest, fmt, now()),
        ).lastrowid
    )


def excerpt_exists(conn: sqlite3.Connection, field: str, text_hash: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM excerpts WHERE field = ? AND text_hash = ?", (field, text_hash)
        ).fetchone()
        is not None
    )


def file_digest_seen(conn: sqlite3.Connection, digest: str) -> bool:
    """Whether a file with these bytes was ingested before."""
    return (
        conn.execute("SELECT 1 FROM files WHERE sha256 = ? LIMIT 1", (digest,)).fetchone()
        is not None
    )


def external_id_taken(conn: sqlite3.Connection, external_id: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM excerpts WHERE external_id = ? LIMIT 1", (external_id,)
        ).fetchone()
        is not None
    )


def insert_excerpt(
    conn: sqlite3.Connection, *, source_id: int, file_id: int, item, record, external_id=None
) -> None:
    """A new excerpt row from a prepared excerpt and its record (inside the caller's transaction);
    `external_id` replaces the record's own when given (ingest names excerpts that bring none)."""
    conn.execute(
        "INSERT INTO excerpts (source_id, field, kind, location, external_id, text, text_hash, "
        "meta, file_id, split_index, split_count, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            source_id,
            item.field,
            item.kind,
            record.location,
            record.external_id if external_id is None else external_id,
            item.text,
            item.text_hash,
            json.dumps(record.meta, ensure_ascii=False),
            file_id,
            record.split_index,
            record.split_count,
            now(),
        ),
    )


def set_file_counts(
    conn: sqlite3.Connection, file_id: int, *, new: int, unchanged: int, rejected: int
) -> None:
    conn.execute(
        "UPDATE files SET n_new = ?, n_unchanged = ?, n_rejected = ? WHERE id = ?",
        (new, unchanged, rejected, file_id),
    )


def excerpt_keys(conn: sqlite3.Connection) -> set[tuple[str, str]]:
    """(field, text hash) of every stored excerpt: what makes an excerpt 'unchanged'."""
    return {(r[0], r[1]) for r in conn.execute("SELECT field, text_hash FROM excerpts")}


def excerpt_texts(conn: sqlite3.Connection):
    """(text hash, text) of every stored excerpt, as a cursor."""
    return conn.execute("SELECT text_hash, text FROM excerpts")


def counts_by_field(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    return conn.execute(
        "SELECT field, COUNT(*) FROM excerpts GROUP BY field ORDER BY field"
    ).fetchall()


def counts_by_evidence_type(conn: sqlite3.Connection) -> list[tuple[str | None, int]]:
    return conn.execute(
        "SELECT s.evidence_type, COUNT(*) FROM excerpts e JOIN sources s ON s.id = e.source_id "
        "GROUP BY 1 ORDER BY 1"
    ).fetchall()


def source_keys(conn: sqlite3.Connection) -> dict[int, str]:
    return dict(conn.execute("SELECT id, key FROM sources").fetchall())


def evidence_labels(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT slug, label FROM evidence_types").fetchall())
