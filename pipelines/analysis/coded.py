"""Hand-coded excerpts (`build --coded FILE`): which concepts a person judged each excerpt to carry.

The file is CSV, TSV or XLSX with two columns:

- `id`: the excerpt's external id (the `id` column of the file it was ingested from) or its
  excerpt_id in the store. The external id is tried first, because a coded file is usually the
  researcher's own spreadsheet, whose ids are the ones ingest kept.
- `codes`: concept ids separated by `;` or `|`, each `framework/concept` (`chime/hope`) or bare
  (`hope`). A bare id is looked up in the `--concepts` codebooks first, then in the bundled
  frameworks; one that names concepts of two frameworks must be written with its framework. An
  empty cell means the excerpt was coded and none of the concepts applies.

Other columns are ignored. A concept counts as coded for every excerpt in the file when its
framework appears in the file at all: an excerpt without it is a negative example. Frameworks the
file never mentions are left to the cues (calibration does not touch them).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines.analysis.concepts import Framework, all_concepts, is_bundled
from pipelines.errors import input_error
from pipelines.ingest.readers.tabular import TABLE_SUFFIXES, cell, table_rows

MIN_EXAMPLES = 5  # coded excerpts with, and without, a concept before it is calibrated
_SEPARATORS = re.compile(r"[;|]")


@dataclass(frozen=True)
class CodedExcerpts:
    """The hand codes of one file, resolved against the store and the loaded frameworks."""

    path: str
    codes: dict[int, frozenset[str]]  # excerpt_id -> concept keys (framework/concept)
    frameworks: tuple[str, ...]  # the framework ids the file's codes come from, sorted

    def digest(self) -> str:
        """A hash of what the codes say (not of the file's bytes), so a run built with the same
        codes is reused and one with changed codes is not."""
        text = repr((sorted((i, sorted(keys)) for i, keys in self.codes.items()), self.frameworks))
        return hashlib.sha256(text.encode()).hexdigest()

    def counts(self, key: str) -> tuple[int, int]:
        """(coded excerpts with the concept, coded excerpts without it)."""
        positives = sum(key in keys for keys in self.codes.values())
        return positives, len(self.codes) - positives


def read_coded(
    path: Path, excerpts: pd.DataFrame, frameworks: list[Framework], *, need: int = MIN_EXAMPLES
) -> CodedExcerpts:
    """Read and check a coded-excerpts file (the module docstring gives its format).

    `excerpts` is the store's excerpts (`store.excerpts`). Any problem is an InputError naming the
    file and the row, raised before a build writes anything: a missing or unreadable file (E069), a
    missing column (E070), an id not in the store (E071, or E068 for an external id on several
    excerpts), an unknown concept (E072), an excerpt coded twice (E073), and a file in which no
    concept has `need` coded excerpts with it and `need` without (E074)."""
    shown = str(path)
    _check_file(path, shown)
    header, rows = table_rows(path, shown=shown)
    for column in ("id", "codes"):
        if column not in header:
            found = ", ".join(sorted(h for h in header if h)) or "none"
            raise input_error("E070", shown, row="header", column=column, found=found)
    find_excerpt = _excerpt_finder(excerpts, shown)
    find_concept = _concept_finder(frameworks, shown)
    codes: dict[int, frozenset[str]] = {}
    seen: dict[int, int | str] = {}
    for row, values in rows:
        excerpt_id = find_excerpt(cell(values.get("id")), row)
        if excerpt_id in seen:
            where = seen[excerpt_id]
            other = where if isinstance(where, str) else f"row {where}"
            value = f"'{cell(values.get('id'))}' (excerpt_id {excerpt_id})"
            raise input_error("E073", shown, row=row, value=value, other=other)
        seen[excerpt_id] = row
        written = [c.strip() for c in _SEPARATORS.split(cell(values.get("codes")))]
        codes[excerpt_id] = frozenset(find_concept(c, row) for c in written if c)
    coded = CodedExcerpts(
        shown, codes, tuple(sorted({k.split("/")[0] for keys in codes.values() for k in keys}))
    )
    _check_enough(coded, frameworks, shown, need=need)
    return coded


def coded_concepts(coded: CodedExcerpts, frameworks: list[Framework]) -> list[str]:
    """The keys of every concept the file speaks for: all concepts of the frameworks it uses."""
    return [c.key for c in all_concepts(frameworks) if c.framework in coded.frameworks]


def _check_file(path: Path, shown: str) -> None:
    if not path.exists():
        raise input_error("E069", shown, detail="the file does not exist")
    if not path.is_file():
        raise input_error("E069", shown, detail="it is not a regular file (a folder, say)")
    if not os.access(path, os.R_OK):
        raise input_error("E069", shown, detail="permission to read it is denied")
    if path.suffix.lower() not in TABLE_SUFFIXES:
        known = ", ".join(sorted(TABLE_SUFFIXES))
        raise input_error(
            "E069", shown, detail=f"the file type '{path.suffix or 'none'}' is not one of {known}"
        )


def _excerpt_finder(excerpts: pd.DataFrame, shown: str):
    """A function from a written id (and its row, for the message) to the excerpt_id it names."""
    external: dict[str, list[int]] = {}
    for excerpt_id, value in zip(excerpts["excerpt_id"], excerpts["external_id"], strict=True):
        if value is not None and not pd.isna(value) and str(value):
            external.setdefault(str(value), []).append(int(excerpt_id))
    internal = {int(i) for i in excerpts["excerpt_id"]}

    def find(value: str, row) -> int:
        found = external.get(value, [])
        if len(found) > 1:
            ids = ", ".join(map(str, found))
            raise input_error("E068", shown, row=row, value=value, count=len(found), ids=ids)
        if found:
            return found[0]
        if value.isdigit() and int(value) in internal:
            return int(value)
        raise input_error("E071", shown, row=row, value=value)

    return find


def _concept_finder(frameworks: list[Framework], shown: str):
    """A function from a written code (and its row) to a concept key: a key as written, or a bare
    id looked up in the user's codebooks before the bundled frameworks."""
    keys = {c.key for c in all_concepts(frameworks)}
    bare: dict[str, list[list[str]]] = {}
    for bundled in (False, True):
        for framework in frameworks:
            if is_bundled(framework) == bundled:
                for concept in framework.concepts:
                    tiers = bare.setdefault(concept.id, [[], []])
                    tiers[int(bundled)].append(concept.key)
    example = next(iter(sorted(keys)), "chime/hope")

    def find(code: str, row) -> str:
        if "/" in code:
            if code in keys:
                return code
            framework = code.split("/", 1)[0]
            known = {f.id for f in frameworks}
            detail = (
                f"framework '{framework}' has no such concept"
                if framework in known
                else f"no framework '{framework}' is loaded"
            )
            raise input_error("E072", shown, row=row, value=code, detail=detail, example=example)
        tiers = bare.get(code, [[], []])
        found = tiers[0] or tiers[1]
        if len(found) == 1:
            return found[0]
        detail = (
            f"it is a concept of {len(found)} frameworks: {', '.join(found)}"
            if found
            else "no loaded framework has a concept with this id"
        )
        first = found[0] if found else example
        raise input_error("E072", shown, row=row, value=code, detail=detail, example=first)

    return find


def _check_enough(
    coded: CodedExcerpts, frameworks: list[Framework], shown: str, *, need: int
) -> None:
    """E074 unless some concept has `need` coded excerpts with it and `need` without: a file that
    calibrates nothing would build exactly as without it, which is not what its author asked."""
    best = (0, 0, "")
    for key in coded_concepts(coded, frameworks):
        positives, negatives = coded.counts(key)
        if positives >= need and negatives >= need:
            return
        best = max(best, (min(positives, negatives), positives, key))
    if not coded.codes:
        detail = "the file has no rows of coded excerpts"
    elif not best[2]:
        detail = f"none of its {len(coded.codes)} coded excerpts has a code"
    else:
        positives, negatives = coded.counts(best[2])
        detail = (
            f"{len(coded.codes)} excerpts coded; the best-covered concept, {best[2]}, has "
            f"{positives} with it and {negatives} without"
        )
    raise input_error("E074", shown, detail=detail, need=need)
