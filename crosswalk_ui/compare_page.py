"""Compare: fields side by side on a concept, a theme or a question, with the numbers behind it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from crosswalk_ui import charts, data, timelens_view, views
from crosswalk_ui.components import (
    awaiting_build,
    best_per_field,
    default_concept,
    drawing,
    excerpt_columns,
    field_name,
    finding_lists,
    on_demand,
    static_table,
)
from crosswalk_ui.markup import plain
from pipelines.analysis import findings, focus
from pipelines.analysis.concepts import Framework, all_concepts, concepts_by_key
from pipelines.analysis.findings import MIN_COVERAGE_COUNT, coverage_cells

TITLE = "Compare"
SLUG = "compare"


def render() -> None:
    st.title(TITLE)
    if not data.require_run():
        return
    frame = data.excerpts()
    present = _present(frame)
    if len(present) < 2:
        st.info(plain(findings.nothing_to_compare([field_name(f) for f in present])))
        return
    fields = st.multiselect(
        "Fields to compare",
        present,
        default=present[:2],
        format_func=field_name,
        key="compare_fields",
    )
    if len(fields) < 2:
        st.info("Choose at least two fields.")
        return
    frameworks = data.frameworks()
    _side_by_side(frameworks, fields)
    _findings(fields)
    _coverage(frameworks, fields)

    left, right = st.columns(2)
    with left:
        st.header("Distinctive vocabulary")
        st.caption(
            "Words each field uses more than the others: log-odds ratio with an informative Dirichlet prior (Monroe et al. 2008); z above 1.96 is unlikely by chance."
        )
        # One static table for all the fields, side by side, as HTML: a grid widget a field was
        # the slowest thing on the page to draw the first time, and Streamlit's table draws
        # each cell as a component.
        static_table(
            views.vocabulary_table(data.result("vocabulary") or [], fields, data.field_labels())
        )
    with right:
        st.header("How similar are the fields?")
        st.caption(
            "Mean cosine similarity between the excerpts of two fields (1 = identical wording and meaning)."
        )
        similarity = data.result("field_similarity")
        matrix = pd.DataFrame(
            similarity["data"], index=similarity["index"], columns=similarity["columns"]
        )
        matrix = matrix.loc[
            [f for f in fields if f in matrix.index], [f for f in fields if f in matrix.columns]
        ].rename(index=field_name, columns=field_name)
        drawing(
            data.figure(
                "field_similarity",
                tuple(fields),
                build=lambda: charts.heatmap(matrix, title="Field × field similarity"),
            )
        )

    _same_word(fields, frame)
    timelens_view.render(fields)


def _present(frame) -> list[str]:
    """The fields with excerpts in the store, in the store's order."""
    in_store = set(frame["field"].unique())
    return [f for f in data.field_labels() if f in in_store]


@st.fragment
def _findings(fields: list[str]) -> None:
    """What the chosen fields share and what sets each apart: every theme and concept judged
    again on their excerpts alone, so a field not chosen counts for nothing (#28). Judged when
    opened (a fragment: only this reruns): a choice of fields takes a second or two to judge."""
    st.header("What these fields share, and what sets each apart")
    st.caption(
        "Each theme and concept judged on the chosen fields' excerpts only, against each chosen "
        "field's share of them (the Start page judges all the fields at once)."
    )
    on_demand(
        "The verdicts on these fields alone",
        "compare_findings_open",
        lambda: finding_lists(
            data.findings_among(fields),
            shared="Shared by these fields",
            distinctive="Distinctive to one of them",
            none_shared="No theme or concept passes the test for being shared by these fields "
            "at their base rates.",
        ),
    )


def warm() -> None:
    """Compute what the page's first view shows (called by the server's warm-up, off any page):
    the columns on the default concept."""
    frameworks = data.frameworks()
    labels = _concept_labels(frameworks)
    if labels:
        concept = default_concept(sorted(labels, key=labels.get))
        data.concept_scores(concept)
        _encode(focus.prototypes(concepts_by_key(frameworks)[concept]))


def _concept_labels(frameworks: list[Framework]) -> dict[str, str]:
    return {c.key: f"{c.label} ({c.key})" for c in all_concepts(frameworks)}


def _encode(texts: list[str]) -> np.ndarray:
    """The current model's vectors for `texts`, each computed once per text (`data.encode`)."""
    return np.stack([data.encode(text) for text in texts])


