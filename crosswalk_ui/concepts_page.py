"""Concepts: the crosswalk graph, a concept's counterparts in other fields and the excerpts that
carry it, and the tool lens (what an outcome tool covers of the literature's themes)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from crosswalk_ui import data, views
from crosswalk_ui.components import (
    best_per_field,
    chart,
    concept_names,
    default_concept,
    excerpt_columns,
    field_name,
    on_demand,
    prepare_chart,
    static_table,
)
from crosswalk_ui.markup import plain
from pipelines.analysis.concepts import Framework, all_concepts, concepts_by_key, owners

TITLE = "Concepts"
SLUG = "concepts"
CHART_KEY = "concepts_graph"


def render() -> None:
    st.title(TITLE)
    if not data.require_run():
        return
    frameworks = data.frameworks()
    nodes, edges, graph = data.concept_graph(_graph_colours())
    st.caption(
        f"{len(frameworks)} frameworks, {int((nodes['kind'] == 'concept').sum())} concepts, {int((edges['kind'] == 'crosswalk').sum())} crosswalk links between them. Large dots are frameworks; colour is the framework's field."
    )
    chart(graph, key=CHART_KEY)
    calibrated = views.calibration_note(data.result("calibration"))
    if calibrated:
        st.caption(calibrated)
    on_demand(
        "The crosswalk links as a table",
        "concepts_links_open",
        lambda: st.dataframe(
            _links_table(edges, concept_names(frameworks)),
            hide_index=True,
            key="concepts_links_table",
        ),
    )

    _counterparts(frameworks)
    _tool_lens(frameworks)


def warm() -> None:
    """Compute what the page's first view shows (called by the server's warm-up, off any page)."""
    frameworks = data.frameworks()
    prepare_chart(data.concept_graph(_graph_colours())[2])
    concepts = _concept_keys(frameworks)
    if concepts:
        data.concept_scores(default_concept(concepts))
    tools = _tools(frameworks)
    if tools:
        data.tool_lens(tools[0].id)


def chart_ahead():
    """The chart the page opens on, for the first page to draw ahead (`prefetch`)."""
    if data.run_id() is None:
        return None
    return CHART_KEY, data.concept_graph(_graph_colours())[2], False


def _links_table(edges: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """The crosswalk links between concepts, each concept by its name and framework (the
    graph's nodes are "concept:KEY")."""
    links = edges[edges["kind"] == "crosswalk"]

    def name(node: str) -> str:
        return names.get(node.removeprefix("concept:"), node)

    return pd.DataFrame(
        {
            "concept": links["source"].map(name),
            "counterpart": links["target"].map(name),
            "why they correspond": links["why"],
        }
    )


def _graph_colours() -> dict[str, str]:
    labels = data.field_labels()
    return {labels.get(f, f): c for f, c in data.field_colours().items()} | {
        "Cross-field": "#555555"
    }


def _concept_keys(frameworks: list[Framework]) -> list[str]:
    return sorted(c.key for c in all_concepts(frameworks))


def _tools(frameworks: list[Framework]) -> list[Framework]:
    return [f for f in frameworks if f.kind == "outcome_tool"]


@st.fragment
def _counterparts(frameworks: list[Framework]) -> None:
    """A fragment: choosing a concept reruns only this section."""
    st.header("A concept and its counterparts")
    concepts, owner = concepts_by_key(frameworks), owners(frameworks)
    keys = _concept_keys(frameworks)
    key = st.selectbox(
        "Concept",
        keys,
        format_func=lambda k: f"{concepts[k].label} ({k})",
        index=keys.index(default_concept(keys)) if keys else 0,
        key="concepts_choice",
    )
    concept, framework = concepts[key], owner[key]
    st.markdown(
        f"**{plain(concept.label)}** — {plain(framework.label)} "
        f"({plain(field_name(framework.field)) if framework.field else 'cross-field'})"
    )
    st.text(concept.description)
    st.text("Cues: " + "; ".join(concept.cues))
    if concept.distinctive:
        st.text("Distinctive: " + concept.distinctive)
    # A static table: a handful of rows, and each link's rationale ("why") is read in full, where
    # a grid cut it to its column's width.
    static_table(views.related_concepts(frameworks, key, data.field_labels()), index=False)
    st.subheader("Excerpts that carry it, by field")
    lived = st.toggle("Lived-experience sources only", key="concepts_lived")
    frame = data.excerpts()
    excerpt_columns(
        best_per_field(
            data.concept_scores(key),
            frame,
            sorted(frame["field"].unique()),
            lived=lived,
            k=3,
            empty="No excerpt of this field is tagged with the concept.",
        )
    )


@st.fragment
def _tool_lens(frameworks: list[Framework]) -> None:
    """A fragment: choosing a tool reruns only the tool lens."""
    st.header("Tool lens")
    tools = _tools(frameworks)
    if not tools:
        st.caption("No outcome tool framework is loaded.")
        return
    names = {f.id: f.label for f in tools}
    tool_id = st.selectbox("Outcome tool", list(names), format_func=names.get, key="concepts_tool")
    table = data.tool_lens(tool_id)
    covered = int(table["covered"].sum())
    st.write(
        f"{plain(names[tool_id])} covers {covered} of {len(table)} themes of the literature (a theme counts as covered when at least 15% of its excerpts are tagged with one of the tool's domains). The themes it misses come first."
    )
    st.dataframe(table, hide_index=True, key="concepts_tool_table")
