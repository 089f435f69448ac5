"""cycles.py: one rule breaks cycles in walks and in bulk edge lists (issue 13): the edge farthest
from the anchors goes, whatever the order the edges came in."""

from __future__ import annotations

import random
import warnings

import pytest

from hub_lineage.lineage.cycles import anchor_distance, cyclic_components
from hub_lineage.lineage.edges import Edge
from hub_lineage.lineage.graph import SMALL_BATCH, LineageGraph


def _pairs(graph: LineageGraph) -> set[tuple[str, str]]:
    return {(e.child, e.parent) for e in graph.edges}


def _quiet(edges, **kw) -> LineageGraph:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LineageGraph(edges, **kw)


def _filler(n: int = SMALL_BATCH + 10) -> list[Edge]:
    """A chain long enough to make a batch bulk (more than SMALL_BATCH new edges)."""
    return [Edge(f"fill/m{i}", f"fill/m{i + 1}") for i in range(n)]


def _acyclic(graph: LineageGraph) -> bool:
    return all(node not in graph.ancestors(node) for node in graph.nodes)


def test_bulk_repair_keeps_a_models_own_stated_parent_and_ignores_input_order():
    # Q states parent A; A's card says B; B's card (wrongly) says Q. Q is scored (an anchor, as the
    # store makes its scored models): its own edge and A's stay, B -> Q goes, in every order.
    cycle = [Edge("org/Q", "org/A"), Edge("org/A", "org/B"), Edge("org/B", "org/Q")]
    edges = cycle + _filler()
    results = set()
    for seed in range(12):
        shuffled = edges[:]
        random.Random(seed).shuffle(shuffled)
        graph = _quiet(shuffled, nodes=["org/Q"], anchors=["org/Q"])
        assert ("org/Q", "org/A") in _pairs(graph) and ("org/A", "org/B") in _pairs(graph)
        assert ("org/B", "org/Q") not in _pairs(graph)
        results.add(frozenset(_pairs(graph)))
    assert len(results) == 1


def test_a_child_outside_the_cycle_makes_its_parent_the_anchor_side():
    # a fine-tune F of A (a leaf) is where the walk starts: the cycle A -> B -> C -> A loses C -> A
    edges = [Edge("org/F", "org/A"), Edge("org/A", "org/B"), Edge("org/B", "org/C"), Edge("org/C", "org/A"),
             *_filler()]
    for seed in range(6):
        random.Random(seed).shuffle(edges)
        assert ("org/C", "org/A") not in _pairs(_quiet(edges))
        assert {("org/F", "org/A"), ("org/A", "org/B"), ("org/B", "org/C")} <= _pairs(_quiet(edges))


def test_explicit_anchors_say_whose_parent_edge_survives():
    # two models naming each other: the anchor's (the scored model's) own stated parent is kept
    for anchor, kept in (("org/x", ("org/x", "org/y")), ("org/y", ("org/y", "org/x"))):
        for seed in range(4):
            edges = [Edge("org/x", "org/y"), Edge("org/y", "org/x"), *_filler()]
            random.Random(seed).shuffle(edges)
            graph = _quiet(edges, nodes=[anchor], anchors=[anchor])
            assert kept in _pairs(graph) and (kept[1], kept[0]) not in _pairs(graph)


def test_random_cyclic_graphs_repair_the_same_whatever_the_order_and_count_every_edge():
    rng = random.Random(7)
    for trial in range(25):
        nodes = [f"r/n{k}" for k in range(rng.randint(5, 40))]
        edges = list({(a, b): Edge(a, b) for a, b in ((rng.choice(nodes), rng.choice(nodes))
                                                       for _ in range(rng.randint(10, 120)))}.values())
        reference = None
        for seed in range(4):
            shuffled = edges[:]
            random.Random(seed).shuffle(shuffled)
            graph = _quiet(shuffled)
            assert _acyclic(graph)
            assert len(graph.edges) + sum(graph.dropped.values()) == len(edges)
            pairs = _pairs(graph)
            reference = reference or pairs
            assert pairs == reference, f"trial {trial}: order changed the repaired graph"


def test_a_small_batch_closing_two_cycles_drops_the_same_edges_in_any_order():
    base = [Edge("org/Q", "org/A"), Edge("org/A", "org/B")]
    batch = [Edge("org/B", "org/Q"), Edge("org/B", "org/A")]  # both close a cycle, one batch
    outcomes = set()
    for order in (batch, batch[::-1]):
        graph = _quiet(base)
        with pytest.warns(Warning, match="cycle"):
            graph.add_edges(order)
        outcomes.add(frozenset(_pairs(graph)))
        assert _pairs(graph) >= {("org/Q", "org/A"), ("org/A", "org/B")}
    assert len(outcomes) == 1


def test_helpers():
    parents = {"a": {"b": None}, "b": {"c": None}, "c": {"a": None}, "d": {"a": None}}
    children = {"a": {"c": 1, "d": 1}, "b": {"a": 1}, "c": {"b": 1}, "d": {}}
    assert anchor_distance(parents, children) == {"d": 0, "a": 1, "b": 2, "c": 3}
    assert [sorted(c) for c in cyclic_components(parents, ["d"])] == [["a", "b", "c"]]
    assert cyclic_components({"a": {"b": None}, "b": {}}, ["a", "b"]) == []