@st.fragment
def _side_by_side(frameworks: list[Framework], fields: list[str]) -> None:
    """A fragment: choosing what to compare on reruns only the columns of excerpts."""
    focus_kind = st.radio(
        "Compare on",
        ["a concept", "a theme", "a question"],
        horizontal=True,
        key="compare_focus_kind",
    )
    concept_labels = _concept_labels(frameworks)
    index = data.index()
    awaiting_build(index)
    concept_options = sorted(concept_labels, key=concept_labels.get)
    if focus_kind == "a concept":
        concept = st.selectbox(
            "Concept",
            concept_options,
            index=concept_options.index(default_concept(concept_options)) if concept_options else 0,
            format_func=concept_labels.get,
            key="compare_concept",
        )
        tag_scores = data.concept_scores(concept)
        if index.pending:  # per excerpt of the store; the index leaves out those awaiting a build
            tag_scores = tag_scores[index.covered]
        if np.isfinite(tag_scores).sum() == 0:
            st.caption(
                "No excerpt is tagged with this concept; showing the closest excerpts instead."
            )
        # As the Workshop ranks them: tagged excerpts first, then the rest by closeness to the
        # concept's label, description and cues.
        chosen = concepts_by_key(frameworks)[concept]
        scores = focus.concept_focus(
            chosen,
            tag_scores=tag_scores,
            closeness=focus.concept_closeness(chosen, index.vectors, _encode),
        ).scores
    elif focus_kind == "a theme":
        themes, mapped = data.themes()
        names = {
            t["theme_key"]: f"{t['label']} ({t['theme_key']}, {t['size']} excerpts)" for t in themes
        }
        theme = st.selectbox("Theme", list(names), format_func=names.get, key="compare_theme")
        scores = views.theme_scores(mapped, index.frame, theme, index.vectors)
    else:
        question = st.text_input(
            "Question or phrase", value="what recovery means", key="compare_question"
        )
        scores = index.vectors @ data.encode(question)
    lived = st.toggle("Lived-experience sources only", key="compare_lived")
    st.caption("Definitions come first among each field's most relevant excerpts.")
    excerpt_columns(best_per_field(scores, index.frame, fields, lived=lived))


@st.fragment
def _coverage(frameworks: list[Framework], fields: list[str]) -> None:
    """A fragment: choosing a framework redraws only the coverage heatmap."""
    st.header("Concept coverage by field")
    names = {f.id: f.label for f in frameworks}
    framework_ids = list(names)
    framework = st.selectbox(
        "Framework",
        framework_ids,
        format_func=names.get,
        index=framework_ids.index("chime") if "chime" in framework_ids else 0,
        key="compare_framework",
    )
    matrix = views.coverage_matrix(
        data.result("coverage") or {},
        {c.key: c.label for c in all_concepts(frameworks)},
        framework=framework,
    )
    matrix = matrix[[f for f in fields if f in matrix.columns]].rename(columns=field_name)
    drawing(
        data.figure(
            "coverage",
            framework,
            tuple(fields),
            build=lambda: charts.heatmap(
                matrix, title="Share of each field's excerpts tagged with the concept", percent=True
            ),
        )
    )
    st.caption(
        "Each framework is read on its own: a concept counts for an excerpt when it is among the "
        "excerpt's three strongest concepts of that framework and passes the tagging bar, so a "
        "concept is not crowded out by another framework's concepts written in one field's words. "
        f"The table gives each share with its 95% interval and count; cells with fewer than "
        f"{MIN_COVERAGE_COUNT} excerpts are marked too few to compare."
    )
    calibrated = views.calibration_note(data.result("calibration"))
    if calibrated:
        st.caption(calibrated)
    on_demand(
        "Coverage as a table, with intervals and counts",
        "compare_coverage_open",
        lambda: st.dataframe(
            _coverage_cells(frameworks, framework, fields), key="compare_coverage_table"
        ),
    )


def _coverage_cells(frameworks: list[Framework], framework: str, fields: list[str]):
    kinds = data.result("excerpt_fields") or {}
    totals = {f: 0 for f in fields}
    for field, _kind in kinds.values():
        if field in totals:
            totals[field] += 1
    counts = data.result("coverage_counts") or {}
    keys = [k for k in counts if k.split("/")[0] == framework]
    labels = {c.key: c.label for c in all_concepts(frameworks)}
    return views.coverage_table(
        coverage_cells(counts, totals, keys), labels, {f: field_name(f) for f in fields}
    )


@st.fragment
def _same_word(fields: list[str], frame) -> None:
    """A fragment: choosing a term reruns only this section."""
    st.header("Same word, different meaning")
    contexts = data.result("term_contexts") or {}
    term = st.selectbox("Term", list(contexts), key="compare_term")
    info = contexts.get(term, {})
    st.caption(
        f"{info.get('count', 0)} excerpts use “{plain(term)}”. For each field: the words that set its uses apart and its most typical uses."
    )
    uses = {field: info.get("fields", {}).get(field) for field in fields}
    excerpt_columns(
        (
            field_name(field),
            f"{details['count']} uses; distinctive words: {', '.join(details['distinctive_words']) or '(none)'}",
            frame[frame["excerpt_id"].isin(details["examples"])],
        )
        if details
        else (field_name(field), "This field does not use the term in the corpus.", frame.iloc[:0])
        for field, details in uses.items()
    )
