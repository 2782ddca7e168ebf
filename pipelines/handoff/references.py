"""References out: the corpus's sources as RIS or BibTeX, for Zotero and other reference managers.

`export references --format ris|bibtex` writes every source of the corpus; `reference_sources`
with excerpt ids gives the sources of a selection or of a workshop pack, and `references_text`
writes them. Each source carries the fields its excerpts come from and its evidence type as
keywords (Zotero makes them tags), so a library can be filtered to lived-experience sources, say.

Text is kept as it is, formula prefixes included: a reference manager evaluates nothing. What each
format cannot carry is changed: RIS is one line per tag, so line breaks become spaces (a title
holding a line `ER  -` would otherwise end its record); BibTeX's special characters are escaped.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines import store
from pipelines.exports import FileExport, register
from pipelines.handoff.common import write_atomic, xml_text

# RIS reference types and BibTeX entry types by evidence type; a peer-reviewed or review source
# without a venue is a generic record, not an article with an empty journal.
RIS_TYPES = {
    "peer_reviewed": "JOUR",
    "review": "JOUR",
    "policy": "GOVDOC",
    "grey": "RPRT",
    "practice": "RPRT",
    "lived_experience": "GEN",
}
BIBTEX_TYPES = {"JOUR": "article", "GOVDOC": "techreport", "RPRT": "techreport", "GEN": "misc"}
_BIBTEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
}
_BIBTEX_SPECIAL = re.compile("|".join(re.escape(c) for c in _BIBTEX_ESCAPES))
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_:.-]+")


@dataclass
class Reference:
    key: str
    kind: str  # RIS type
    title: str
    authors: list[str]
    year: int | None
    venue: str
    doi: str
    url: str
    keywords: list[str]
    note: str


def _line(value) -> str:
    """One line of text: no control characters, every run of whitespace one space."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return " ".join(xml_text(value).split())


def reference_sources(
    conn: sqlite3.Connection, *, excerpt_ids: list[int] | None = None
) -> list[Reference]:
    """The sources of the whole corpus (or of the excerpts `excerpt_ids`), in citation order."""
    frame = store.excerpts(conn, ids=excerpt_ids)
    keys = store.source_keys(conn)
    labels = store.field_labels(conn)
    evidence = store.evidence_labels(conn)
    out = []
    for source_id, rows in frame.groupby("source_id", sort=False):
        first = rows.iloc[0]
        evidence_type = _line(first["evidence_type"])
        venue = _line(first["venue"])
        kind = RIS_TYPES.get(evidence_type, "GEN")
        if kind == "JOUR" and not venue:
            kind = "GEN"
        fields = sorted(set(rows["field"]))
        keywords = [f"field: {labels.get(f, f)}" for f in fields]
        if evidence_type:
            keywords.append(f"evidence: {evidence.get(evidence_type, evidence_type)}")
        year = first["year"]
        out.append(
            Reference(
                key=_line(keys.get(int(source_id))) or f"source{source_id}",
                kind=kind,
                title=_line(first["title"]),
                authors=[a for a in (_line(a) for a in _line(first["authors"]).split(";")) if a],
                year=None if pd.isna(year) else int(year),
                venue=venue,
                doi=_line(first["doi"]),
                url=_line(first["url"]),
                keywords=keywords,
                note=_line(first["citation"]),
            )
        )
    return sorted(out, key=lambda r: (r.note.lower(), r.key))


def ris_text(references: list[Reference]) -> str:
    lines = []
    for ref in references:
        tags = [("TY", ref.kind), ("ID", ref.key), ("TI", ref.title)]
        tags += [("AU", author) for author in ref.authors]
        tags += [("PY", str(ref.year) if ref.year else "")]
        tags += [("JO" if ref.kind == "JOUR" else "PB", ref.venue)]
        tags += [("DO", ref.doi), ("UR", ref.url)]
        tags += [("KW", keyword) for keyword in ref.keywords]
        tags += [("N1", ref.note)]
        lines += [f"{tag}  - {value}" for tag, value in tags if value]
        lines += ["ER  - ", ""]
    return "\n".join(lines)


def bibtex_escape(text: str) -> str:
    return _BIBTEX_SPECIAL.sub(lambda m: _BIBTEX_ESCAPES[m.group()], text)


def _bibtex_name(author: str) -> str:
    """`Last, First` as BibTeX parses it; a name without a comma is an organisation, braced so
    that BibTeX keeps it whole instead of taking its last word for a surname."""
    escaped = bibtex_escape(author)
    return escaped if "," in author else f"{{{escaped}}}"


def bibtex_text(references: list[Reference]) -> str:
    """BibTeX entries, keyed by source key (made unique); values braced and escaped."""
    seen: dict[str, int] = {}
    entries = []
    for ref in references:
        key = _KEY_UNSAFE.sub("_", ref.key.removeprefix("id:")).strip("_") or "source"
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = f"{key}_{seen[key]}"
        venue_field = {"article": "journal", "techreport": "institution"}.get(
            BIBTEX_TYPES[ref.kind], "publisher"
        )
        values = [
            ("title", bibtex_escape(ref.title)),
            ("author", " and ".join(_bibtex_name(a) for a in ref.authors)),
            ("year", str(ref.year) if ref.year else ""),
            (venue_field, bibtex_escape(ref.venue)),
            ("doi", bibtex_escape(ref.doi)),
            ("url", bibtex_escape(ref.url)),
            ("keywords", bibtex_escape(", ".join(ref.keywords))),
            ("note", bibtex_escape(ref.note)),
        ]
        body = ",\n".join(f"  {name} = {{{v}}}" for name, v in values if v)
        entries.append(f"@{BIBTEX_TYPES[ref.kind]}{{{key},\n{body}\n}}\n")
    return "\n".join(entries)


def references_text(references: list[Reference], fmt: str) -> str:
    return ris_text(references) if fmt == "ris" else bibtex_text(references)  # bibtex or bib


@dataclass
class ReferenceFile(FileExport):
    references: list[Reference]

    def write(self, out: Path, fmt: str) -> int:
        write_atomic(out, references_text(self.references, fmt).encode("utf-8"))
        return len(self.references)


@register("references", formats=("ris", "bibtex", "bib"))
def references_export(conn: sqlite3.Connection) -> ReferenceFile:
    """Every source of the corpus as a reference list."""
    return ReferenceFile(reference_sources(conn))
