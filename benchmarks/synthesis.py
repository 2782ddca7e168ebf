"""What a practitioner reads, measured on the development set (issue #23): whether theme names say
what the hand labels say, whether the broad level is robust, and whether concept coverage per field
matches the hand-labelled share per field. Called by `quality.py`; figures go into its table."""

from __future__ import annotations

import csv
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, normalized_mutual_info_score

from pipelines import store
from pipelines.analysis.coded import read_coded
from pipelines.analysis.concepts import all_concepts, load_framework
from pipelines.analysis.contract import load_result
from pipelines.analysis.run import run_analysis
from pipelines.analysis.themes import author_surnames, key_terms, theme_label

ROBUST = 0.6


def name_accuracy(
    names: list[str], majority: list[str], label_names: dict[str, str], encode
) -> float:
    """The share of themes whose name's embedding is nearest to the name of their majority hand
    label among all the hand labels' names."""
    keys = list(label_names)
    label_vectors = np.asarray(encode([label_names[k] for k in keys]))
    name_vectors = np.asarray(encode(names))
    nearest = (name_vectors @ label_vectors.T).argmax(axis=1)
    return float(np.mean([keys[j] == m for j, m in zip(nearest, majority, strict=True)]))


def synthesis_measures(
    conn, run_id: int, frame, gold: list[str], codes: list[list[str]], devset, embedder
) -> dict:
    """`frame` holds the labelled excerpts (store order), `gold` their theme labels, `codes` their
    1-3 codes."""
    codebook = load_framework(devset / "codebook.yaml")
    label_names = {c.id: c.label for c in all_concepts([codebook])}
    ids = [str(i) for i in frame["excerpt_id"]]
    out: dict = {}
    for level, themes_name, assign_name in (
        ("fine", "themes", "assignments"),
        ("broad", "broad_themes", "broad_assignments"),
    ):
        themes = load_result(conn, run_id, themes_name) or []
        assignments = store.run_result(conn, run_id, assign_name) or {}
        ours = [assignments[i] for i in ids]
        out[f"nmi_{level}"] = float(normalized_mutual_info_score(gold, ours))
        out[f"{level}_themes"] = len(themes)
        out[f"{level}_robust_share"] = float(np.mean([t.stability >= ROBUST for t in themes]))
        majority = {
            t.key: Counter(g for g, a in zip(gold, ours, strict=True) if a == t.key).most_common(1)
            for t in themes
        }
        named = [t for t in themes if majority[t.key]]
        out[f"names_{level}"] = name_accuracy(
            [t.label for t in named],
            [majority[t.key][0][0] for t in named],
            label_names,
            embedder.encode,
        )
        # The word-bag labels the run gave before names: c-TF-IDF's three strongest words.
        index = {t.key: n for n, t in enumerate(themes)}
        labels = np.array([index[a] for a in ours])
        surnames = author_surnames(frame["authors"].tolist())
        terms = key_terms(frame["text"].tolist(), labels, extra_stop_words=surnames)
        out[f"names_{level}_wordbag"] = name_accuracy(
            [theme_label(terms[index[t.key]]) for t in named],
            [majority[t.key][0][0] for t in named],
            label_names,
            embedder.encode,
        )
    out.update(coverage_agreement(conn, run_id, frame, codes, list(label_names)))
    return out


def coverage_agreement(
    conn, run_id: int, frame, codes: list[list[str]], label_ids: list[str]
) -> dict:
    """Per field x label: the share of the field's labelled excerpts the codebook's concept is
    counted on (`coverage_counts`, over the labelled excerpts) against the share hand-labelled."""
    tags = load_result(conn, run_id, "tags") or {}
    fields = frame["field"].to_numpy()
    ids = [str(i) for i in frame["excerpt_id"]]
    counts = store.run_result(conn, run_id, "coverage_counts") or {}
    totals = Counter(fields.tolist())
    diffs, agree, per_label = [], 0, {}
    for label in label_ids:
        key = f"dev/{label}"
        hand = {
            f: np.mean([label in c for c, g in zip(codes, fields, strict=True) if g == f])
            for f in totals
        }
        counted = {f: counts.get(key, {}).get(f, 0) / totals[f] for f in totals}
        diffs += [abs(hand[f] - counted[f]) for f in totals]
        agree += int(max(hand, key=hand.get) == max(counted, key=counted.get))
        per_label[label] = (hand, counted)
    tagged = np.mean([len(tags.get(i, [])) for i in ids])
    return {
        "coverage_mad": float(np.mean(diffs)),
        "coverage_top_field_agreement": agree / len(label_ids),
        "coverage_per_label": per_label,
        "tags_per_excerpt_all": float(tagged),
    }


