"""Every user-facing error message lives here, each with a code.

An `InputError` means the user's input or command was wrong (exit status 2) and the store was left
unchanged; the message says what was wrong, where (file, row, column) and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MESSAGES: dict[str, str] = {
    "E001": "the file is empty. Add a header row and at least one row of excerpts.",
    "E002": "the file has a header but no rows. Add at least one row with text.",
    "E003": "no '{column}' column (columns found: {found}). Name the text column '{column}' "
    "or pass --text-column with the name of the column that holds the excerpt text.",
    "E004": "the file is not valid {encoding} text ({detail}). Re-save it as UTF-8, "
    "or pass --encoding with the file's encoding (for example latin-1).",
    "E005": "this does not look like a {fmt} file: {detail}. Check that the file has the right "
    "extension and is not damaged.",
    "E006": "the PDF has no text layer (it is probably a scanned image). Run OCR on it first, "
    "or copy the text into a .txt file.",
    "E007": "the PDF is encrypted. Save an unencrypted copy and ingest that.",
    "E008": "malformed {fmt}: {detail}. Fix the entry or export the references again.",
    "E009": "column 'year': '{value}' is not a year. Use a four-digit year such as 2011, or leave "
    "it blank.",
    "E010": "unknown field '{value}'. This store only accepts the fields {known}. Add it with "
    "`python -m pipelines fields add {value}` or pick one of those.",
    "E011": "unknown evidence type '{value}'. Use one of: {known}.",
    "E012": "unknown kind '{value}'. Use one of: {known}, or leave it blank.",
    "E013": "no field given. Add a 'field' column, or pass --field (for example --field "
    "mental_health).",
    "E014": "unsupported file type '{suffix}'. Supported: {known}.",
    "E015": "the file does not exist.",
    "E016": "duplicate id '{value}' (also on {other}). Every row's id must be unique in a file.",
    "E017": "the file is {size} bytes, over the limit of {limit} bytes for {fmt} files. Split it "
    "into smaller files.",
    "E018": "the source id '{value}' is not in the sources file {sources}. Add the source there "
    "or fix the id.",
    "E019": "no text was found in the file. Nothing was ingested.",
    "E020": "field slug '{value}' is not valid. Use lower-case letters, digits and underscores, "
    "starting with a letter (for example mental_health).",
    "E021": "malformed JSON on this line ({detail}). Each line must be one JSON object.",
    "E022": "the value in column '{column}' must be text, not {kind}.",
    "E023": "unknown model or embedder '{value}'. Known names: {known}; or give a "
    "sentence-transformers model directory.",
    "E024": "there are no excerpts in the store yet. Ingest some files first: "
    "`python -m pipelines ingest FILE`.",
    "E025": "unknown {what} '{value}'. Known: {known}.",
    "E026": "malformed codebook: {detail}. See concepts/README.md for the schema.",
    "E027": "no analysis run yet. Run `python -m pipelines build` first.",
    "E028": "no excerpt with id {value} in the store.",
    "E029": "the output path {value} is not allowed: {detail}.",
    "E030": "the archive expands to more than {limit} bytes (a possible zip bomb). Refused.",
    "E031": "the file changed while it was being ingested. Nothing from it was written; run the "
    "command again once the file is saved.",
    "E060": "this is a folder, not a file. Give the files in it instead, for example "
    "`python -m pipelines ingest {pattern}` (the shell lists them for you).",
    "E061": "this is not a regular file (it is a pipe, socket or device). Save the data to a "
    "file and ingest that.",
    "E040": "workshop focus: {detail}. Give a concept key such as chime/hope, a theme such as "
    "theme:T3, or a question in words.",
    "E041": "workshop request: {detail}.",
    "E042": "unknown workshop format '{value}'. Use one of: {known}, or give --out a file name "
    "ending in one of them.",
    "E050": "unknown {kind} '{value}'. Use one of: {known}.",
    "E032": "no text was found in the file: none of its {count} {records} has {needed}. Nothing "
    "was ingested; export the references again with abstracts (and notes) included.",
    "E051": "--engine ray needs Ray, which is not installed. Install it with "
    "`pip install -e '.[ray]'` (`make setup` does), or build without --engine ray.",
    "E052": "cannot reach the Ray cluster at {address} ({detail}). Start it (`ray start --head`) "
    "or give the head node's address (HOST:PORT, or ray://HOST:10001); nothing was written.",
    "E053": "the embedding model cannot run in {asked} on this CPU: OpenVINO would run it in {ran} "
    "(CPU flags: {flags}; OpenVINO offers {offers}). Set CROSSWALK_PRECISION=auto or f32, or run "
    "on a CPU with AVX-512 BF16 or AMX.",
    "E054": "column '{column}' is given {count} times ({names}), so all but one would be lost. "
    "Give each column a unique name (names are compared ignoring case and surrounding spaces).",
    "E055": "key '{key}' holds a nested {kind}, which cannot be stored as a value. Give text or a "
    "number (flatten it into separate keys, or write it as a quoted string).",
    "E056": "key '{key}': the number {value} cannot be stored ({detail}). Write it as text in "
    "quotes, or leave it out.",
    "E057": "the JSON on this line is nested more than {limit} levels deep. Each line must be one "
    "flat object of keys and text or number values.",
    "E058": "YAML front matter: {detail}. Front matter holds plain citation keys and values, so "
    "aliases (*name) and nesting deeper than {limit} levels are refused; write each value out.",
    "E059": "the PDF goes past a safety limit of the PDF reader ({detail}). It may be a "
    "decompression bomb (a stream that inflates past {limit} bytes) or built to exhaust the "
    "reader; refused. Copy the text into a .txt file if the PDF is genuine.",
    "E064": "none of the store's {count} excerpts has an embedding for {model} yet. Run "
    "`python -m pipelines build` first.",
    "E065": "--out {value} is a folder. Give a file name, for example {example}.",
    "E066": "field '{value}' already exists (label '{label}'). Nothing was changed; give a new "
    "slug to add a field (no command changes an existing field's label).",
    "E067": "no excerpt has the id or the external id '{value}'. Give an excerpt_id or an "
    "external_id from `python -m pipelines export excerpts --out excerpts.csv`.",
    "E068": "the external id '{value}' is on {count} excerpts (from different files): excerpt "
    "ids {ids}. Give one of those ids instead.",
    "E069": "the coded-excerpts file cannot be read: {detail}. Give a CSV, TSV or XLSX file "
    "with the columns id and codes (see `python -m pipelines build --help`).",
    "E070": "no '{column}' column (columns found: {found}). A coded-excerpts file needs the "
    "columns id (the excerpt's id or its id from your file) and codes (concept ids, ';'-separated).",
    "E071": "no excerpt in the store has the id or the external id '{value}'. Give an excerpt_id "
    "or an external_id from `python -m pipelines export excerpts --out excerpts.csv`, and ingest "
    "the excerpt before coding it.",
    "E072": "unknown concept code '{value}' ({detail}). Write it as framework/concept, for "
    "example {example}, using a concept of the bundled frameworks or of a --concepts codebook.",
    "E073": "excerpt {value} is coded twice (also on {other}). Give each excerpt one row, with "
    "all its codes in that row.",
    "E074": "too few coded excerpts to calibrate any concept: {detail}. A concept is calibrated "
    "when at least {need} coded excerpts have it and {need} do not; code more excerpts, or build "
    "without --coded.",
}


@dataclass
class InputError(Exception):
    """Bad input or usage: exit status 2, store unchanged."""

    code: str
    file: str | None = None
    row: int | str | None = None
    params: dict | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = MESSAGES[self.code].format(**(self.params or {}))
        where = []
        if self.file is not None:
            where.append(str(self.file))
        if self.row is not None:
            where.append(self.row if isinstance(self.row, str) else f"row {self.row}")
        prefix = ": ".join(where)
        return _one_line(f"{prefix}: {text} [{self.code}]" if prefix else f"{text} [{self.code}]")

    def __str__(self) -> str:
        return self.message


def _one_line(text: str) -> str:
    """The message on one line whatever the values it quotes hold: control characters, and the
    separators `str.splitlines` breaks at (\\x1c-\\x1e, \\x85, U+2028, U+2029), written as escapes."""
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


def input_error(code: str, file: str | Path | None = None, row=None, **params) -> InputError:
    """Build an InputError; `file` is shown as given so the user recognises it."""
    return InputError(code, None if file is None else str(file), row, params)
