"""The command line's arguments: one function per command, so each reads on its own."""

from __future__ import annotations

import argparse

from pipelines import __version__


def build_parser(commands: dict) -> argparse.ArgumentParser:
    """The parser for `python -m pipelines`; `commands` adds any registered command that brings
    its own `add_arguments`."""
    parser = argparse.ArgumentParser(
        prog="python -m pipelines", description="Crosswalk: cross-field concept explorer"
    )
    parser.add_argument("--version", action="version", version=f"crosswalk {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db", default=None, help="the store (default: $CROSSWALK_DB or data/crosswalk.sqlite)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _ingest(sub, common)
    _build(sub, common)
    _export(sub, common)
    _search(sub, common)
    _analogues(sub, common)
    _stats(sub, common)
    _fields(sub, common)
    _workshop(sub, common)
    for name, func in list(commands.items()):
        if name not in sub.choices and hasattr(func, "add_arguments"):
            func.add_arguments(sub.add_parser(name, parents=[common], help=func.__doc__))
    return parser


def positive_int(text: str) -> int:
    """An argparse type for a count of results: 0 or less would give an empty or a wrong
    answer (a negative k once raised a ValueError deep in the search), so it is a usage error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive whole number (1 or more)")
    return value


def _ingest(sub, common) -> None:
    p = sub.add_parser("ingest", parents=[common], help="read files into the store")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--field", help="field for rows that do not give one")
    p.add_argument("--evidence-type", help="evidence type for sources that do not give one")
    p.add_argument("--text-column", default="text")
    p.add_argument("--id-column", default="id")
    p.add_argument("--field-column", default="field")
    p.add_argument(
        "--encoding", help="the files' text encoding (default: UTF-8, or UTF-16 with a BOM)"
    )
    p.add_argument("--sources", help="a sources CSV that rows join by their source_id column")


def _build(sub, common) -> None:
    p = sub.add_parser("build", parents=[common], help="embed what is missing and run the analysis")
    p.add_argument("--concepts", nargs="*", metavar="PATH", help="extra codebook YAML files")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--model",
        default=None,
        help="embedder name or model directory (default: the bundled model)",
    )
    p.add_argument(
        "--coded",
        metavar="FILE",
        help="hand-coded excerpts that calibrate concept coverage: a CSV, TSV or XLSX file with "
        "the columns id (the excerpt's id from your file, or its excerpt_id) and codes (concept "
        "ids such as chime/hope or hope, separated by ';' or '|'; empty: none applies). Concepts "
        "with 5 coded excerpts with them and 5 without are calibrated; the rest keep their "
        "cue-based tags. Coded excerpts keep their hand codes.",
    )
    p.add_argument(
        "--embed-only", action="store_true", help="embed new text but do not run the analysis"
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="re-cluster from scratch even when the new excerpts could be placed into the "
        "current themes",
    )
    p.add_argument(
        "--engine",
        default=None,
        help="what embeds: local or ray (default: $CROSSWALK_ENGINE, else local)",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="with --engine ray: the cluster's head, HOST:PORT or ray://HOST:PORT "
        "(default: $RAY_ADDRESS, else a local Ray started for the build)",
    )


def _export(sub, common) -> None:
    p = sub.add_parser("export", parents=[common], help="write a result to a file")
    p.add_argument("what")
    p.add_argument("--out", required=True)
    p.add_argument(
        "--format",
        choices=["csv", "json", "graphml", "parquet", "qdpx", "qdc", "ris", "bibtex"],
    )


def _search(sub, common) -> None:
    p = sub.add_parser("search", parents=[common], help="semantic search")
    p.add_argument("query")
    p.add_argument("--field", help="one field or a comma-separated list")
    p.add_argument("--k", type=positive_int, default=10)
    p.add_argument("--json", action="store_true")
    p.add_argument("--model", default=None)


def _analogues(sub, common) -> None:
    p = sub.add_parser(
        "analogues", parents=[common], help="the nearest excerpts in each other field"
    )
    p.add_argument(
        "excerpt_id", metavar="EXCERPT_ID", help="the excerpt's id, or its id from your file"
    )
    p.add_argument("--k", type=positive_int, default=3)
    p.add_argument("--json", action="store_true")
    p.add_argument("--model", default=None)


def _stats(sub, common) -> None:
    p = sub.add_parser("stats", parents=[common], help="what the store holds")
    p.add_argument("--json", action="store_true")


def _fields(sub, common) -> None:
    p = sub.add_parser("fields", parents=[common], help="list, add, close or open the fields")
    p.add_argument("action", nargs="?", choices=["list", "add", "close", "open"], default="list")
    p.add_argument("slug", nargs="?")
    p.add_argument("--label")


def _workshop(sub, common) -> None:
    p = sub.add_parser("workshop", parents=[common], help="a workshop pack for trainers")
    p.add_argument("--focus", required=True, help="a concept (chime/hope), theme:T3 or a question")
    p.add_argument("--fields", required=True, help="two to four fields, comma-separated")
    p.add_argument("--items", type=int, default=24, help="8 to 40 (default 24)")
    p.add_argument("--format", help="docx, pptx, pdf, html, md or csv (default: from --out)")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--lived-experience",
        action="store_true",
        help="at least a third from lived-experience sources",
    )
    p.add_argument("--no-definitions", action="store_true", help="do not prefer definitions")
    p.add_argument(
        "--unbalanced", action="store_true", help="do not give each field an equal share"
    )
    p.add_argument(
        "--keep-wording", action="store_true", help="do not mask wording that gives the field away"
    )
    p.add_argument("--model", default=None)
    p.add_argument(
        "--references", help="also write the pack's sources as references (.ris or .bib)"
    )
