"""`python -m pipelines`: ingest, build, export, search, analogues, stats, fields, workshop.

Exit status: 0 success; 2 bad input or usage (message on stderr, store unchanged); 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pipelines import store
from pipelines.errors import InputError, input_error

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def wrap(func):
        COMMANDS[name] = func
        return func

    return wrap


class Progress:
    """A tqdm bar on stderr that the engine drives through a plain callback."""

    def __init__(self, description: str):
        from tqdm import tqdm

        self._tqdm = tqdm
        self.description = description
        self.bar = None
        self.last_draw = 0.0

    def __call__(self, done: int, total: int, label: str | None = None) -> None:
        if self.bar is None or self.bar.total != total:
            if self.bar is not None:
                self.bar.close()
            self.bar = self._tqdm(
                total=total, desc=self.description, file=sys.stderr, leave=False, dynamic_ncols=True
            )
        self.bar.n = done
        if label:
            self.bar.set_postfix_str(label[:40], refresh=False)
        now = time.monotonic()
        # Redraw at most five times a second: the engine may report every item.
        if done >= total or now - self.last_draw > 0.2:
            self.bar.refresh()
            self.last_draw = now

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def open_store(args: argparse.Namespace):
    return store.connect(args.db)


@command("ingest")
def cmd_ingest(args: argparse.Namespace) -> int:
    from pipelines.ingest.files import ingest_paths
    from pipelines.ingest.readers import ReadOptions

    options = ReadOptions(
        field=args.field,
        evidence_type=args.evidence_type,
        text_column=args.text_column,
        id_column=args.id_column,
        field_column=args.field_column,
        encoding=args.encoding,
    )
    conn = open_store(args)
    progress = Progress("ingest")
    try:
        reports = ingest_paths(
            conn,
            [Path(p) for p in args.paths],
            options=options,
            sources_path=Path(args.sources) if args.sources else None,
            progress=progress,
        )
    finally:
        progress.close()
    totals = {"new": 0, "unchanged": 0, "rejected": 0}
    for report in reports:
        totals["new"] += report.new
        totals["unchanged"] += report.unchanged
        totals["rejected"] += len(report.rejected)
        split = f", {report.split} split to fit the model" if report.split else ""
        print(
            f"{report.path}: {report.new} new, {report.unchanged} unchanged, {len(report.rejected)} rejected{split}"
        )
        for row, reason in report.rejected[:20]:
            where = row if isinstance(row, str) else f"row {row}"
            print(f"  rejected {where}: {reason}")
    print(
        f"total: {totals['new']} new, {totals['unchanged']} unchanged, {totals['rejected']} rejected"
    )
    return 0


@command("build")
def cmd_build(args: argparse.Namespace) -> int:
    from pipelines.analysis.build import run_build

    conn = open_store(args)
    progress = Progress("build")
    try:
        result = run_build(
            conn,
            model=args.model,
            concepts=[Path(p) for p in args.concepts or []],
            seed=args.seed,
            progress=progress,
            embed_only=args.embed_only,
            full=args.full,
            engine=args.engine,
            ray_address=args.ray_address,
            coded=Path(args.coded) if args.coded else None,
        )
    finally:
        progress.close()
    for line in result.summary_lines():
        print(line)
    return 0


@command("export")
def cmd_export(args: argparse.Namespace) -> int:
    from pipelines import handoff  # noqa: F401  (registers the hand-off exporters)
    from pipelines.analysis import results  # noqa: F401  (registers the analysis exporters)
    from pipelines.exports import export

    conn = open_store(args)
    out = Path(args.out)
    count = export(conn, args.what, out, args.format)
    print(f"wrote {count} {args.what} to {out}")
    return 0


def _index(conn, model: str | None, frame=None):
    """The search index of the current run's model and its embedder. Excerpts that await a build
    are left out, and one line on stderr says how many (the index covers what is embedded)."""
    from pipelines.embed.embedders import get_embedder
    from pipelines.embed.search import Index, pending_note

    run = store.latest_run(conn)
    embedder = get_embedder(model or (run["model_id"] if run is not None else None))
    index = Index.load(conn, embedder.model_id, frame=frame)
    if index.pending:
        note(pending_note(index.pending))
    return index, embedder


def note(text: str) -> None:
    print(f"note: {text}", file=sys.stderr)


def _shown(frame, columns: list[str]):
    """`frame` with its scores as printed: three decimals (a float32 score printed in full read
    0.6502000093460083)."""
    scores = [c for c in ("score", "similarity") if c in columns]
    return frame.assign(**{c: frame[c].astype(float).round(3) for c in scores})


def _print_rows(frame, args, extra: list[str]) -> None:
    columns = ["excerpt_id", "external_id", "field", "kind", "short_citation", *extra, "text"]
    frame = _shown(frame, extra)
    if args.json:
        print(
            frame[columns + ["citation", "evidence_type", "location"]].to_json(
                orient="records", force_ascii=False, indent=1
            )
        )
        return
    for row in frame.itertuples():
        values = " ".join(
            f"{v:.3f}" if isinstance(v, float) else f"{v}" for v in (getattr(row, c) for c in extra)
        )
        print(f"[{row.excerpt_id}] {row.field} | {row.short_citation} | {values}\n    {row.text}")


@command("search")
def cmd_search(args: argparse.Namespace) -> int:
    conn = open_store(args)
    index, embedder = _index(conn, args.model)
    query = embedder.encode([args.query])[0]
    fields = [f.strip() for f in args.field.split(",")] if args.field else None
    found = index.search(query, k=args.k, fields=fields)
    if found.empty:
        known = ", ".join(sorted(set(index.frame["field"])))
        note(f"no result: no embedded excerpt is in {args.field} (the fields are {known}).")
    _print_rows(found, args, ["score"])
    return 0


@command("analogues")
def cmd_analogues(args: argparse.Namespace) -> int:
    """Analogues of an excerpt named by its id or its external id; an empty answer says why."""
    from pipelines.embed.search import resolve_excerpt

    conn = open_store(args)
    frame = store.excerpts(conn)
    if frame.empty:
        raise input_error("E024")
    excerpt_id, which = resolve_excerpt(frame, args.excerpt_id)
    if which:
        note(which)
    index, _ = _index(conn, args.model, frame=frame)
    reason = index.no_analogues_reason(excerpt_id)
    if reason:
        note(reason)
        found = index.frame.iloc[0:0].assign(rank=[], similarity=[])
    else:
        found = index.analogues(excerpt_id, k=args.k)
    _print_rows(found, args, ["rank", "similarity"])
    return 0


@command("stats")
def cmd_stats(args: argparse.Namespace) -> int:
    conn = open_store(args)
    numbers = store.counts(conn)
    by_field = dict(store.counts_by_field(conn))
    by_evidence = {(e or "unspecified"): n for e, n in store.counts_by_evidence_type(conn)}
    run = store.latest_run(conn)
    result = {
        **numbers,
        "by_field": by_field,
        "by_evidence_type": by_evidence,
        "current_run": run["id"] if run else None,
    }
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    for key, value in numbers.items():
        print(f"{key}: {value}")
    print("by field: " + ", ".join(f"{k} {v}" for k, v in by_field.items()))
    print("by evidence type: " + ", ".join(f"{k} {v}" for k, v in by_evidence.items()))
    print(f"current run: {result['current_run'] or 'none'}")
    return 0


@command("fields")
def cmd_fields(args: argparse.Namespace) -> int:
    from pipelines.ingest.records import FIELD_SLUG

    conn = open_store(args)
    if args.action == "add":
        if not args.slug or not FIELD_SLUG.match(args.slug):
            raise input_error("E020", None, value=args.slug or "")
        labels = store.field_labels(conn)
        if args.slug in labels:
            raise input_error("E066", None, value=args.slug, label=labels[args.slug])
        with store.transaction(conn):
            store.add_field(conn, args.slug, args.label)
    elif args.action in ("close", "open"):
        store.set_fields_closed(conn, args.action == "close")
    frame = store.fields(conn)
    state = "closed" if store.fields_closed(conn) else "open"
    print(f"fields ({state} list):")
    for row in frame.itertuples():
        print(f"  {row.slug}\t{row.label}\t{row.colour}")
    return 0


def _workshop_paths(args: argparse.Namespace) -> tuple[Path, str, Path | None]:
    """The pack's path and format and the references' path, refused (exit 2) before any work."""
    from pipelines.workshop.formats import format_for

    out = Path(args.out)
    if out.is_dir():
        raise input_error("E065", None, value=str(out), example=out / "workshop-pack.docx")
    fmt = format_for(out, args.format)
    if not out.parent.is_dir():
        raise input_error("E029", None, value=str(out), detail="its folder does not exist")
    references = Path(args.references) if args.references else None
    if references is not None and references.suffix.lower() not in (".ris", ".bib", ".bibtex"):
        raise input_error(
            "E029", None, value=str(references), detail="--references must end in .ris or .bib"
        )
    if references is not None and not references.parent.is_dir():
        raise input_error("E029", None, value=str(references), detail="its folder does not exist")
    return out, fmt, references


@command("workshop")
def cmd_workshop(args: argparse.Namespace) -> int:
    from pipelines.embed.search import pending_note
    from pipelines.exports import write_atomic
    from pipelines.workshop.formats import render
    from pipelines.workshop.pack import PackRequest, build_pack, store_context

    out, fmt, references = _workshop_paths(args)
    request = PackRequest(
        focus=args.focus,
        fields=tuple(f.strip() for f in args.fields.split(",") if f.strip()),
        items=args.items,
        equal_per_field=not args.unbalanced,
        lived_experience=args.lived_experience,
        prefer_definitions=not args.no_definitions,
        keep_wording=args.keep_wording,
        seed=args.seed,
    )
    conn = open_store(args)
    context = store_context(conn, model=args.model)
    # The pack is chosen from the embedded excerpts; the rest wait for the next build.
    pending = store.counts(conn)["excerpts"] - len(context["frame"])
    if pending > 0:
        note(pending_note(pending))
    pack = build_pack(request, **context)
    write_atomic(out, render(pack, fmt))
    for warning in pack.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote a {len(pack.items)}-item pack on {pack.focus_label} to {out} ({fmt})")
    if references is not None:
        from pipelines.handoff.references import reference_sources, references_text

        found = reference_sources(conn, excerpt_ids=[item.excerpt_id for item in pack.items])
        kind = "ris" if references.suffix.lower() == ".ris" else "bibtex"
        write_atomic(references, references_text(found, kind).encode("utf-8"))
        print(f"wrote {len(found)} references of the pack's sources to {references} ({kind})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from pipelines.cli_args import build_parser as parser_for

    return parser_for(COMMANDS)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage message
        return int(exc.code or 0)
    try:
        return COMMANDS[args.command](args)
    except InputError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence: exit 1 with a message
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
