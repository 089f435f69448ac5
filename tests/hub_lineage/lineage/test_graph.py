"""graph.py: relations, edges, traversal, cycle breaking, Laplacian, JSON."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from hub_lineage.errors import DataFormatError, InvalidInputError, LineageWarning
from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.lineage.graph import LineageGraph


def chain() -> LineageGraph:
    # base <- instruct <- ft <- ft-GGUF ; merge of (instruct, math) ; math <- base
    return LineageGraph([
        Edge("org/instruct", "org/base"),
        Edge("org/ft", "org/instruct"),
        Edge("org/ft-GGUF", "org/ft", Relation.QUANTIZED),
        Edge("org/math", "org/base"),
        Edge("org/merge", "org/instruct", Relation.MERGE, 0.7),
        Edge("org/merge", "org/math", Relation.MERGE, 0.3),
    ])


@pytest.mark.parametrize("label,expected", [
    ("finetuned", Relation.FINETUNE), ("merged", Relation.MERGE), ("quantized", Relation.QUANTIZED),
    ("adapter", Relation.ADAPTER), ("Fine-Tune", Relation.FINETUNE), ("merge", Relation.MERGE),
])
def test_relation_parse(label, expected):
    assert Relation.parse(label) is expected


def test_relation_parse_refuses_unknown_labels():
    with pytest.raises(InvalidInputError, match="'distilled'"):
        Relation.parse("distilled")


def test_parents_children_ancestors_descendants():
    g = chain()
    assert {e.parent for e in g.parents("org/merge")} == {"org/instruct", "org/math"}
    assert {e.child for e in g.children("org/instruct")} == {"org/ft", "org/merge"}
    assert g.ancestors("org/ft-GGUF") == {"org/ft": 1, "org/instruct": 2, "org/base": 3}
    assert g.ancestors("org/ft-GGUF", max_depth=2) == {"org/ft": 1, "org/instruct": 2}
    assert g.descendants("org/base")["org/merge"] == 2
    assert g.roots() == ["org/base"]
    assert g.roots("org/merge") == ["org/base"]
    assert g.parents("unknown/model") == [] and "unknown/model" not in g


def test_lineage_subgraph_family_canonical():
    g = chain()
    sub = g.lineage("org/merge", max_depth=1)
    assert set(sub.nodes) == {"org/merge", "org/instruct", "org/math"}
    assert len(sub.edges) == 2
    assert set(g.family("org/instruct")) == {"org/instruct", "org/ft", "org/ft-GGUF", "org/merge"}
    assert g.canonical("org/ft-GGUF") == "org/ft"
    assert g.canonical("org/ft") == "org/ft"


def test_self_loop_is_refused_with_a_warning():
    g = LineageGraph()
    with pytest.warns(LineageWarning, match="self-loop on 'org/a'"):
        assert g.add_edge("org/a", "org/a") is False
    assert g.edges == []


def test_edge_closing_a_cycle_is_refused():
    g = LineageGraph([Edge("org/a", "org/b"), Edge("org/b", "org/c")])
    with pytest.warns(LineageWarning, match="cycle"):
        assert g.add_edge("org/c", "org/a") is False
    assert g.ancestors("org/a") == {"org/b": 1, "org/c": 2}


def test_bulk_add_breaks_cycles_once_with_one_warning():
    edges = [Edge("a/1", "a/2"), Edge("a/2", "a/3"), Edge("a/3", "a/1"), Edge("a/4", "a/4"), Edge("a/5", "a/1")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = LineageGraph(edges)
    assert len(caught) == 1 and "1 self-loop" in str(caught[0].message) and "cycle" in str(caught[0].message)
    assert len(g.edges) == 3
    for node in g.nodes:  # acyclic: no node is its own ancestor
        assert node not in g.ancestors(node)


def test_root_edges_are_weak():
    g = LineageGraph()
    g.add_edge("org/ft", "org/base", root=True)
    assert g.parents("org/ft")[0].root
    g.add_edge("org/ft", "org/instruct")  # a direct edge replaces the weak root edge
    assert [(e.parent, e.root) for e in g.parents("org/ft")] == [("org/instruct", False)]
    g.add_edge("org/ft", "org/base", root=True)  # and a root edge never joins a direct one
    assert [e.parent for e in g.parents("org/ft")] == ["org/instruct"]


def test_laplacian_is_symmetric_with_zero_row_sums():
    g = chain()
    index = ["org/base", "org/instruct", "org/math", "org/merge", "org/ft"]
    lap = g.laplacian(index).toarray()
    assert lap.shape == (5, 5)
    np.testing.assert_allclose(lap, lap.T)
    np.testing.assert_allclose(lap.sum(axis=1), 0.0, atol=1e-12)
    i, j = index.index("org/merge"), index.index("org/instruct")
    assert lap[i, j] == pytest.approx(-0.7)  # a merge's mixing weight scales its edge


def test_laplacian_options():
    g = chain()
    index = {"org/base": 0, "org/instruct": 1, "org/math": 2, "org/merge": 3, "org/ft": 4}
    only_ft = g.adjacency(index, relations=["finetune"]).toarray()
    assert only_ft[3].sum() == 0  # merge edges left out
    heavy = g.adjacency(index, relation_weights={"merge": 2.0}).toarray()
    assert heavy[3, 1] == pytest.approx(1.4)
    # The GGUF child collapses onto its indexed parent: no row of its own, no self edge.
    with_q = g.adjacency(["org/ft", "org/ft-GGUF", "org/instruct"]).toarray()
    assert with_q[1].sum() == 0 and with_q[0, 2] == 1.0
    apart = g.adjacency(["org/ft", "org/ft-GGUF"], collapse_quantized=False).toarray()
    assert apart[0, 1] == 1.0


def test_json_round_trip():
    g = chain()
    g.add_edge("org/leaf", "org/root", root=True)
    g.add_node("org/alone")
    data = g.to_json()
    back = LineageGraph.from_json(data)
    assert back.to_json() == data
    assert {"child", "parent", "relation", "weight"} <= set(data["edges"][0])
    with pytest.raises(DataFormatError, match="'edges'"):
        LineageGraph.from_json({"nodes": []})
    with pytest.raises(DataFormatError, match="'parent'"):
        LineageGraph.from_json({"edges": [{"child": "a/b"}]})


def test_the_edge_that_closes_a_cycle_is_dropped_not_the_queried_models_parent():
    graph = LineageGraph(nodes=["org/B"])  # a walk that met B first
    graph.add_edges([Edge("org/Q", "org/A")])
    graph.add_edges([Edge("org/A", "org/B")])
    with pytest.warns(LineageWarning, match="cycle"):
        graph.add_edges([Edge("org/B", "org/Q")])  # found last, farthest from org/Q: this one goes
    assert {(e.child, e.parent) for e in graph.edges} == {("org/Q", "org/A"), ("org/A", "org/B")}


def test_a_walk_adding_5000_generations_one_by_one_stays_linear():
    import time

    graph = LineageGraph(nodes=["chain/m5000"])
    start = time.monotonic()
    for i in range(5000, 0, -1):  # as HubClient.resolve adds each repo's parents
        graph.add_edges([Edge(f"chain/m{i}", f"chain/m{i - 1}")])
    assert len(graph.edges) == 5000 and time.monotonic() - start < 5.0  # was quadratic: ~1 min