def calibrated_measures(
    conn,
    embedder,
    frameworks,
    frame,
    codes: list[list[str]],
    half: np.ndarray,
    run_id: int,
    devset,
    *,
    seed: int = 42,
) -> dict:
    """Coverage calibrated on hand codes (`build --coded`): half A's codes given as a coded file,
    coverage and tagging measured on half B (none of it coded) against the run on the cues alone
    (`run_id`), on the same half. Adds one run to the store (the calibrated one)."""
    label_ids = [c.id for c in all_concepts([load_framework(devset / "codebook.yaml")])]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "coded_half_a.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "codes"])
            for external, written, part in zip(frame["external_id"], codes, half, strict=True):
                if part == 0:
                    writer.writerow([external, ";".join(written)])
        coded = read_coded(path, store.excerpts(conn), frameworks)
        calibrated = run_analysis(
            conn, embedder=embedder, frameworks=frameworks, seed=seed, force=True, coded=coded
        )
    report = load_result(conn, calibrated.run_id, "calibration")
    held_out = half == 1
    out = {
        "calibration_coded": report.coded,
        "calibration_concepts": f"{report.calibrated} of {len(report.concepts)}",
    }
    for name, run in (("cues", run_id), ("calibrated", calibrated.run_id)):
        found = half_measures(conn, run, frame, codes, label_ids, held_out)
        out.update({f"{key}_B_{name}": value for key, value in found.items()})
    out.update(
        {f"{k}_B_hand_A": v for k, v in hand_half_agreement(frame, codes, label_ids, half).items()}
    )
    return out


def hand_half_agreement(frame, codes: list[list[str]], label_ids: list[str], half) -> dict:
    """Half A's hand-labelled share per field x label taken as the forecast of half B's: what
    the coders' own labels allow, the ceiling for any tagging calibrated on half A (two samples
    of about 90 excerpts per field differ by chance alone)."""
    fields = frame["field"].to_numpy()
    names = sorted(set(fields.tolist()))
    diffs, agree = [], 0
    for label in label_ids:
        has = np.array([label in c for c in codes])
        share = [
            {f: float(has[(fields == f) & (half == part)].mean()) for f in names} for part in (0, 1)
        ]
        diffs += [abs(share[0][f] - share[1][f]) for f in names]
        agree += int(max(share[0], key=share[0].get) == max(share[1], key=share[1].get))
    return {
        "coverage_mad": float(np.mean(diffs)),
        "coverage_top_field_agreement": agree / len(label_ids),
    }


def half_measures(
    conn, run_id: int, frame, codes: list[list[str]], label_ids: list[str], mask: np.ndarray
) -> dict:
    """On the excerpts of `mask`: coverage per field x label as the run tags the codebook's
    concepts (its tags are what its coverage counts, the codebook being read on its own) against
    the hand-labelled share, the top field's agreement, and tagging macro-F1."""
    tags = store.run_result(conn, run_id, "tags") or {}
    ids = [str(i) for i, m in zip(frame["excerpt_id"], mask, strict=True) if m]
    fields = frame["field"].to_numpy()[mask]
    hand_codes = [set(c) for c, m in zip(codes, mask, strict=True) if m]
    ours = [
        {t["concept"].split("/", 1)[1] for t in tags[i] if t["concept"].startswith("dev/")}
        for i in ids
    ]
    y_true = np.array([[label in c for label in label_ids] for c in hand_codes])
    y_ours = np.array([[label in c for label in label_ids] for c in ours])
    diffs, agree = [], 0
    field_names = sorted(set(fields.tolist()))
    for j, _label in enumerate(label_ids):
        hand = {f: float(y_true[fields == f, j].mean()) for f in field_names}
        counted = {f: float(y_ours[fields == f, j].mean()) for f in field_names}
        diffs += [abs(hand[f] - counted[f]) for f in field_names]
        agree += int(max(hand, key=hand.get) == max(counted, key=counted.get))
    return {
        "coverage_mad": float(np.mean(diffs)),
        "coverage_top_field_agreement": agree / len(label_ids),
        "tag_macro_f1": float(f1_score(y_true, y_ours, average="macro", zero_division=0)),
    }
