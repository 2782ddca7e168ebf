"""Corpus: upload and ingest files (with a validation report first), rebuild, browse, delete
sources, download exports. Excerpt text is always shown as text, never as HTML or Markdown."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from crosswalk_ui import data, references_view
from crosswalk_ui.components import excerpt_cards, on_demand
from pipelines import store
from pipelines.errors import InputError
from pipelines.exports import EXPORTERS, export, safe_output_path
from pipelines.ingest.records import EVIDENCE_TYPES

TITLE = "Corpus"
SLUG = "corpus"
NEW_FIELD = "(a new field…)"


def render() -> None:
    st.title(TITLE)
    on_demand("Add files", "corpus_add_open", _add_files_form)
    frame = data.excerpts()
    if frame.empty:
        st.info("The store is empty. Add files above or with `python -m pipelines ingest FILE`.")
        return
    labels = data.field_labels()
    st.caption(
        f"{len(frame)} excerpts from {frame['source_id'].nunique()} sources in {frame['field'].nunique()} fields."
    )
    left, middle, right = st.columns(3)
    chosen_fields = left.multiselect(
        "Fields",
        sorted(frame["field"].unique()),
        format_func=lambda f: labels.get(f, f),
        key="corpus_fields",
    )
    chosen_evidence = middle.multiselect(
        "Evidence type", list(EVIDENCE_TYPES), format_func=EVIDENCE_TYPES.get, key="corpus_evidence"
    )
    query = right.text_input("Contains", key="corpus_contains")
    shown = frame
    if chosen_fields:
        shown = shown[shown["field"].isin(chosen_fields)]
    if chosen_evidence:
        shown = shown[shown["evidence_type"].isin(chosen_evidence)]
    if query:
        shown = shown[shown["text"].str.contains(query, case=False, regex=False)]
    table = shown.assign(field=shown["field"].map(lambda f: labels.get(f, f)))[
        [
            "excerpt_id",
            "external_id",
            "field",
            "kind",
            "text",
            "short_citation",
            "evidence_type",
            "location",
            "citation",
        ]
    ]
    on_demand(
        f"The {len(table)} excerpts as a table",
        "corpus_table_open",
        lambda: st.dataframe(table, hide_index=True, width="stretch", key="corpus_table"),
    )
    on_demand(
        f"The references of these {len(table)} excerpts' sources (RIS, BibTeX)",
        "corpus_references_open",
        lambda: references_view.render(shown["excerpt_id"].tolist()),
    )
    st.subheader("Excerpts with their citations")
    _excerpt_pages(shown)
    _delete_source(frame)
    _downloads()


@st.fragment
def _excerpt_pages(shown) -> None:
    """A fragment: turning the page reruns only the cards, not the whole table above."""
    per_page = 20
    pages = max(1, -(-len(shown) // per_page))
    page = st.number_input("Page", min_value=1, max_value=pages, value=1, step=1, key="corpus_page")
    excerpt_cards(shown.iloc[(page - 1) * per_page : page * per_page])


def _add_files_form() -> None:
    # Imported here: the readers (PDF, Word, Excel) are heavy and no other page needs them; the
    # app's warm-up thread imports them once the first page is served.
    from pipelines.ingest.readers import READERS, ReadOptions

    extensions = sorted({e.lstrip(".") for spec in READERS.values() for e in spec.extensions})
    uploads = st.file_uploader(
        "Files", type=extensions, accept_multiple_files=True, key="corpus_upload"
    )
    fields = list(data.field_labels())
    left, middle, right = st.columns(3)
    field = left.selectbox(
        "Field for rows that give none", [*fields, NEW_FIELD], key="corpus_upload_field"
    )
    if field == NEW_FIELD:
        field = (
            left.text_input(
                "New field (lower-case, e.g. youth_justice)", key="corpus_upload_new_field"
            ).strip()
            or None
        )
    evidence = middle.selectbox(
        "Evidence type for sources that give none",
        ["", *EVIDENCE_TYPES],
        format_func=lambda e: EVIDENCE_TYPES.get(e, "(none)"),
        key="corpus_upload_evidence",
    )
    text_column = right.text_input(
        "Text column (tables)", value="text", key="corpus_upload_text_column"
    )
    id_column = right.text_input("Id column (tables)", value="id", key="corpus_upload_id_column")
    field_column = right.text_input(
        "Field column (tables)", value="field", key="corpus_upload_field_column"
    )
    options = ReadOptions(
        field=field,
        evidence_type=evidence or None,
        text_column=text_column or "text",
        id_column=id_column or "id",
        field_column=field_column or "field",
    )
    if uploads:
        _check_and_ingest(uploads, options)


def _check_and_ingest(uploads, options) -> None:
    """A validation report of the uploaded files (nothing written), then a button to ingest them.

    The uploads are written to a temporary folder that lives for this run of the page only: every
    widget change reruns the page, and each run used to leave its folder behind (#28).
    """
    from pipelines.ingest.files import ingest_paths

    with tempfile.TemporaryDirectory(prefix="crosswalk-upload-") as temp:
        paths = _write_uploads(Path(temp), uploads)
        if paths is None:
            return
        names = [upload.name for upload in uploads]
        labels = _upload_labels(names)
        st.markdown("**Validation report** (nothing is written yet)")
        ok = _validation_report(paths, names, labels, options)
        if ok and st.button("Ingest these files", key="corpus_ingest"):
            try:
                reports = ingest_paths(data.conn(), paths, options=options, display_names=names)
            except InputError as error:
                st.error(error.message)
                return
            for label, report in zip(labels, reports, strict=True):
                st.text(
                    f"{label}: {report.new} new, {report.unchanged} unchanged, {len(report.rejected)} rejected"
                )
            added = sum(r.new for r in reports)
            st.success(f"Ingested: {added} new excerpts. Rebuild the analysis to include them.")
    if st.button("Rebuild the analysis", key="corpus_rebuild"):
        _rebuild()


def _write_uploads(folder: Path, uploads) -> list[Path] | None:
    """Each upload under its own numbered folder, so two files both named notes.csv are two
    files (the second used to overwrite the first); None, with the error shown, if a name is
    not a plain file name."""
    paths = []
    for number, upload in enumerate(uploads, start=1):
        own = folder / str(number)
        own.mkdir()
        # Only a plain base name is used, so an upload cannot write outside its folder.
        try:
            path = safe_output_path(own, Path(upload.name).name)
        except InputError as error:
            st.error(error.message)
            return None
        path.write_bytes(upload.getvalue())
        paths.append(path)
    return paths


def _upload_labels(names: list[str]) -> list[str]:
    """How the report names each upload: its name, numbered where two uploads share one."""
    repeated = {name for name in names if names.count(name) > 1}
    return [
        f"{name} (upload {number})" if name in repeated else name
        for number, name in enumerate(names, start=1)
    ]


def _validation_report(paths, names, labels, options) -> bool:
    """One line per upload saying what ingesting it would do; False if any upload is bad."""
    from pipelines.ingest.files import preview

    ok = True
    for path, name, label in zip(paths, names, labels, strict=True):
        try:
            report = preview(data.conn(), path, options=options, display_name=name)
        except InputError as error:
            ok = False
            st.error(error.message)
            continue
        spread = ", ".join(f"{f} {n}" for f, n in report.fields.items()) or "none"
        st.text(
            f"{label} ({report.format}): {report.new} new, {report.unchanged} unchanged, {len(report.rejected)} rejected; new by field: {spread}"
        )
        for row, reason in report.rejected[:10]:
            st.text(f"  rejected {row}: {reason}")
    return ok


def _rebuild() -> None:
    """Rebuild with the current run's codebooks and hand-coded file (`build.current_inputs`)."""
    from pipelines.analysis.build import current_inputs, run_build

    codebooks, coded = current_inputs(data.conn())
    if coded is not None and not coded.is_file():
        st.warning(
            f"The hand-coded file {coded} is no longer there: coverage is rebuilt from the cues "
            "alone. Build with `--coded FILE` to calibrate it again."
        )
        coded = None
    bar = st.progress(0.0, text="Starting…")

    def progress(done: int, total: int, label: str | None = None) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=label or "")

    try:
        result = run_build(
            data.conn(),
            model=data.model_id(),
            progress=progress,
            codebooks=codebooks,
            coded=coded,
        )
    except InputError as error:
        st.error(error.message)
        return
    bar.progress(1.0, text="Done")
    st.success("\n".join(result.summary_lines()[:2]))


