"""BibTeX: each entry is a source; its abstract and notes become excerpts (key = external id).

bibtexparser (v2) splits the file and resolves a field that is a bare `@string` macro; LaTeX is
decoded by its LatexDecodingMiddleware and co-authors split by SeparateCoAuthors. Two things
BibTeX does that bibtexparser v2 leaves undone are done here: `#` concatenation (`jnl # " 12"`)
and `crossref` inheritance (a missing field comes from the entry it names, a missing `booktitle`
from that entry's `title`).
"""

from __future__ import annotations

from pathlib import Path

from pipelines.errors import input_error
from pipelines.ingest.readers.base import ReadOptions, decode_text, register
from pipelines.ingest.readers.ris import dedupe_ids
from pipelines.ingest.readers.tabular import parse_year
from pipelines.ingest.records import ExcerptRecord, ReadResult, SourceRecord

_TEXT_FIELDS = ("abstract", "note", "annote", "annotation")
# Fields biblatex reads verbatim: no LaTeX in them, and braces are part of the value.
_VERBATIM = ("url", "doi", "eprint", "file")
# BibTeX's predefined macros: the month abbreviations.
_MONTHS = {
    name[:3].lower(): name
    for name in ("January", "February", "March", "April", "May", "June", "July", "August")
    + ("September", "October", "November", "December")
}


def _split_concatenation(raw: str) -> list[str]:
    """The parts of a raw value joined by `#` outside braces and quotes; one part if none."""
    parts, depth, quoted, start = [], 0, False, 0
    for index, char in enumerate(raw):
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(depth - 1, 0)
        elif char == '"' and depth == 0:
            quoted = not quoted
        elif char == "#" and depth == 0 and not quoted:
            parts.append(raw[start:index].strip())
            start = index + 1
    parts.append(raw[start:].strip())
    return parts


def _part_text(part: str, macros: dict[str, str]) -> str:
    if len(part) >= 2 and (part[0], part[-1]) in (("{", "}"), ('"', '"')):
        return part[1:-1]
    # An unknown macro is kept as written (BibTeX would drop it), so no text is lost.
    return macros.get(part.lower(), _MONTHS.get(part.lower(), part))


def _concatenate(library) -> None:
    """Resolve `#` concatenation in @string definitions (in file order) and in entry fields."""
    macros: dict[str, str] = {}
    for string in library.strings:
        parts = _split_concatenation(str(string.value))
        macros[string.key.lower()] = "".join(_part_text(p, macros) for p in parts)
        # Resolved here, so a macro defined by another macro reads through to the text.
        string.value = "{" + macros[string.key.lower()] + "}"
    for entry in library.entries:
        for field in entry.fields:
            if not isinstance(field.value, str):
                continue
            parts = _split_concatenation(field.value)
            if len(parts) > 1:
                field.value = "{" + "".join(_part_text(p, macros) for p in parts) + "}"


def _parse(text: str):
    import bibtexparser
    from bibtexparser import middlewares

    library = bibtexparser.parse_string(text, parse_stack=[])
    _concatenate(library)
    for middleware in (
        middlewares.ResolveStringReferencesMiddleware(),
        middlewares.RemoveEnclosingMiddleware(),
        middlewares.NormalizeFieldKeys(),
    ):
        library = middleware.transform(library)
    # LaTeX decoding would read the `%` of a URL as the start of a comment and cut it there.
    verbatim = {
        (entry.key, f.key): f.value
        for entry in library.entries
        for f in entry.fields
        if f.key in _VERBATIM
    }
    for middleware in (
        # Braced groups are kept through decoding so that `{Barnes and Noble}` stays one author;
        # the braces left over are removed afterwards (`_clean`).
        middlewares.LatexDecodingMiddleware(keep_braced_groups=True),
        middlewares.SeparateCoAuthors(),
    ):
        library = middleware.transform(library)
    for entry in library.entries:
        for f in entry.fields:
            f.value = verbatim.get((entry.key, f.key), f.value)
    return library


def _clean(value) -> str | list[str]:
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return " ".join(str(value).replace("{", "").replace("}", "").split())


