"""Findings as sentences: what every field shares and what is distinctive to each, said only as far
as the run shows it.

Two kinds of evidence feed the sentences, and each sentence says which it rests on: the
data-driven themes (the broad level first, then the fine themes inside it) and the framework
concepts. Both are judged by the same rule (`compare.verdicts`: exact binomial tests of each
field's count against its base rate, Benjamini-Hochberg adjusted), the concepts on the excerpts
tagged with them. A fragile theme is said to be fragile.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from pipelines.analysis.contract import Theme

ALPHA = 0.05  # as compare.ALPHA; this module is read by the app's first page, which must not
# import scipy (seconds on a busy machine): the tests run at build time (`concept_verdicts`).


@dataclass
class Finding:
    verdict: str  # shared | distinctive
    evidence: str  # "theme" or "concept"
    key: str  # the theme key or concept key the sentence rests on
    field: str | None  # the field of a distinctive finding
    sentence: str
    fragile: bool = False
    size: int = 0


def concept_composition(
    counts: dict[str, dict[str, int]], field_totals: dict[str, int], field_order: list[str]
) -> tuple[pd.DataFrame, list[str]]:
    """`compare.composition`'s table for concepts: each concept's tagged excerpts per field,
    tested against the field's share of the whole corpus."""
    from pipelines.analysis.compare import benjamini_hochberg, composition_cell

    total = sum(field_totals.values())
    keys = [k for k, by_field in counts.items() if sum(by_field.values()) > 0]
    rows = [
        composition_cell(
            index,
            field,
            int(counts[key].get(field, 0)),
            sum(counts[key].values()),
            field_totals.get(field, 0) / total if total else 0.0,
        )
        for index, key in enumerate(keys)
        for field in field_order
    ]
    table = pd.DataFrame(rows)
    if len(table):
        table["q_value"] = benjamini_hochberg(table["p_value"].to_numpy())
    return table, keys


def theme_findings(
    broad: list[Theme], fine: list[Theme], field_labels: dict[str, str], field_count: int
) -> list[Finding]:
    """Sentences from the themes: broad themes first, then the fine themes inside them."""
    out = []
    fine_by_parent: dict[str, list[Theme]] = {}
    for theme in fine:
        fine_by_parent.setdefault(theme.parent or "", []).append(theme)
    for level, themes in (("broad", broad), ("fine", fine)):
        for theme in sorted(themes, key=lambda t: -t.size):
            sentence = _theme_sentence(theme, level, field_labels, field_count, fine_by_parent)
            if sentence:
                out.append(
                    Finding(
                        theme.verdict,
                        "theme",
                        theme.key,
                        theme.verdict_field,
                        sentence,
                        theme.fragile,
                    )
                )
    return out


def _theme_sentence(theme, level, field_labels, field_count, fine_by_parent) -> str | None:
    name = theme.label
    children = [t for t in fine_by_parent.get(theme.key, []) if t.label != name]
    if theme.verdict == "shared" and field_count >= 2:
        text = (
            f"All {field_count} fields write about {_lower_first(name)}: {theme.size} excerpts, "
            f"each field within its expected share (binomial test, q ≥ {ALPHA})"
        )
        if level == "broad" and (own := _fields_own_themes(theme, children)):
            text += ", but mostly through themes of their own: " + ", ".join(
                f"'{t.label}' ({_lower_first(field_labels.get(t.verdict_field, t.verdict_field))})"
                for t in own[:4]
            )
            children = [t for t in children if t not in own]
    elif theme.verdict == "distinctive" and theme.verdict_field:
        field = field_labels.get(theme.verdict_field, theme.verdict_field)
        text = (
            f"Distinctive to {_lower_first(field)}: {_lower_first(name)} ({theme.verdict_reason})"
        )
    else:
        return None
    if level == "broad" and children:
        text += "; it holds the themes " + ", ".join(f"'{t.label}'" for t in children[:4])
    text += f". Evidence: a {level} theme found in the excerpts"
    if theme.fragile:
        text += f"; fragile (stability {theme.stability:.2f}): it may not re-form when the corpus is resampled"
    return text + "."


