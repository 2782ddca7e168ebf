"""The page views' small tables (`crosswalk_ui.views`), on hand-made results."""

from __future__ import annotations

from crosswalk_ui import views
from pipelines.analysis.concepts import Concept, Framework

TOOL = Framework(
    "star",
    "Star",
    None,
    "outcome_tool",
    "",
    [
        Concept("star", "hope", "Hope", "", []),
        Concept("star", "home", "Somewhere to live", "", []),
        Concept("star", "work", "Work", "", []),
        Concept("star", "trust", "Trust", "", []),
    ],
)


def _tags(*concepts: str) -> list[dict]:
    return [{"concept": key} for key in concepts]


def test_tool_lens_names_a_themes_most_tagged_domains_in_a_fixed_order():
    themes = [
        {"theme_key": "T1", "label": "housing"},
        {"theme_key": "T2", "label": "other"},
    ]
    assignments = {"a": "T1", "b": "T1", "c": "T1", "d": "T2"}
    # In T1, Work is tagged twice; Trust, Hope and Somewhere to live once each (a tie of three
    # for two places, broken by key, whatever order a set gives them in).
    tags = {
        "a": _tags("star/work", "star/trust", "other/concept"),
        "b": _tags("star/work", "star/home"),
        "c": _tags("star/hope"),
        "d": _tags("other/concept"),
    }
    table = views.tool_lens(themes, assignments, tags, TOOL).set_index("theme_id")
    assert table.loc["T1", "domains"] == "Work, Somewhere to live, Hope"
    assert table.loc["T1", "share tagged with the tool's domains"] == 1.0
    assert bool(table.loc["T1", "covered"]) is True
    assert table.loc["T2", "domains"] == ""
    assert bool(table.loc["T2", "covered"]) is False
    # Themes it misses come first.
    assert table.index.tolist() == ["T2", "T1"]


def test_coverage_rows_are_named_by_label_with_the_key_only_where_labels_repeat():
    coverage = {
        "chime/hope": {"a": 0.5, "b": 0.25},
        "chime/identity": {"a": 0.1, "b": 0.0},
        "star/hope": {"a": 0.2, "b": 0.3},
    }
    labels = {"chime/hope": "Hope", "chime/identity": "Identity", "star/hope": "Hope"}
    chime = views.coverage_matrix(coverage, labels, framework="chime")
    assert chime.index.tolist() == ["Hope", "Identity"]
    assert chime.loc["Hope"].tolist() == [0.5, 0.25]
    every = views.coverage_matrix(coverage, labels)
    assert every.index.tolist() == ["Hope (chime/hope)", "Identity", "Hope (star/hope)"]
