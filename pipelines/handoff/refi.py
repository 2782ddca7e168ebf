"""REFI-QDA hand-offs: the run as a project (`.qdpx`) and its code book alone (`.qdc`).

REFI-QDA is the exchange standard that NVivo, ATLAS.ti, MAXQDA, QualCoder and others read. A
project is a zip of `project.qde` (XML in `urn:QDA-XML:project:1.0`) and its `sources/`. Here each
bibliographic source is one text source holding its excerpts, in store order, joined by a blank
line; each excerpt is a `PlainTextSelection` (zero-based character positions, end exclusive, as
QualCoder counts them) coded with its fine theme, its broad theme and its concept tags. The code
book is a tree: each framework over its concepts, and a "Themes" code over the broad themes over
their fine themes. Source details are variables on each source, and each field and evidence type
is a case of the sources it holds. Theme notes are notes on their codes.

Every GUID is a uuid5 of a stable key in a namespace made from the run's corpus, so two exports of
the same run are identical, and exports of different corpora never share a GUID.
"""

from __future__ import annotations

import io
import sqlite3
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines import __version__, store
from pipelines.analysis.concepts import Framework
from pipelines.analysis.contract import THEME_BROAD, THEME_FINE, Tag, Theme, load_result
from pipelines.analysis.results import current_run_id, themes_with_edits
from pipelines.exports import FileExport, register
from pipelines.handoff.common import guid_maker, write_atomic, xml_text

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
SEPARATOR = "\n\n"
# The fixed time stamp of every member of the zip: the bytes depend on the run alone.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)

SOURCE_VARIABLES = (  # (name, column, REFI type)
    ("Field", "fields", "Text"),
    ("Evidence type", "evidence_label", "Text"),
    ("Year", "year", "Integer"),
    ("Authors", "authors", "Text"),
    ("Venue", "venue", "Text"),
    ("DOI", "doi", "Text"),
    ("URL", "url", "Text"),
    ("Citation", "citation", "Text"),
)


@dataclass
class RunView:
    """What a REFI-QDA file says about one run, read from the store once."""

    run_id: int
    created: str
    guid: object  # (kind, key) -> GUID
    excerpts: pd.DataFrame
    fine: list[Theme]
    broad: list[Theme]
    fine_of: dict[str, str]  # excerpt id -> fine theme key (after merges)
    broad_of: dict[str, str]
    tags: dict[str, list[Tag]]
    frameworks: list[Framework]
    field_labels: dict[str, str]
    evidence_labels: dict[str, str]


def read_run(conn: sqlite3.Connection) -> RunView:
    run_id = current_run_id(conn)
    run = store.latest_run(conn)
    fine, fine_of = themes_with_edits(conn, run_id, level=THEME_FINE)
    broad, broad_of = themes_with_edits(conn, run_id, level=THEME_BROAD)
    evidence = store.evidence_labels(conn)
    return RunView(
        run_id=run_id,
        created=str(run["finished_at"] or run["created_at"]),
        guid=guid_maker(f"crosswalk-corpus:{run['corpus_hash']}"),
        excerpts=store.excerpts(conn),
        fine=fine,
        broad=broad,
        fine_of=fine_of,
        broad_of=broad_of,
        tags=load_result(conn, run_id, "tags") or {},
        frameworks=load_result(conn, run_id, "frameworks") or [],
        field_labels=store.field_labels(conn),
        evidence_labels=evidence,
    )


def _sub(parent: ET.Element, ns: str, tag: str, text=None, **attrs) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ns}}}{tag}", {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def _theme_description(theme: Theme) -> str:
    parts = [f"Crosswalk theme {theme.key}: {theme.verdict}"]
    if theme.verdict_reason:
        parts[0] += f" ({theme.verdict_reason})"
    if theme.key_terms:
        parts.append("Key terms: " + ", ".join(theme.key_terms))
    if theme.concepts:
        parts.append("Concepts: " + ", ".join(f"{k} ({s:.0%})" for k, s in theme.concepts))
    if theme.machine_label and theme.machine_label != theme.label:
        parts.append(f"Machine name: {theme.machine_label}")
    return ". ".join(parts)