def _fields_own_themes(theme: Theme, children: list[Theme]) -> list[Theme]:
    """The fine themes of a shared broad theme that are each distinctive to one field, largest
    first, when they hold at least half its excerpts and belong to two fields or more: the broad
    theme is then shared in aggregate only, each field writing on it in its own themes, and a
    sentence that said only "all fields write about it" would mislead."""
    own = sorted(
        (t for t in children if t.verdict == "distinctive" and t.verdict_field),
        key=lambda t: -t.size,
    )
    if sum(t.size for t in own) * 2 < theme.size or len({t.verdict_field for t in own}) < 2:
        return []
    return own


def concept_verdicts(
    counts: dict[str, dict[str, int]], field_totals: dict[str, int], field_order: list[str]
) -> list[dict]:
    """Each framework concept judged by the themes' rule on the excerpts that carry it: a list of
    {concept, verdict, field, reason, size}; computed at build time and stored with the run."""
    from pipelines.analysis.compare import verdicts

    if len(field_order) < 2:
        return []
    table, keys = concept_composition(counts, field_totals, field_order)
    if table.empty:
        return []
    return [
        {
            "concept": keys[v.theme],
            "verdict": v.verdict,
            "field": v.field,
            "reason": v.reason,
            "size": int(sum(counts[keys[v.theme]].values())),
        }
        for v in verdicts(table)
    ]


def concept_names(frameworks, *, quoted: bool = True) -> dict[str, str]:
    """Each concept as a sentence names it: its label quoted, then its framework ("“Identity”
    (CHIME personal recovery processes)"), so a label that is a clause ("Based on strengths,
    goals and aspirations") reads as a name and a reader knows whose concept it is. Unquoted for
    lists, where each line is a name anyway."""
    names = {}
    for framework in frameworks:
        source = _PARENTHESES.sub("", framework.label).strip()
        for concept in framework.concepts:
            label = f"“{concept.label}”" if quoted else concept.label
            names[concept.key] = f"{label} ({source})"
    return names


_PARENTHESES = re.compile(r"\s*\([^)]*\)")


def concept_findings(
    judged: list[dict],
    concept_labels: dict[str, str],
    field_order: list[str],
    field_labels: dict[str, str],
) -> list[Finding]:
    """Sentences from the framework concepts' stored verdicts (`concept_verdicts`)."""
    if len(field_order) < 2:
        return []
    out = []
    for verdict in judged:
        key, size = verdict["concept"], verdict["size"]
        label = concept_labels.get(key, key)
        if verdict["verdict"] == "shared":
            sentence = (
                f"All {len(field_order)} fields write about {_lower_first(label)}: {size} excerpts "
                f"tagged, each field within its expected share (binomial test, q ≥ {ALPHA})."
            )
        elif verdict["verdict"] == "distinctive":
            field = field_labels.get(verdict["field"], verdict["field"])
            sentence = (
                f"Distinctive to {_lower_first(field)}: {_lower_first(label)}, {verdict['reason']}."
            )
        else:
            continue
        sentence += f" Evidence: the framework concept {key}, tagged on the excerpts."
        out.append(
            Finding(verdict["verdict"], "concept", key, verdict["field"], sentence, size=size)
        )
    return sorted(out, key=lambda f: -f.size)


def nothing_to_compare(field_labels: list[str]) -> str:
    """What the findings say of a run with fewer than two fields: a verdict weighs each field
    against the others, so one field alone is neither shared nor distinctive (#28)."""
    which = f"one field ({field_labels[0]})" if field_labels else "no field"
    return (
        f"The corpus has {which}: there is nothing to compare across fields. Add excerpts from "
        "another field and rebuild to see what the fields share and what is distinctive to each."
    )