@st.fragment
def _delete_source(frame) -> None:
    with st.expander("Delete a source"):
        sources = frame.drop_duplicates("source_id").set_index("source_id")
        source_id = st.selectbox(
            "Source",
            list(sources.index),
            format_func=lambda s: f"{sources.loc[s, 'short_citation']}: {sources.loc[s, 'title']}",
            key="corpus_delete_source",
        )
        count = int((frame["source_id"] == source_id).sum())
        confirm = st.checkbox(
            f"Yes, delete this source and its {count} excerpts", key="corpus_delete_confirm"
        )
        if st.button("Delete", disabled=not confirm, key="corpus_delete"):
            store.delete_source(data.conn(), int(source_id))
            st.success(f"Deleted {count} excerpts.")
            st.rerun()


@st.fragment
def _downloads() -> None:
    with st.expander("Download exports"):
        from pipelines import handoff  # noqa: F401  (registers the hand-off exports)
        from pipelines.analysis import results  # noqa: F401  (registers the analysis exporters)

        what = st.selectbox("Export", list(EXPORTERS), key="corpus_export_what")
        fmt = st.selectbox("Format", EXPORTERS[what].formats, key="corpus_export_format")
        if st.button("Prepare the file", key="corpus_export"):
            name = f"{what}.{fmt}"
            # The file is read back and its folder removed at once: the download button holds
            # the bytes, and each export used to leave a folder in the temporary directory (#28).
            with tempfile.TemporaryDirectory(prefix="crosswalk-export-") as temp:
                out = Path(temp) / name
                try:
                    export(data.conn(), what, out, fmt)
                except InputError as error:
                    st.error(error.message)
                    return
                payload = out.read_bytes()
            st.download_button(
                f"Download {name}", payload, file_name=name, key="corpus_export_download"
            )