def code_tree(parent: ET.Element, ns: str, view: RunView, *, notes_inline: bool) -> dict[str, str]:
    """Append the code book's codes under `parent`; returns code key -> GUID, where a concept's
    key is `framework/concept` and a theme's is `theme:T7` or `theme:B2`. In a codebook file
    (`notes_inline`) a theme's note joins its description; in a project it is a note."""
    guids: dict[str, str] = {}

    def code(under, key, name, description, *, codable=True):
        guids[key] = view.guid("code", key)
        element = _sub(
            under, ns, "Code", guid=guids[key], name=name, isCodable=str(codable).lower()
        )
        _sub(element, ns, "Description", description)
        return element

    for framework in view.frameworks:
        about = f"Crosswalk framework {framework.id}"
        about += f" ({view.field_labels.get(framework.field, framework.field)})" * bool(
            framework.field
        )
        about += f". {framework.citation}" * bool(framework.citation)
        group = code(parent, f"framework:{framework.id}", framework.label, about, codable=False)
        for concept in framework.concepts:
            code(group, concept.key, concept.label, f"{concept.description} [{concept.key}]")
    themes = code(parent, "themes", "Themes", f"Crosswalk run {view.run_id}", codable=False)
    children: dict[str | None, list[Theme]] = {}
    for theme in view.fine:
        children.setdefault(theme.parent, []).append(theme)
    for broad in [*view.broad, None]:
        if broad is None:
            fines = [t for p, ts in children.items() if f"theme:{p}" not in guids for t in ts]
            holder = themes
        else:
            description = _theme_description(broad)
            if notes_inline and broad.note:
                description += f". Note: {broad.note}"
            holder = code(themes, f"theme:{broad.key}", broad.label, description)
            fines = children.get(broad.key, [])
        for theme in fines:
            description = _theme_description(theme)
            if notes_inline and theme.note:
                description += f". Note: {theme.note}"
            code(holder, f"theme:{theme.key}", theme.label, description)
    return guids


def source_texts(view: RunView) -> list[tuple[int, pd.DataFrame, str, list[tuple[dict, int, int]]]]:
    """(source id, its excerpt rows, the source's text, [(excerpt row, start, end)]) for every
    source with excerpts: the excerpts joined by a blank line, each span exact in that text."""
    out = []
    for source_id, rows in view.excerpts.groupby("source_id", sort=True):
        parts, spans, at = [], [], 0
        for excerpt in rows.to_dict("records"):
            if parts:
                at += len(SEPARATOR)
            clean = xml_text(excerpt["text"])
            spans.append((excerpt, at, at + len(clean)))
            parts.append(clean)
            at += len(clean)
        out.append((int(source_id), rows, SEPARATOR.join(parts), spans))
    return out


def _source_values(view: RunView, rows: pd.DataFrame) -> dict[str, object]:
    first = rows.iloc[0]
    fields = sorted(set(rows["field"]))
    values = {column: first[column] for _, column, _ in SOURCE_VARIABLES if column in first}
    values["fields"] = "; ".join(view.field_labels.get(f, f) for f in fields)
    values["evidence_label"] = view.evidence_labels.get(first["evidence_type"], "")
    return values


def _present(value) -> str:
    """A text cell, or "" for a missing one (None or pandas' NaN)."""
    return value if isinstance(value, str) else ""