def strongest(found: list[Finding], verdict: str, count: int) -> list[Finding]:
    """The first `count` theme findings and the first `count` concept findings of a verdict
    (each list comes strongest first), so both kinds of evidence are heard."""
    return [
        f
        for kind in ("theme", "concept")
        for f in [f for f in found if f.verdict == verdict and f.evidence == kind][:count]
    ]


def findings_among(
    fields: list[str],
    *,
    fine: tuple[list[Theme], dict[str, str]],
    broad: tuple[list[Theme], dict[str, str]],
    excerpt_fields: dict[str, list[str]],
    concept_counts: dict[str, dict[str, int]],
    concept_labels: dict[str, str],
    field_labels: dict[str, str],
) -> list[Finding]:
    """The findings of `fields` alone (Compare's choice): every theme and concept judged again by
    the run's rule on those fields' excerpts, with the base rates of those fields, so a field
    left out neither spoils a shared verdict nor makes a theme distinctive (#28). `fine` and
    `broad` are each level's themes and excerpt -> theme key map; fewer than two fields: none."""
    if len(fields) < 2:
        return []
    chosen = set(fields)
    field_of = {e: f for e, (f, *_kind) in excerpt_fields.items() if f in chosen}
    counts = {
        key: {f: int(by_field.get(f, 0)) for f in fields}
        for key, by_field in concept_counts.items()
    }
    judged = concept_verdicts(counts, dict(Counter(field_of.values())), fields)
    return theme_findings(
        _judged_among(*broad, field_of, fields),
        _judged_among(*fine, field_of, fields),
        field_labels,
        len(fields),
    ) + concept_findings(judged, concept_labels, fields, field_labels)


def _judged_among(
    themes: list[Theme], assignments: dict[str, str], field_of: dict[str, str], fields: list[str]
) -> list[Theme]:
    """Copies of `themes` with their size and verdict on the excerpts in `field_of` only."""
    from pipelines.analysis.compare import composition, verdicts

    members = [(assignments[e], f) for e, f in field_of.items() if e in assignments]
    if not members:
        return []
    keys = sorted({key for key, _ in members})
    position = {key: n for n, key in enumerate(keys)}
    table = composition(
        np.array([position[key] for key, _ in members]), [f for _, f in members], fields
    )
    verdict = {keys[v.theme]: v for v in verdicts(table)}
    sizes = Counter(key for key, _ in members)
    return [
        replace(
            theme,
            size=sizes[theme.key],
            verdict=verdict[theme.key].verdict,
            verdict_field=verdict[theme.key].field,
            verdict_reason=verdict[theme.key].reason,
        )
        for theme in themes
        if theme.key in verdict
    ]


def _lower_first(text: str) -> str:
    """Lower-case the first letter of a name inside a sentence, unless it is an acronym."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


MIN_COVERAGE_COUNT = 5  # fewer excerpts carrying a concept in a field: too few to compare


def wilson_interval(count: int, total: int, *, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a share `count / total`."""
    if total <= 0:
        return 0.0, 1.0
    share = count / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = (
        z * np.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    )
    return max(0.0, centre - half), min(1.0, centre + half)


def coverage_cells(
    counts: dict[str, dict[str, int]], totals: dict[str, int], keys: list[str]
) -> pd.DataFrame:
    """Concept x field cells: excerpts carrying the concept, the field's excerpts, the share, its
    95% interval, and whether the cell is too small to compare (`MIN_COVERAGE_COUNT`)."""
    rows = []
    for key in keys:
        for field, total in totals.items():
            count = int(counts.get(key, {}).get(field, 0))
            low, high = wilson_interval(count, total)
            rows.append(
                {
                    "concept": key,
                    "field": field,
                    "count": count,
                    "excerpts": total,
                    "share": count / total if total else 0.0,
                    "low": low,
                    "high": high,
                    "too_small": count < MIN_COVERAGE_COUNT,
                }
            )
    return pd.DataFrame(rows)
