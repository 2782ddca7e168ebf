"""REFI-QDA codebooks in: a `.qdc` file given to `build --concepts` is one framework.

A codebook exported by NVivo, ATLAS.ti, MAXQDA or QualCoder (or by `export codebook`) is a tree of
codes, each with a name, an optional description and whether it can be coded. Every codable code
becomes a concept of one framework named after the file: its label is the code's name, its
description the code's (or the name of the group it sits in, when it has none), and it has no cue
phrases, so it is tagged by meaning and by the words of its name and description. Groups that
cannot be coded give no concept; their codes do.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from pipelines.analysis.concepts import Concept, Framework
from pipelines.errors import input_error

CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
# What `export codebook` appends to a concept's description: the key it had in Crosswalk.
_KEY_MARK = re.compile(r"\s*\[[a-z][a-z0-9_]*/[a-z][a-z0-9_]*\]\s*$")
MAX_BYTES = 20_000_000


def slug(text: str, *, fallback: str) -> str:
    """A lower-case slug of `text` that starts with a letter (the form ids take)."""
    value = _NOT_SLUG.sub("_", text.lower()).strip("_")[:60].strip("_")
    if not value:
        return fallback
    return value if value[0].isalpha() else f"{fallback}_{value}"


def _fail(path: Path, detail: str, row: str | None = None):
    return input_error("E026", path, row=row, detail=detail)


def _root(path: Path) -> ET.Element:
    if not path.is_file():
        raise input_error("E015", path)
    if path.stat().st_size > MAX_BYTES:
        raise _fail(path, f"the file is over {MAX_BYTES} bytes; a codebook is far smaller")
    try:
        root = ET.fromstring(path.read_bytes())
    except ET.ParseError as exc:
        line, column = exc.position
        raise _fail(
            path, f"not well-formed XML ({exc.msg})", row=f"line {line}, column {column + 1}"
        ) from None
    if root.tag != f"{{{CODEBOOK_NS}}}CodeBook":
        raise _fail(
            path,
            f"the root element is {root.tag}, not a REFI-QDA CodeBook in {CODEBOOK_NS} "
            "(export the codebook from your QDA program as a .qdc file)",
        )
    return root


def load_qdc(path: Path) -> Framework:
    """The codebook at `path` as one framework; a malformed file is a clear E026 error."""
    path = Path(path)
    root = _root(path)
    framework_id = slug(path.stem, fallback="codebook")
    codes = root.find(f"{{{CODEBOOK_NS}}}Codes")
    concepts: list[Concept] = []
    seen: set[str] = set()

    def walk(element: ET.Element, group: str) -> None:
        for number, code in enumerate(element.iterfind(f"{{{CODEBOOK_NS}}}Code"), start=1):
            name = " ".join((code.get("name") or "").split())
            if not name:
                raise _fail(path, f"code {number} under '{group or 'the top'}' has no name")
            description = code.findtext(f"{{{CODEBOOK_NS}}}Description") or ""
            description = " ".join(_KEY_MARK.sub("", description).split())
            if code.get("isCodable", "true").strip().lower() in ("true", "1"):
                concept_id = slug(name, fallback="code")
                if concept_id in seen:
                    concept_id = slug(f"{group} {name}", fallback="code")
                base, n = concept_id, 2
                while concept_id in seen:
                    concept_id, n = f"{base}_{n}", n + 1
                seen.add(concept_id)
                concepts.append(
                    Concept(
                        framework=framework_id,
                        id=concept_id,
                        label=name,
                        description=description or (f"{group}: {name}" if group else name),
                        cues=[],
                    )
                )
            walk(code, name)

    if codes is not None:
        walk(codes, "")
    if not concepts:
        raise _fail(path, 'the codebook has no code that can be coded (isCodable="true")')
    return Framework(
        id=framework_id,
        label=" ".join(path.stem.split()),
        field=None,
        kind="codebook",
        citation=" ".join((root.get("origin") or "").split()),
        concepts=concepts,
        path=str(path),
    )