def _selection(parent, view, user, codes, excerpt, start, end) -> None:
    key = str(excerpt["excerpt_id"])
    selection = _sub(
        parent,
        PROJECT_NS,
        "PlainTextSelection",
        guid=view.guid("selection", f"{key}:{excerpt['text_hash']}"),
        name=_present(excerpt["external_id"]) or f"excerpt {key}",
        startPosition=start,
        endPosition=end,
        creatingUser=user,
        creationDateTime=view.created,
    )
    about = [view.field_labels.get(excerpt["field"], excerpt["field"])]
    about += [v for v in map(_present, (excerpt["kind"], excerpt["location"])) if v]
    _sub(selection, PROJECT_NS, "Description", " · ".join(about))
    wanted = [f"theme:{view.fine_of.get(key)}", f"theme:{view.broad_of.get(key)}"]
    wanted += [tag.concept for tag in view.tags.get(key, [])]
    for code_key in dict.fromkeys(wanted):
        if code_key not in codes:
            continue
        coding = _sub(
            selection,
            PROJECT_NS,
            "Coding",
            guid=view.guid("coding", f"{key}:{code_key}"),
            creatingUser=user,
            creationDateTime=view.created,
        )
        _sub(coding, PROJECT_NS, "CodeRef", targetGUID=codes[code_key])


def _variables(root, view) -> dict[str, str]:
    holder = _sub(root, PROJECT_NS, "Variables")
    guids = {}
    for name, column, kind in SOURCE_VARIABLES:
        guids[column] = view.guid("variable", column)
        _sub(holder, PROJECT_NS, "Variable", guid=guids[column], name=name, typeOfVariable=kind)
    return guids


def _value(parent, variable_guid: str, kind: str, value) -> None:
    if value is None or pd.isna(value) or str(value).strip() == "":
        return
    holder = _sub(parent, PROJECT_NS, "VariableValue")
    _sub(holder, PROJECT_NS, "VariableRef", targetGUID=variable_guid)
    tag = "IntegerValue" if kind == "Integer" else "TextValue"
    _sub(holder, PROJECT_NS, tag, int(value) if kind == "Integer" else value)


def _cases(root, view, source_guids: dict[int, str]) -> None:
    groups: dict[str, tuple[str, set[int]]] = {}
    for row in view.excerpts[["field", "evidence_type", "source_id"]].itertuples():
        field_label = view.field_labels.get(row.field, row.field)
        groups.setdefault(f"field:{row.field}", (f"Field: {field_label}", set()))[1].add(
            row.source_id
        )
        if _present(row.evidence_type):
            label = view.evidence_labels.get(row.evidence_type, row.evidence_type)
            groups.setdefault(f"evidence:{row.evidence_type}", (f"Evidence: {label}", set()))[
                1
            ].add(row.source_id)
    if not groups:
        return
    holder = _sub(root, PROJECT_NS, "Cases")
    for key, (name, sources) in groups.items():
        case = _sub(holder, PROJECT_NS, "Case", guid=view.guid("case", key), name=name)
        for source_id in sorted(sources):
            _sub(case, PROJECT_NS, "SourceRef", targetGUID=source_guids[source_id])


def _notes(root, view, codes: dict[str, str]) -> None:
    noted = [t for t in [*view.broad, *view.fine] if t.note and f"theme:{t.key}" in codes]
    if not noted:
        return
    holder = _sub(root, PROJECT_NS, "Notes")
    for theme in noted:
        note_guid = view.guid("note", f"theme:{theme.key}")
        _sub(
            holder,
            PROJECT_NS,
            "Note",
            guid=note_guid,
            name=f"Note on {theme.label}",
            creationDateTime=view.created,
        ).append(_plain(theme.note))
        # The code points at its note: find it among the code book's codes.
        code = root.find(f".//{{{PROJECT_NS}}}Code[@guid='{codes[f'theme:{theme.key}']}']")
        description = code.find(f"{{{PROJECT_NS}}}Description")
        position = list(code).index(description) + 1 if description is not None else 0
        note_ref = ET.Element(f"{{{PROJECT_NS}}}NoteRef", {"targetGUID": note_guid})
        code.insert(position, note_ref)


