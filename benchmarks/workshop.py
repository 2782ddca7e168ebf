"""Workshop selection benchmark: are a pack's items about the focus, balanced and varied?

Uses the development set's hand codes (benchmarks/devset/labels.csv) as the judge: for each CHIME
concept that has a matching hand code, a 24-item pack over three fields is built from a store built
with the real model, and its *precision* is the share of items a person coded with that code. Two
baselines from the same store and embeddings: the field's base rate (what a random balanced pick
gets) and the plain top-8 per field by closeness to the concept (no tags, no relevance gate, no
diversity). Also reported: items per field, the most similar pair of items, and the seconds to
build a pack once the store and model are loaded.

Run: `python benchmarks/workshop.py [--db data/crosswalk.sqlite]` (a store built by `make corpus`).
Writes benchmarks/results/workshop.md.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines import store  # noqa: E402
from pipelines.analysis.concepts import Concept, concept_prototypes  # noqa: E402
from pipelines.workshop.pack import PackRequest, build_pack, store_context  # noqa: E402

FOCI = {
    "chime/hope": "hope",
    "chime/identity": "identity",
    "chime/connectedness": "relationships",
    "chime/meaning": "meaning_purpose",
    "chime/empowerment": "agency_empowerment",
}
FIELDS = ("mental_health", "substance_use", "criminal_justice")
ITEMS = 24


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default=str(store.default_db_path()))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "workshop.md"))
    args = parser.parse_args()
    conn = store.connect(args.db)
    run = store.latest_run(conn)
    if run is None:
        print("no analysis run in the store: run `make corpus` first", file=sys.stderr)
        return 2
    context = store_context(conn)
    frame, vectors, results = context["frame"], context["vectors"], context["results"]
    encode = context["encode"]
    with (ROOT / "benchmarks" / "devset" / "labels.csv").open(encoding="utf-8") as handle:
        codes = {r["id"]: set(r["codes"].split(";")) for r in csv.DictReader(handle)}
    base_ids = [str(e).split("#")[0] for e in frame["external_id"]]
    concepts = {c["key"]: c for f in results["frameworks"] for c in f["concepts"]}
    field_of = frame["field"].to_numpy()

    def coded(position: int, code: str) -> bool:
        return code in codes.get(base_ids[position], set())

    rows = []
    for focus, code in FOCI.items():
        request = PackRequest(focus=focus, fields=FIELDS, items=ITEMS, seed=42)
        started = time.perf_counter()
        pack = build_pack(request, **context)
        seconds = time.perf_counter() - started
        position = {e: n for n, e in enumerate(frame["excerpt_id"])}
        chosen = [position[i.excerpt_id] for i in pack.items]
        precision = np.mean([coded(p, code) for p in chosen])
        in_fields = np.isin(field_of, FIELDS)
        base_rate = np.mean([coded(p, code) for p in np.flatnonzero(in_fields)])
        concept = concepts[focus]
        texts, _ = concept_prototypes(
            [Concept(*focus.split("/"), concept["label"], concept["description"], concept["cues"])]
        )
        closeness = (vectors @ encode(texts).T).max(axis=1)
        plain = [
            p
            for f in FIELDS
            for p in sorted(np.flatnonzero(field_of == f), key=lambda p: -closeness[p])[
                : ITEMS // len(FIELDS)
            ]
        ]
        plain_precision = np.mean([coded(p, code) for p in plain])
        similarity = vectors[chosen] @ vectors[chosen].T
        np.fill_diagonal(similarity, -1)
        plain_sim = vectors[plain] @ vectors[plain].T
        np.fill_diagonal(plain_sim, -1)
        rows.append(
            {
                "focus": focus,
                "code": code,
                "items": len(pack.items),
                "per field": "/".join(str(sum(i.field == f for i in pack.items)) for f in FIELDS),
                "precision": precision,
                "plain top-k": plain_precision,
                "base rate": base_rate,
                "max pair sim": similarity.max(),
                "plain max pair sim": plain_sim.max(),
                "seconds": seconds,
                "warnings": len(pack.warnings),
            }
        )
        print(rows[-1], flush=True)
    lines = [
        "# Workshop selection benchmark",
        "",
        f"Store: {len(frame)} excerpts, run {run['id']}, model {run['model_id']}. Packs of {ITEMS} "
        f"items over {', '.join(FIELDS)}, seed 42. Precision: the share of a pack's items that a "
        "person coded with the focus's code in the development set.",
        "",
        "| focus | hand code | items | per field | precision | plain top-k | base rate | max pair similarity (pack / plain) | seconds |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['focus']} | {r['code']} | {r['items']} | {r['per field']} | {r['precision']:.2f} "
            f"| {r['plain top-k']:.2f} | {r['base rate']:.2f} | {r['max pair sim']:.2f} / "
            f"{r['plain max pair sim']:.2f} | {r['seconds']:.2f} |"
        )
    mean = lambda key: statistics.mean(r[key] for r in rows)  # noqa: E731
    lines += [
        f"| **mean** | | | | **{mean('precision'):.2f}** | {mean('plain top-k'):.2f} | "
        f"{mean('base rate'):.2f} | {mean('max pair sim'):.2f} / {mean('plain max pair sim'):.2f} "
        f"| {mean('seconds'):.2f} |",
        "",
    ]
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