def _refuse_failed(library, shown: str) -> None:
    block = library.failed_blocks[0]
    line = getattr(block, "start_line", None)
    detail = type(block).__name__.replace("Block", "").replace("Failed", "failed ")
    error = getattr(block, "error", None)
    if error is not None and str(error).strip():
        detail = str(error).strip().splitlines()[0][:160]
    elif error is not None:
        detail = f"{type(error).__name__}, probably an unclosed brace or quote"
    raise input_error(
        "E008",
        shown,
        row=None if line is None else f"line {line + 1}",
        fmt="BibTeX",
        detail=detail,
    )


# Real crossref chains are one or two deep (an article in proceedings in a series); a longer one
# is cut here so that a hostile file cannot make reading quadratic.
_MAX_CROSSREF_DEPTH = 8


def _inherit(key: str, entries: dict[str, dict]) -> dict:
    """An entry's fields with those it lacks taken from the entry its `crossref` names (and that
    one's, nearer entries first), as BibTeX does; a parent's `title` is the child's `booktitle`.
    A parent's own abstract and notes stay the parent's excerpts."""
    chain, seen = [], {key}
    parent = str(entries[key].get("crossref", "")).lower()
    while parent in entries and parent not in seen and len(chain) < _MAX_CROSSREF_DEPTH:
        chain.append(entries[parent])
        seen.add(parent)
        parent = str(entries[parent].get("crossref", "")).lower()
    fields: dict = {}
    for ancestor in reversed(chain):
        fields.update({k: v for k, v in ancestor.items() if k not in (*_TEXT_FIELDS, "crossref")})
        if "title" in ancestor and "booktitle" not in ancestor:
            fields["booktitle"] = ancestor["title"]
    return {**fields, **entries[key]}


@register("bibtex", extensions=(".bib", ".bibtex"))
def read_bibtex(path: Path, options: ReadOptions) -> ReadResult:
    shown = options.display_name or str(path)
    text = decode_text(path.read_bytes(), shown=shown, encoding=options.encoding, fmt="BibTeX")
    if "@" not in text:
        raise input_error("E008", shown, fmt="BibTeX", detail="no @entry found")
    library = _parse(text)
    if library.failed_blocks:
        _refuse_failed(library, shown)
    if not library.entries:
        raise input_error("E008", shown, fmt="BibTeX", detail="no entries found")
    entries = {
        e.key.lower(): {
            f.key: str(f.value).strip() if f.key in _VERBATIM else _clean(f.value) for f in e.fields
        }
        for e in library.entries
    }
    excerpts: list[ExcerptRecord] = []
    rejected: list[tuple[int | str, str]] = []
    for entry in library.entries:
        fields = _inherit(entry.key.lower(), entries)
        row = f"entry {entry.key}"
        texts = [(name, fields.get(name, "")) for name in _TEXT_FIELDS]
        texts = [(loc, body) for loc, body in texts if isinstance(body, str) and body]
        if not texts:
            rejected.append((row, "no abstract or notes"))
            continue
        source = _source(fields, key=entry.key, options=options, shown=shown, row=row)
        excerpts += [
            ExcerptRecord(
                text=body,
                source=source,
                field=_text(fields, "field") or options.field,
                location=location,
                row=row,
                external_id=entry.key,
            )
            for location, body in texts
        ]
    if not excerpts:
        count = len(library.entries)
        raise input_error(
            "E032",
            shown,
            count=count,
            records="entry" if count == 1 else "entries",
            needed="an abstract or a note (note, annote, annotation)",
        )
    dedupe_ids(excerpts)
    return ReadResult(path=shown, format="bibtex", excerpts=excerpts, rejected=rejected)


def _text(fields: dict, name: str) -> str:
    value = fields.get(name, "")
    return " and ".join(value) if isinstance(value, list) else value


def _source(fields: dict, *, key: str, options: ReadOptions, shown: str, row: str) -> SourceRecord:
    authors = fields.get("author") or []
    authors = authors if isinstance(authors, list) else [authors]
    return SourceRecord(
        title=_text(fields, "title") or key,
        authors="; ".join(a for a in authors if a),
        year=parse_year(_text(fields, "year") or None, shown=shown, row=row),
        venue=_text(fields, "journal") or _text(fields, "booktitle") or _text(fields, "publisher"),
        doi=_text(fields, "doi"),
        url=_text(fields, "url"),
        evidence_type=_text(fields, "evidence_type") or options.evidence_type,
    )
