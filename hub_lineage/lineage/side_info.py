"""Side-information nodes for the lineage graph: models linked to virtual "metadata" nodes.

A cold-start model with few scored relatives is pulled toward models that share its metadata
(the leaderboard's architecture and size, model type, chat template), in the spirit of LRMF's
Laplacian over a side-information graph: one virtual node per metadata group (e.g.
``<meta:arch_size:Qwen2ForCausalLM|6-9B>``) joined to each member by an edge of a tunable weight.
The Laplacian then gives every member's factor a pull toward the group's mean factor, and
multi-hop paths through lineage and groups do the rest. Metadata is known before a model is
evaluated (it is not a score), so using it for test models is legitimate, as the NCF baseline does.

Used identically by the evaluation (:func:`hub_lineage.evaluation.held_out.method_graph`) and by
:meth:`hub_lineage.predict.predictor.Predictor.fit`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hub_lineage.errors import InvalidInputError
from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.lineage.graph import LineageGraph

#: The metadata groups a model can join: key -> what it groups by.
SIDE_KEYS = ("arch_size", "architecture", "type", "chat_template")
#: Upper bounds (billions of parameters) of the size buckets of ``arch_size``.
SIZE_EDGES = (0.7, 1.2, 2.5, 4.5, 6.0, 9.0, 15.0, 25.0, 40.0, 80.0)
PREFIX = "<meta:"


def size_bucket(params_b: float | None) -> str | None:
    """``7.6`` -> ``"6-9B"``; None for an unknown size."""
    if params_b is None or not params_b > 0:
        return None
    low = 0.0
    for high in SIZE_EDGES:
        if params_b <= high:
            return f"{low:g}-{high:g}B"
        low = high
    return f">{low:g}B"


def model_groups(meta: Mapping[str, Any] | None) -> dict[str, str]:
    """The group label per side key for one model's metadata (keys with unknown values omitted)."""
    meta = meta or {}
    arch, size = meta.get("architecture"), size_bucket(meta.get("params_b"))
    kind, chat = meta.get("type"), meta.get("chat_template")
    out = {}
    if arch:
        out["architecture"] = str(arch)
        if size:
            out["arch_size"] = f"{arch}|{size}"
    if kind:
        out["type"] = str(kind)
    if chat is not None:
        out["chat_template"] = str(bool(chat))
    return out


def is_side_node(node: str) -> bool:
    return node.startswith(PREFIX)


def side_node(key: str, label: str) -> str:
    return f"{PREFIX}{key}:{label}>"


#: Not a group: ``weights[DEGREE_POWER] = a`` scales every lineage edge by ``(deg_child * deg_parent) ** (-a / 2)``
#: (a = 1: the symmetric normalisation), so a hub with thousands of children does not dominate.
DEGREE_POWER = "degree_power"


def normalise_degrees(graph: LineageGraph, power: float) -> LineageGraph:
    """A copy of ``graph`` whose edge weights are divided by ``(deg_child * deg_parent) ** (power / 2)``."""
    degree: dict[str, int] = {}
    for edge in graph.edges:
        degree[edge.child] = degree.get(edge.child, 0) + 1
        degree[edge.parent] = degree.get(edge.parent, 0) + 1
    out = LineageGraph(nodes=graph.nodes)
    out.add_edges(Edge(e.child, e.parent, e.relation,
                       (1.0 if e.weight is None else abs(e.weight))
                       * float(degree[e.child] * degree[e.parent]) ** (-power / 2), e.root)
                  for e in graph.edges)
    return out


def _check(weights: Mapping[str, float]) -> None:
    for key, value in weights.items():
        if key not in (*SIDE_KEYS, DEGREE_POWER):
            raise InvalidInputError(f"Unknown side-information key {key!r}: valid keys are {', '.join(SIDE_KEYS)}.")
        if not value >= 0:
            raise InvalidInputError(f"Side-information weight {key}={value!r}: weights must be >= 0.")


def augment(graph: LineageGraph, model_meta: Mapping[str, Mapping[str, Any]], models: Iterable[str],
            weights: Mapping[str, float] | None) -> LineageGraph:
    """A copy of ``graph`` plus one virtual node per metadata group of ``models``.

    Parameters
    ----------
    graph : LineageGraph
        The lineage graph (left unchanged).
    model_meta : mapping
        ``ObservationMatrix.model_meta``: model -> ``{"architecture", "params_b", "type",
        "chat_template", ...}``; models without metadata join no group.
    models : iterable of str
        The models to link (scored and test models alike: metadata is not a score).
    weights : mapping or None
        Side key (:data:`SIDE_KEYS`) -> edge weight; 0 or absent = no such nodes. None or empty
        returns ``graph`` itself.

    Groups with fewer than two members are skipped (a node with one member carries nothing).
    The edges are ``merge`` edges (the node is "a merge of its members", like
    :func:`hub_lineage.evaluation.splits.with_population`) carrying the weight in ``Edge.weight``, so keep
    ``relation_weights["merge"]`` at 1 when using them.
    """
    weights = {k: float(v) for k, v in (weights or {}).items()}
    _check(weights)
    weights = {k: v for k, v in weights.items() if v > 0}
    power = weights.pop(DEGREE_POWER, 0.0)
    if power:
        graph = normalise_degrees(graph, power)
    if not weights:
        return graph
    members: dict[tuple[str, str], list[str]] = {}
    for model in dict.fromkeys(models):
        for key, label in model_groups(model_meta.get(model)).items():
            if key in weights:
                members.setdefault((key, label), []).append(model)
    out = LineageGraph(nodes=graph.nodes)
    out.add_edges(graph.edges)
    out.add_edges(Edge(side_node(key, label), m, Relation.MERGE, weights[key])
                  for (key, label), group in sorted(members.items()) if len(group) >= 2 for m in group)
    return out


__all__ = ["SIDE_KEYS", "augment", "model_groups", "size_bucket", "is_side_node", "side_node"]
