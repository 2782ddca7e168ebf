"""Cross-field comparison: composition and verdicts, distinctive vocabulary, field similarity,
analogues, side-by-side definitions and "same word, different meaning"."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from pipelines.analysis.themes import tokens

ALPHA = 0.05
MIN_CELL = 3  # a field needs at least this many excerpts in a theme to count as present
DISTINCTIVE_LIFT = 1.5
ONE_FIELD = "one field only: there is nothing to compare across fields"


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Adjusted p-values (q-values) controlling the false discovery rate."""
    p = np.asarray(p_values, dtype=float)
    n = len(p)
    if n == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * n / np.arange(1, n + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(n)
    q[order] = np.minimum(ranked, 1.0)
    return q


@dataclass
class Verdict:
    theme: int
    verdict: str  # shared | distinctive | mixed
    field: str | None  # the field a distinctive theme belongs to
    reason: str


def composition(themes: np.ndarray, fields: list[str], field_order: list[str]) -> pd.DataFrame:
    """Per theme x field: count, share of the theme, expected count from the field's base rate,
    lift (observed / expected), a two-sided exact binomial test and its BH-adjusted q-value."""
    frame = pd.DataFrame({"theme": themes, "field": fields})
    n = len(frame)
    base = frame["field"].value_counts() / n
    rows = []
    for theme, group in frame.groupby("theme", sort=True):
        size = len(group)
        counts = group["field"].value_counts()
        for field in field_order:
            rows.append(
                composition_cell(
                    int(theme), field, int(counts.get(field, 0)), size, float(base.get(field, 0.0))
                )
            )
    table = pd.DataFrame(rows)
    table["q_value"] = benjamini_hochberg(table["p_value"].to_numpy()) if len(table) else []
    return table


def composition_cell(theme: int, field: str, observed: int, size: int, rate: float) -> dict:
    """One theme x field cell: the count against the field's base rate, with its exact binomial
    p-value (a q-value is added over the whole table)."""
    expected = size * rate
    return {
        "theme": theme,
        "field": field,
        "count": observed,
        "theme_size": size,
        "share": observed / size,
        "base_rate": rate,
        "expected": expected,
        "lift": observed / expected if expected else np.nan,
        "p_value": binomtest(observed, size, rate).pvalue if 0 < rate < 1 else 1.0,
    }


def verdicts(table: pd.DataFrame) -> list[Verdict]:
    """The stated rule, applied to `composition`:

    - distinctive to F: F is over-represented (q < 0.05, lift >= 1.5, count >= MIN_CELL) and holds
      at least half the theme, and no other field is over-represented;
    - shared: every field is present (count >= MIN_CELL, at least half its expected count) and no
      field is significantly over- or under-represented (q >= 0.05);
    - mixed: anything else (e.g. two fields over-represented, or one field missing), and every
      theme of a single field, which has no other field to be shared with or set apart from.
    """
    if table["field"].nunique() < 2:
        return [Verdict(int(t), "mixed", None, ONE_FIELD) for t in sorted(table["theme"].unique())]
    out = []
    for theme, rows in table.groupby("theme", sort=True):
        over = rows[
            (rows["q_value"] < ALPHA)
            & (rows["lift"] >= DISTINCTIVE_LIFT)
            & (rows["count"] >= MIN_CELL)
        ]
        under = rows[(rows["q_value"] < ALPHA) & (rows["lift"] < 1)]
        present = rows[(rows["count"] >= MIN_CELL) & (rows["count"] >= 0.5 * rows["expected"])]
        if len(over) == 1 and float(over["share"].iloc[0]) >= 0.5:
            field = str(over["field"].iloc[0])
            row = over.iloc[0]
            reason = f"{int(row['count'])} of {int(row['theme_size'])} excerpts ({row['share']:.0%}) vs a base rate of {row['base_rate']:.0%}; lift {row['lift']:.1f}, q = {row['q_value']:.2g}"
            out.append(Verdict(int(theme), "distinctive", field, reason))
        elif over.empty and under.empty and len(present) == len(rows):
            reason = f"all {len(rows)} fields present at near their base rates (no cell differs at q < {ALPHA})"
            out.append(Verdict(int(theme), "shared", None, reason))
        else:
            parts = []
            if len(over):
                parts.append(
                    "over-represented: "
                    + ", ".join(f"{r.field} (lift {r.lift:.1f})" for r in over.itertuples())
                )
            missing = rows[~rows.index.isin(present.index)]
            if len(missing):
                parts.append("absent or sparse: " + ", ".join(missing["field"]))
            if len(under) and not len(missing):
                parts.append("under-represented: " + ", ".join(under["field"]))
            out.append(Verdict(int(theme), "mixed", None, "; ".join(parts) or "no single pattern"))
    return out


def log_odds(
    texts: list[str],
    groups: list[str],
    *,
    prior_strength: float = 500.0,
    top: int = 15,
    min_count: int = 3,
) -> pd.DataFrame:
    """Distinctive words of each group vs all the others: the log-odds ratio with an informative
    Dirichlet prior (Monroe, Colaresi & Quinn 2008), with z-scores."""
    per_group: dict[str, Counter] = {}
    for text, group in zip(texts, groups, strict=True):
        per_group.setdefault(group, Counter()).update(tokens(text))
    total = Counter()
    for counts in per_group.values():
        total.update(counts)
    vocab = [w for w, c in total.items() if c >= min_count]
    if not vocab:
        return pd.DataFrame(columns=["field", "term", "log_odds", "z", "count"])
    grand = sum(total[w] for w in vocab)
    alpha = {w: prior_strength * total[w] / grand for w in vocab}
    a0 = sum(alpha.values())
    rows = []
    for group, counts in sorted(per_group.items()):
        n_i = sum(counts[w] for w in vocab)
        n_j = grand - n_i
        scored = []
        for w in vocab:
            y_i = counts[w]
            y_j = total[w] - y_i
            a = alpha[w]
            delta = np.log((y_i + a) / (n_i + a0 - y_i - a)) - np.log(
                (y_j + a) / (n_j + a0 - y_j - a)
            )
            variance = 1.0 / (y_i + a) + 1.0 / (y_j + a)
            scored.append((w, delta, delta / np.sqrt(variance), y_i))
        scored.sort(key=lambda s: (-s[2], s[0]))
        for w, delta, z, y in scored[:top]:
            rows.append(
                {
                    "field": group,
                    "term": w,
                    "log_odds": round(float(delta), 4),
                    "z": round(float(z), 3),
                    "count": int(y),
                }
            )
    return pd.DataFrame(rows)


def field_similarity(
    vectors: np.ndarray, fields: list[str], field_order: list[str]
) -> pd.DataFrame:
    """Mean cosine similarity between excerpts of each pair of fields (diagonal: within a field)."""
    fields_arr = np.asarray(fields)
    present = [f for f in field_order if (fields_arr == f).any()]
    matrix = np.zeros((len(present), len(present)))
    means = {f: vectors[fields_arr == f].mean(axis=0) for f in present}
    for i, a in enumerate(present):
        for j, b in enumerate(present):
            # mean pairwise cosine = dot product of the mean vectors (rows are unit length)
            matrix[i, j] = float(means[a] @ means[b])
    return pd.DataFrame(matrix, index=present, columns=present).round(4)


def analogues(
    indices: list[int], vectors: np.ndarray, fields, *, k: int = 3
) -> list[dict[str, list[tuple[int, float]]]]:
    """For each of `indices`, the `k` nearest excerpts in each other field (fields in name order,
    nearest first, ties in corpus order) with their similarity; one matrix product for all."""
    fields = np.asarray(fields)
    members = {field: np.flatnonzero(fields == field) for field in sorted(set(fields.tolist()))}
    scores = vectors[list(indices)] @ vectors.T
    out = []
    for row, index in enumerate(indices):
        found = {}
        for field, group in members.items():
            if field != fields[index]:
                order = group[np.argsort(-scores[row, group], kind="stable")[:k]]
                found[field] = [(int(i), float(scores[row, i])) for i in order]
        out.append(found)
    return out


def term_contexts(
    term: str,
    texts: list[str],
    vectors: np.ndarray,
    fields: list[str],
    field_order: list[str],
    *,
    k: int = 2,
) -> dict:
    """'Same word, different meaning': how the contexts of `term` differ between fields.

    For each field, the excerpts using the term, the words that distinguish that field's uses
    (log-odds within those excerpts), the representative uses, and the similarity of each pair of
    fields' uses.
    """
    term_lower = term.lower()
    using = [i for i, t in enumerate(texts) if term_lower in t.lower()]
    fields_arr = np.asarray(fields)
    result = {"term": term, "count": len(using), "fields": {}, "similarity": {}}
    if not using:
        return result
    sub_texts = [texts[i] for i in using]
    sub_fields = [fields[i] for i in using]
    vocab = log_odds(sub_texts, sub_fields, top=8, min_count=2)
    centres = {}
    for field in field_order:
        members = [i for i in using if fields_arr[i] == field]
        if not members:
            continue
        centre = vectors[members].mean(axis=0)
        centres[field] = centre / max(np.linalg.norm(centre), 1e-12)
        order = sorted(members, key=lambda i: -float(vectors[i] @ centres[field]))[:k]
        words = vocab[vocab["field"] == field]["term"].tolist() if len(vocab) else []
        result["fields"][field] = {
            "count": len(members),
            "distinctive_words": [w for w in words if w != term_lower][:6],
            "examples": order,
        }
    for a in centres:
        for b in centres:
            if a < b:
                result["similarity"][f"{a}|{b}"] = round(float(centres[a] @ centres[b]), 4)
    return result
