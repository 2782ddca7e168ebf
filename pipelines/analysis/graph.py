"""The concept graph: frameworks, concepts, themes and fields as nodes; crosswalk links,
theme-concept associations and field-concept coverage as edges."""

from __future__ import annotations

import networkx as nx

from pipelines.analysis.concepts import Framework
from pipelines.analysis.contract import Theme


def concept_graph(
    frameworks: list[Framework],
    *,
    themes: list[Theme],
    concept_field_share: dict[str, dict[str, float]],
    field_labels: dict[str, str],
) -> nx.Graph:
    graph = nx.Graph()
    known = {c.key for f in frameworks for c in f.concepts}
    for framework in frameworks:
        graph.add_node(
            f"framework:{framework.id}",
            kind="framework",
            label=framework.label,
            field=framework.field or "",
        )
        for concept in framework.concepts:
            node = f"concept:{concept.key}"
            graph.add_node(
                node,
                kind="concept",
                label=concept.label,
                framework=framework.id,
                field=framework.field or "",
                distinctive=concept.distinctive or "",
            )
            graph.add_edge(f"framework:{framework.id}", node, kind="contains", weight=1.0, why="")
    for framework in frameworks:
        for concept in framework.concepts:
            for target, why in concept.related:
                if target in known:
                    graph.add_edge(
                        f"concept:{concept.key}",
                        f"concept:{target}",
                        kind="crosswalk",
                        weight=1.0,
                        why=why,
                    )
    for slug, label in field_labels.items():
        graph.add_node(f"field:{slug}", kind="field", label=label)
    for concept_key, shares in concept_field_share.items():
        for field, share in shares.items():
            if share > 0 and f"field:{field}" in graph:
                graph.add_edge(
                    f"field:{field}",
                    f"concept:{concept_key}",
                    kind="coverage",
                    weight=round(share, 4),
                    why="",
                )
    for theme in themes:
        node = f"theme:{theme.key}"
        graph.add_node(node, kind="theme", label=theme.label, size=theme.size)
        for concept_key, share in theme.concepts:
            graph.add_edge(
                node, f"concept:{concept_key}", kind="association", weight=round(share, 4), why=""
            )
    return graph


def graph_layout(graph: nx.Graph, *, seed: int) -> dict[str, list[float]]:
    positions = nx.spring_layout(graph, seed=seed, k=None, iterations=100)
    return {node: [round(float(x), 4), round(float(y), 4)] for node, (x, y) in positions.items()}
