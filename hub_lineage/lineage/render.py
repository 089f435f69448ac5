"""A lineage graph shown as a tree, JSON or Mermaid (what ``hub-lineage lineage`` prints).

The JSON form is a contract scripts rely on::

    {"model": ID, "nodes": [ID, ...],
     "edges": [{"child": ID, "parent": ID, "relation": "finetune|merge|adapter|quantized",
                "weight": float | null}]}
"""

from __future__ import annotations

from typing import Any

from hub_lineage.lineage.edges import Edge
from hub_lineage.lineage.graph import LineageGraph

FORMATS = ("tree", "json", "mermaid")


def _ordered_edges(graph: LineageGraph, model: str) -> list[Edge]:
    """Edges breadth-first from ``model`` (nearest first), each parent list in a stable order."""
    depth = graph.ancestors(model)
    names = [model, *sorted(depth, key=lambda n: (depth[n], n))]
    return [e for node in names for e in sorted(graph.parents(node), key=lambda e: e.parent)]


def lineage_json(graph: LineageGraph, model: str) -> dict[str, Any]:
    """The JSON contract: model, nodes (the model first, then by distance) and edges."""
    depth = graph.ancestors(model)
    nodes = [model, *sorted(depth, key=lambda n: (depth[n], n))]
    edges = [{"child": e.child, "parent": e.parent, "relation": e.relation.value, "weight": e.weight}
             for e in _ordered_edges(graph, model)]
    return {"model": model, "nodes": nodes, "edges": edges}


def _label(edge: Edge) -> str:
    label = edge.relation.value
    if edge.weight is not None:
        label += f" {edge.weight:g}"
    if edge.root:
        label += ", family root"
    return label


def render_tree(graph: LineageGraph, model: str) -> str:
    """Parents, grandparents ... to the roots, one per line with its relation.

    A model reached twice (shared ancestry in merges) is expanded once and marked
    ``(see above)`` afterwards, so the output stays linear in the graph's size.
    """
    lines = [model]
    shown: set[str] = {model}
    # an explicit stack, not recursion: a chain of thousands of generations is a valid lineage
    stack: list[tuple[str, str]] = [(model, "")]  # (node whose parents to list, line prefix)
    pending: list[list[tuple[Edge, str]]] = []
    while stack or pending:
        if stack:
            node, prefix = stack.pop()
            parents = sorted(graph.parents(node), key=lambda e: e.parent)
            pending.append([(e, prefix) for e in reversed(parents)])
        frame = pending[-1]
        if not frame:
            pending.pop()
            continue
        edge, prefix = frame.pop()
        last = not frame
        branch, pad = ("└── ", "    ") if last else ("├── ", "│   ")
        seen = edge.parent in shown
        lines.append(f"{prefix}{branch}{_label(edge)}: {edge.parent}{' (see above)' if seen and graph.parents(edge.parent) else ''}")
        if not seen:
            shown.add(edge.parent)
            stack.append((edge.parent, prefix + pad))
    if len(lines) == 1:
        lines.append("(no known parents: a root, or its lineage is not stated on the Hub)")
    return "\n".join(lines)


def render_mermaid(graph: LineageGraph, model: str) -> str:
    """A Mermaid flowchart (roots at the top) that renders on the Hub and GitHub.

    Node ids are ``n0, n1...``; repo ids go in quoted labels, so ``/``, ``.`` and ``-`` are safe.
    """
    data = lineage_json(graph, model)
    ids = {node: f"n{i}" for i, node in enumerate(data["nodes"])}
    lines = ["```mermaid", "flowchart BT"]
    for node, nid in ids.items():
        label = node.replace('"', "#quot;")
        lines.append(f'    {nid}["{label}"]')
    for edge in _ordered_edges(graph, model):
        arrow = "-.->" if edge.root else "-->"
        lines.append(f"    {ids[edge.child]} {arrow}|{_label(edge)}| {ids[edge.parent]}")
    lines.append(f"    style {ids[model]} stroke-width:3px")
    lines.append("```")
    return "\n".join(lines)
