"""neighbourhood.local_system: a cycle met while walking from a model keeps the model's own parent edge."""

from __future__ import annotations

import warnings

from hub_lineage.lineage.edges import Edge
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.predict.neighbourhood import HELD_OUT, CompactGraph, Lineage, local_system


def test_a_cycle_from_the_hub_keeps_the_queried_models_own_parent():
    # stored: q's parent is m (unscored), m's parent s and m's child d are scored; the Hub adds
    # "m's parent is q", closing q -> m -> q. Seen from d (the only model nothing descends from),
    # q is the farthest node, so a query-blind rule would drop q's own parent edge.
    stored = LineageGraph([Edge("org/q", "org/m"), Edge("org/m", "org/s"), Edge("org/d", "org/m")])
    extra = LineageGraph([Edge("org/m", "org/q")])
    lineage = Lineage(CompactGraph.from_graph(stored, ["org/s", "org/d"]), extra)
    scored = {"org/s": {"bbh": 0.5}, "org/d": {"bbh": 0.6}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = local_system("org/q", lineage, scored, {"org/s": 0, "org/d": 1})
    pairs = {(e.child, e.parent) for e in local.graph.edges}
    q, m = "org/q" + HELD_OUT, "org/m" + HELD_OUT
    assert (q, m) in pairs and (m, q) not in pairs
