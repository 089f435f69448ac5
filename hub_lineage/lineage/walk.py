"""Breadth-first walks over lineage: the one traversal behind ancestors, descendants, hops and resolving.

Iterative (a 5,000-generation chain cannot overflow the stack) and cycle-safe (each node is visited
once), whatever the graph: a LineageGraph, its compact form, or the Hub asked one repo at a time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Container, Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

N = TypeVar("N", bound=Hashable)


def breadth_first(starts: N | Iterable[N], neighbours: Callable[[N], Iterable[N]], *,
                  max_depth: int | None = None, multi: bool = False) -> dict[N, int]:
    """Every node reachable from the start(s) with its distance in hops (the starts at 0).

    ``neighbours(node)`` gives the next nodes (parents, children, both...). With ``multi=True``
    ``starts`` is an iterable of start nodes; otherwise it is one node. Nodes further than
    ``max_depth`` hops are not visited (their neighbours are never asked for). The dict is in
    visiting order: nearer nodes first.
    """
    first = list(starts) if multi else [starts]  # type: ignore[list-item]
    depth: dict[N, int] = dict.fromkeys(first, 0)
    queue = deque(depth)
    while queue:
        node = queue.popleft()
        if max_depth is not None and depth[node] >= max_depth:
            continue
        for nxt in neighbours(node):
            if nxt not in depth:
                depth[nxt] = depth[node] + 1
                queue.append(nxt)
    return depth


def stop_past_first_ring(start: N, neighbours: Callable[[N], list[N]],
                         targets: Container[N]) -> Callable[[N], list[N]]:
    """``neighbours`` for a breadth-first walk from ``start`` that expands no node at or beyond the
    distance of the first ``targets`` node met: every target of that ring is still found."""
    depth = {start: 0}
    nearest: list[int] = []

    def step(node: N) -> list[N]:
        if nearest and depth[node] >= nearest[0]:
            return []
        out = neighbours(node)
        for nxt in out:
            if nxt not in depth:  # the walk visits nodes in this order too: same depths
                depth[nxt] = depth[node] + 1
                if nxt in targets and not nearest:
                    nearest.append(depth[nxt])
        return out

    return step


def nearest_rings(start: N, links: Mapping[N, Sequence[N]], targets: Container[N], depth: int
                  ) -> tuple[int, list[N], list[N]]:
    """``(d, ring, next_ring)``: the distance ``d`` of the ``targets`` nearest to ``start`` through
    ``links`` (node -> neighbours; only ``.get`` is used), those at ``d`` and those at ``d + 1``
    (in walk order); ``(depth + 1, [], [])`` when none lies within ``depth`` hops."""
    seen, frontier, found, hop = {start}, [start], [], 0
    while frontier and hop < depth:
        hop += 1
        nxt = []
        for node in frontier:
            for other in links.get(node, ()):
                if other not in seen:
                    seen.add(other)
                    nxt.append(other)
        ring = [n for n in nxt if n in targets]
        if found:
            return hop - 1, found, ring
        if ring:
            found = ring
        frontier = nxt
    return (hop, found, []) if found else (depth + 1, [], [])
