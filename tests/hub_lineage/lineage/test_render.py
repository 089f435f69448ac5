"""render.py: the tree, JSON and Mermaid forms of a lineage, pinned byte for byte."""

from __future__ import annotations

from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.lineage.render import lineage_json, render_mermaid, render_tree


def diamond() -> LineageGraph:
    # a merge of two fine-tunes of one base: the base is reached twice
    return LineageGraph([
        Edge("org/merge", "org/a", Relation.MERGE, 0.7),
        Edge("org/merge", "org/b", Relation.MERGE, 0.3),
        Edge("org/a", "org/base"),
        Edge("org/b", "org/base"),
        Edge("org/base", "org/root", root=True),
    ])


def test_tree_expands_a_shared_ancestor_once():
    assert render_tree(diamond(), "org/merge") == "\n".join([
        "org/merge",
        "├── merge 0.7: org/a",
        "│   └── finetune: org/base",
        "│       └── finetune, family root: org/root",
        "└── merge 0.3: org/b",
        "    └── finetune: org/base (see above)",
    ])
    assert render_tree(LineageGraph(nodes=["org/x"]), "org/x").endswith("(no known parents: a root, or its "
                                                                        "lineage is not stated on the Hub)")


def test_json_lists_nodes_nearest_first_and_edges_breadth_first():
    data = lineage_json(diamond(), "org/merge")
    assert data["nodes"] == ["org/merge", "org/a", "org/b", "org/base", "org/root"]
    assert [(e["child"], e["parent"]) for e in data["edges"]] == [
        ("org/merge", "org/a"), ("org/merge", "org/b"), ("org/a", "org/base"), ("org/b", "org/base"),
        ("org/base", "org/root")]


def test_mermaid_quotes_ids_and_dashes_root_edges():
    out = render_mermaid(diamond(), "org/merge").splitlines()
    assert out[:3] == ["```mermaid", "flowchart BT", '    n0["org/merge"]']
    assert "    n0 -->|merge 0.7| n1" in out and "    n3 -.->|finetune, family root| n4" in out
    assert out[-2:] == ["    style n0 stroke-width:3px", "```"]


def test_a_chain_of_5000_generations_renders_without_recursion():
    graph = LineageGraph([Edge(f"chain/m{i + 1}", f"chain/m{i}") for i in range(5000)])
    lines = render_tree(graph, "chain/m5000").splitlines()
    assert len(lines) == 5001 and lines[-1].endswith("finetune: chain/m0")
    assert len(lineage_json(graph, "chain/m5000")["edges"]) == 5000