def _plain(text: str) -> ET.Element:
    element = ET.Element(f"{{{PROJECT_NS}}}PlainTextContent")
    element.text = xml_text(text)
    return element


def project_document(view: RunView) -> tuple[bytes, dict[str, str]]:
    """`project.qde` as bytes and the source files ({zip path: text}) it refers to."""
    ET.register_namespace("", PROJECT_NS)
    user = view.guid("user", "crosswalk")
    root = ET.Element(
        f"{{{PROJECT_NS}}}Project",
        {
            "name": f"Crosswalk run {view.run_id}",
            "origin": f"Crosswalk {__version__}",
            "creatingUserGUID": user,
            "creationDateTime": view.created,
        },
    )
    users = _sub(root, PROJECT_NS, "Users")
    _sub(users, PROJECT_NS, "User", guid=user, name="Crosswalk")
    codebook = _sub(_sub(root, PROJECT_NS, "CodeBook"), PROJECT_NS, "Codes")
    codes = code_tree(codebook, PROJECT_NS, view, notes_inline=False)
    variables = _variables(root, view)
    texts = source_texts(view)
    source_guids = {sid: view.guid("source", sid) for sid, *_ in texts}
    _cases(root, view, source_guids)
    sources = _sub(root, PROJECT_NS, "Sources")
    files = {}
    for source_id, rows, text, spans in texts:
        first = rows.iloc[0]
        guid = source_guids[source_id]
        name = f"{store.short_citation(first['authors'], first['year'])} {first['title']}"
        source = _sub(
            sources,
            PROJECT_NS,
            "TextSource",
            guid=guid,
            name=name.strip(),
            plainTextPath=f"internal://{guid}.txt",
            creatingUser=user,
            creationDateTime=view.created,
        )
        _sub(source, PROJECT_NS, "Description", first["citation"])
        for excerpt, start, end in spans:
            _selection(source, view, user, codes, excerpt, start, end)
        values = _source_values(view, rows)
        for _, column, kind in SOURCE_VARIABLES:
            _value(source, variables[column], kind, values.get(column))
        files[f"sources/{guid}.txt"] = text
    _notes(root, view, codes)
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True), files


def qdpx_bytes(view: RunView) -> bytes:
    document, files = project_document(view)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in [("project.qde", document), *sorted(files.items())]:
            member = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(member, data if isinstance(data, bytes) else data.encode("utf-8"))
    return buffer.getvalue()


def codebook_bytes(view: RunView) -> bytes:
    """The frameworks and themes as a REFI-QDA codebook (`.qdc`)."""
    ET.register_namespace("", CODEBOOK_NS)
    root = ET.Element(f"{{{CODEBOOK_NS}}}CodeBook", {"origin": f"Crosswalk {__version__}"})
    code_tree(_sub(root, CODEBOOK_NS, "Codes"), CODEBOOK_NS, view, notes_inline=True)
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


@dataclass
class RefiFile(FileExport):
    view: RunView
    kind: str  # "project" or "codebook"

    def write(self, out: Path, fmt: str) -> int:
        if self.kind == "project":
            write_atomic(out, qdpx_bytes(self.view))
            return len(self.view.excerpts)
        write_atomic(out, codebook_bytes(self.view))
        concepts = sum(len(f.concepts) for f in self.view.frameworks)
        return concepts + len(self.view.fine) + len(self.view.broad)


@register("project", formats=("qdpx",))
def project_export(conn: sqlite3.Connection) -> RefiFile:
    """The run as a REFI-QDA project: sources, coded excerpts, code book, variables, cases, notes."""
    return RefiFile(read_run(conn), "project")


@register("codebook", formats=("qdc",))
def codebook_export(conn: sqlite3.Connection) -> RefiFile:
    """The run's frameworks and themes as a REFI-QDA codebook."""
    return RefiFile(read_run(conn), "codebook")
