"""Breadth-first walks over lineage: the one traversal behind ancestors, descendants, hops and resolving.

Iterative (a 5,000-generation chain cannot overflow the stack) and cycle-safe (each node is visited
once), whatever the graph: a LineageGraph, its compact form, or the Hub asked one repo at a time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable
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
