"""The bundled corpus's bibliography (corpus/BIBLIOGRAPHY.md), generated from corpus/sources.csv.

Run `python -m pipelines.bibliography` after editing sources.csv; a test checks it is current.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from pipelines.ingest.records import EVIDENCE_TYPES

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def render_bibliography(sources: list[dict]) -> str:
    lines = [
        "# Bibliography of the bundled corpus",
        "",
        "Generated from `sources.csv` by `python -m pipelines.bibliography`; APA 7.",
        "",
    ]
    for evidence, label in EVIDENCE_TYPES.items():
        chosen = sorted(
            (s for s in sources if s["evidence_type"] == evidence),
            key=lambda s: s["citation"].lower(),
        )
        if not chosen:
            continue
        lines += [f"## {label} ({len(chosen)})", ""]
        lines += [f"- {s['citation']}" for s in chosen]
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    with (CORPUS / "sources.csv").open(encoding="utf-8", newline="") as handle:
        sources = list(csv.DictReader(handle))
    (CORPUS / "BIBLIOGRAPHY.md").write_text(render_bibliography(sources), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
