"""Start here: what is in the corpus, how each field defines recovery, the headline findings."""

from __future__ import annotations

import streamlit as st

from crosswalk_ui import charts, data, views
from crosswalk_ui.components import (
    drawing,
    excerpt_columns,
    field_name,
    finding_lists,
    on_demand,
)
from crosswalk_ui.markup import plain
from pipelines.analysis import findings

TITLE = "Start here"
SLUG = "start"


def render() -> None:
    st.title(TITLE)
    frame = data.facets()
    if frame.empty:
        st.info(
            "The store is empty. Add files on the Corpus page or with `python -m pipelines ingest FILE`."
        )
        return
    st.write(
        f"{len(frame)} excerpts from {frame['source_id'].nunique()} sources in {frame['field'].nunique()} fields, "
        f"{(frame['evidence_type'] == 'lived_experience').sum()} of them from lived-experience sources."
    )
    counts = data.corpus_counts()
    for column, chart in zip(st.columns(2), _count_charts(counts), strict=True):
        with column:
            drawing(chart)
    on_demand(
        "The same counts as a table",
        "start_counts_open",
        lambda: st.dataframe(
            counts["evidence"].pivot_table(
                index="evidence_type", columns="field", values="count", fill_value=0
            ),
            key="start_counts_table",
        ),
    )
    if not data.require_run():
        return

    st.header("How does each field define recovery?")
    lens = data.result("definitions") or {}
    shares = views.family_shares(lens)
    st.caption(
        f"The {lens.get('count', 0)} excerpts marked as definitions, grouped into families of similar definitions. "
        "Bars show what share of each field's definitions falls in each family."
    )
    if not shares.empty:
        drawing(_families_chart(shares))
        on_demand(
            "The shares as a table",
            "start_families_open",
            lambda: st.dataframe(
                shares.pivot_table(index="family", columns="field", values="count", fill_value=0),
                key="start_families_table",
            ),
        )
        _family_examples(lens)

    _headline_findings()
    with st.expander("How to read this"):
        st.markdown(
            "Themes are groups of excerpts that the embedding model places close together after each field's "
            "common vocabulary is set aside. A theme is **shared** when every field appears in it at about its "
            "share of the whole corpus, and **distinctive** when one field is over-represented (exact binomial test, "
            "corrected for the number of tests). The corpus is a curated sample of the literature, not all of it; "
            "themes marked fragile change when the corpus is resampled. The tool explores concepts; it never scores people."
        )


def _headline_findings() -> None:
    """What every field shares and what is distinctive to each, as sentences with their evidence:
    broad themes, then the fine themes within them, then the framework concepts. A run of one
    field has none to say (a verdict weighs each field against the others)."""
    st.header("Headline findings")
    fields = data.run_fields()
    if len(fields) < 2:
        st.info(plain(findings.nothing_to_compare([field_name(f) for f in fields])))
        return
    finding_lists(
        data.findings(),
        shared="What every field shares",
        distinctive="What is distinctive to each field",
        none_shared="No theme or concept passes the test for being shared by every field at its "
        "base rate; see the Themes page for mixed themes.",
    )
    st.caption(
        "Each sentence names its evidence: a theme found in the excerpts (open it on the Themes "
        "page by its name) or a framework concept (on the Concepts page). Fragile themes are "
        "marked: they may not re-form when the corpus is resampled."
    )


def warm() -> None:
    """Compute what the page's first view shows: called as the server starts (`serve`), while the
    browser loads Streamlit, and again by the warm-up (then all cached)."""
    if data.facets().empty:
        return
    _count_charts(data.corpus_counts())
    if data.run_id() is None:
        return
    lens = data.result("definitions") or {}
    shares = views.family_shares(lens)
    if not shares.empty:
        _families_chart(shares)
    data.findings()


def _count_charts(counts: dict) -> list[str]:
    """The corpus by evidence type and by years, each bar stacked by field."""
    labels, colours = data.field_labels(), data.field_colours()
    return [
        data.figure(
            f"start_{table}",
            build=lambda table=table, x=x, title=title: charts.stacked_bars(
                counts[table],
                x=x,
                stack="field",
                colours=colours,
                labels=labels,
                title=title,
                x_title=x.replace("_", " "),
            ),
        )
        for table, x, title in [
            ("evidence", "evidence_type", "Excerpts by evidence type and field"),
            ("year", "years from", "Excerpts by publication years (5-year bins)"),
        ]
    ]


def _families_chart(shares) -> str:
    return data.figure(
        "start_families",
        build=lambda: charts.grouped_bars(
            shares,
            category="family",
            group="field",
            colours=data.field_colours(),
            labels=data.field_labels(),
            title="Families of definitions",
        ),
    )


@st.fragment
def _family_examples(lens: dict) -> None:
    """A fragment: choosing a family reruns only the examples, not the whole page."""
    options = [f"{f['family']}. {f['label']}" for f in lens["families"]]
    chosen = st.selectbox(
        "Example definitions from each field for the family", options, key="start_family"
    )
    family = lens["families"][options.index(chosen)]
    shown = data.excerpts_with_ids([ids[0] for ids in family["exemplars"].values() if ids])
    excerpt_columns(
        (
            field_name(field),
            "" if ids else "No definition from this field in this family.",
            shown[shown["excerpt_id"] == ids[0]] if ids else shown.iloc[:0],
        )
        for field, ids in family["exemplars"].items()
    )
