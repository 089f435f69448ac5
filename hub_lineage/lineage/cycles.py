"""Breaking cycles in lineage metadata: one rule for a walk and for a whole edge list.

The Hub's cards have cycles (two repos naming each other as base). A :class:`LineageGraph` stays
acyclic, so one edge per cycle goes, chosen by one rule: drop the edge **farthest from the anchors**,
the models queries start from (scored models when the store builds the predictor's graph; by
default the models nothing descends from, i.e. the newest), counted in hops along parent edges from
the edge's child. That is the edge a walk from the anchors meets last, the one closing the cycle, so
an anchor's own stated parent edge survives whenever the cycle can be broken elsewhere. Ties go to
the larger ``(child, parent)`` pair, so the result never depends on the order the edges came in.

Everything here reads ``parents``/``children`` maps (``{node: {other: Edge}}``) and is linear in the
graph except the repair inside a cyclic component, which is quadratic in that component's edges
(components on the Hub have a handful of edges).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from hub_lineage.lineage.edges import Edge

Adjacency = Mapping[str, Mapping[str, Any]]
_FAR = float("inf")  # a node no anchor reaches: farthest of all


def anchor_distance(parents: Adjacency, children: Adjacency, anchors: Iterable[str] | None = None) -> dict[str, int]:
    """Hops from the nearest anchor to each node, along parent edges (child -> parent).

    ``anchors`` default to the nodes without children. Nodes no anchor reaches are left out.
    """
    if anchors is None:
        anchors = (n for n in parents if not children.get(n))
    dist = {a: 0 for a in anchors if a in parents}
    queue = deque(dist)
    while queue:
        node = queue.popleft()
        for parent in parents[node]:
            if parent not in dist:
                dist[parent] = dist[node] + 1
                queue.append(parent)
    return dist


def drop_order(edge: Edge, dist: Mapping[str, int]) -> tuple[float, str, str]:
    """Sort key: the edge to drop first sorts last (farthest child, then the larger pair)."""
    return (dist.get(edge.child, _FAR), edge.child, edge.parent)


def cyclic_components(parents: Adjacency, starts: Iterable[str]) -> list[list[str]]:
    """Strongly connected components with more than one node among the nodes ``starts`` reach
    (iterative Tarjan: no recursion limit on deep lineages)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    for start in starts:
        if start in index:
            continue
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        work: list[tuple[str, Iterator[str]]] = [(start, iter(parents[start]))]
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(parents[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                up = work[-1][0]
                low[up] = min(low[up], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                if len(comp) > 1:
                    out.append(comp)
    return out


def edges_to_drop(parents: Adjacency, children: Adjacency, starts: Iterable[str],
                  anchors: Iterable[str] | None = None) -> list[Edge]:
    """The edges whose removal leaves the part of the graph ``starts`` reach acyclic, by the rule
    of this module. Within each cyclic component the edges are tried farthest first, and one is
    dropped while it still lies on a cycle, so every cycle loses exactly its farthest edge at the
    time it is looked at, and what is left is acyclic (any cycle left would have had its first-tried
    edge dropped)."""
    components = cyclic_components(parents, starts)
    if not components:
        return []
    dist = anchor_distance(parents, children, anchors)
    dropped: list[Edge] = []
    for comp in components:
        members = set(comp)
        inner = [e for node in comp for e in parents[node].values() if e.parent in members]
        gone: set[tuple[str, str]] = set()
        for edge in sorted(inner, key=lambda e: drop_order(e, dist), reverse=True):
            if _reaches_within(parents, members, gone, edge.parent, edge.child):
                gone.add((edge.child, edge.parent))
                dropped.append(edge)
    return dropped


def _reaches_within(parents: Adjacency, members: set[str], gone: set[tuple[str, str]],
                    start: str, target: str) -> bool:
    seen = {start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == target:
            return True
        for parent in parents[node]:
            if parent in members and parent not in seen and (node, parent) not in gone:
                seen.add(parent)
                queue.append(parent)
    return False


__all__ = ["anchor_distance", "cyclic_components", "drop_order", "edges_to_drop"]
