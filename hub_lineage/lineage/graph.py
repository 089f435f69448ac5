"""The lineage graph: which models were fine-tuned, merged, adapted or quantized from which.

Pure data, no I/O. Nodes are Hub repo ids; an :class:`~hub_lineage.lineage.edges.Edge` points
from a child to one of its parents. Metadata on the Hub is messy: self-loops and cycles occur, so
:meth:`LineageGraph.add_edge` refuses them (with a :class:`~hub_lineage.errors.LineageWarning`) and
every traversal (:func:`~hub_lineage.lineage.walk.breadth_first`) is cycle-safe anyway.

Two kinds of edges exist. Direct edges come from cards, tags, adapter configs, mergekit configs and
edge lists. *Root* edges (``root=True``) are weak "this model descends from that family root"
links, taken from the leaderboard's ``Base Model`` column; they are only kept for a child that has
no direct parent, and the Laplacian weighs them separately.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hub_lineage.errors import DataFormatError, LineageWarning
from hub_lineage.lineage import cycles
from hub_lineage.lineage.edges import ROOT, Edge, Relation
from hub_lineage.lineage.walk import breadth_first

if TYPE_CHECKING:  # scipy costs ~0.7 s of imports, numpy ~0.15 s: only the methods that need them load them
    import numpy as np
    import scipy.sparse as sp

#: Why an edge given to the graph was not kept, as counted in :attr:`LineageGraph.dropped`.
DROP_REASONS = {
    "self_loop": "self-loop(s)",
    "cycle": "edge(s) closing a cycle",
    "root": "family-root edge(s) of models with a direct parent",
    "duplicate": "duplicate(s) of an edge already there",
}

#: Up to this many new edges, each is checked for closing a cycle (and dropped if it does);
#: larger batches (an edge list) are searched in one linear pass from the new edges' children.
SMALL_BATCH = 64


class LineageGraph:
    """A directed lineage graph (child -> parent edges) over repo ids, kept acyclic."""

    def __init__(self, edges: Iterable[Edge] = (), nodes: Iterable[str] = (),
                 anchors: Iterable[str] | None = None) -> None:
        self._nodes: dict[str, None] = {}
        self._parents: dict[str, dict[str, Edge]] = {}
        self._children: dict[str, dict[str, Edge]] = {}
        #: Edges given but not kept, by reason (see :data:`DROP_REASONS`): why a graph built from a
        #: store holds fewer edges than the store (``hub-lineage fit`` says so).
        self.dropped: Counter[str] = Counter()
        for node in nodes:
            self.add_node(node)
        self.add_edges(edges, anchors=anchors)

    # -- building -----------------------------------------------------------------------------

    def add_node(self, node: str) -> None:
        """Add a model with no edges (a root, or a model whose lineage is unknown)."""
        if node not in self._nodes:
            self._nodes[node] = None
            self._parents[node] = {}
            self._children[node] = {}

    def add_edge(
        self,
        child: str,
        parent: str,
        relation: Relation | str = Relation.FINETUNE,
        weight: float | None = None,
        *,
        root: bool = False,
        warn: bool = True,
    ) -> bool:
        """Add ``child -> parent``; return whether the graph changed.

        A self-loop or an edge that would close a cycle is refused with a LineageWarning (the Hub
        has both). A root edge is refused when the child already has a direct parent, and a
        direct edge removes the child's root edges.
        """
        edge = Edge(child, parent, Relation.parse(relation), weight, root)
        if child == parent:
            self.dropped["self_loop"] += 1
            if warn:
                warnings.warn(f"Ignored a self-loop on {child!r} (a model cannot be its own parent).",
                              LineageWarning, stacklevel=2)
            return False
        if child in self._nodes and parent in self._nodes and self._reaches(parent, child):
            self.dropped["cycle"] += 1
            if warn:
                warnings.warn(
                    f"Ignored the edge {child!r} -> {parent!r}: {parent!r} already descends from "
                    f"{child!r}, so it would close a cycle.", LineageWarning, stacklevel=2)
            return False
        return self._insert(edge)

    def add_edges(self, edges: Iterable[Edge], *, anchors: Iterable[str] | None = None) -> int:
        """Add many edges at once; break self-loops and cycles with one summary warning.

        Returns the number of edges added. A cycle loses its edge farthest from ``anchors`` (default:
        the models nothing descends from), whatever the order of ``edges`` (:mod:`.cycles`). Large
        batches are searched after insertion in one linear pass, much faster than checking each edge
        on a 30,000-edge crawl.
        """
        added = 0
        self_loops: list[str] = []
        new: list[Edge] = []
        for edge in edges:
            if edge.child == edge.parent:
                self_loops.append(edge.child)
                continue
            if self._insert(edge):
                added += 1
                new.append(edge)
        if len(new) <= SMALL_BATCH:
            # a few edges (a walk adding one repo's parents): drop the new edge that closes a cycle, the
            # newest and so the farthest from where the walk started, never the queried model's own
            closing = [e for e in new if self._reaches(e.parent, e.child)]
            if len(closing) > 1:  # several: farthest first, as in bulk, so input order does not matter
                dist = cycles.anchor_distance(self._parents, self._children, anchors)
                closing.sort(key=lambda e: cycles.drop_order(e, dist), reverse=True)
            broken = [e for e in closing if self._reaches(e.parent, e.child) and self._drop(e)]
        else:  # only new edges can close a cycle: search from their children
            broken = [e for e in cycles.edges_to_drop(self._parents, self._children,
                                                      dict.fromkeys(e.child for e in new), anchors)
                      if self._drop(e)]
        added -= len(broken)
        self.dropped["self_loop"] += len(self_loops)
        self.dropped["cycle"] += len(broken)
        if self_loops or broken:
            parts = []
            if self_loops:
                parts.append(f"{len(self_loops)} self-loop(s) (e.g. {self_loops[0]!r})")
            if broken:
                e = broken[0]
                parts.append(f"{len(broken)} edge(s) closing a cycle (e.g. {e.child!r} -> {e.parent!r})")
            warnings.warn("Ignored " + " and ".join(parts) + " in the lineage metadata.",
                          LineageWarning, stacklevel=2)
        return added

    def update(self, other: LineageGraph) -> int:
        """Add every node and edge of ``other``; return the number of edges added."""
        for node in other._nodes:
            self.add_node(node)
        return self.add_edges(other.edges)

    def remove_edge(self, child: str, parent: str) -> None:
        self._parents.get(child, {}).pop(parent, None)
        self._children.get(parent, {}).pop(child, None)

    def _insert(self, edge: Edge) -> bool:
        self.add_node(edge.child)
        self.add_node(edge.parent)
        parents = self._parents[edge.child]
        has_direct = any(not e.root for e in parents.values())
        if edge.root and has_direct:
            self.dropped["root"] += 1
            return False
        old = parents.get(edge.parent)
        if old is not None and (old.root <= edge.root) and (old.weight is not None or edge.weight is None):
            self.dropped["duplicate"] += 1
            return False  # keep the first direct label; the Hub's duplicates are not more right
        if old is not None:
            self.dropped["duplicate"] += 1  # the new edge replaces it (a direct or weighted one)
        if not edge.root and not has_direct:
            for weak in [e for e in parents.values() if e.root and e.parent != edge.parent]:
                self.remove_edge(weak.child, weak.parent)
                self.dropped["root"] += 1
        parents[edge.parent] = edge
        self._children[edge.parent][edge.child] = edge
        return old is None

    def _reaches(self, start: str, target: str) -> bool:
        """Whether ``target`` is ``start`` or one of its ancestors."""
        return target in breadth_first(start, lambda node: self._parents[node])

    def _drop(self, edge: Edge) -> bool:
        self.remove_edge(edge.child, edge.parent)
        return True

    # -- reading ------------------------------------------------------------------------------

    @property
    def nodes(self) -> list[str]:
        return list(self._nodes)

    @property
    def edges(self) -> list[Edge]:
        return [e for parents in self._parents.values() for e in parents.values()]

    def __contains__(self, node: object) -> bool:
        return node in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def __repr__(self) -> str:
        return f"LineageGraph(nodes={len(self._nodes)}, edges={sum(map(len, self._parents.values()))})"

    def parents(self, node: str) -> list[Edge]:
        """Edges from ``node`` to its direct parents (empty for a root or an unknown node)."""
        return list(self._parents.get(node, {}).values())

    def children(self, node: str) -> list[Edge]:
        """Edges from the direct children of ``node`` to it."""
        return list(self._children.get(node, {}).values())

    def ancestors(self, node: str, max_depth: int | None = None) -> dict[str, int]:
        """Every ancestor of ``node`` with its depth in hops (shortest path), ``node`` excluded."""
        return self._walk(node, self._parents, max_depth)

    def descendants(self, node: str, max_depth: int | None = None) -> dict[str, int]:
        """Every descendant of ``node`` with its depth in hops (shortest path), ``node`` excluded."""
        return self._walk(node, self._children, max_depth)

    @staticmethod
    def _walk(node: str, links: dict[str, dict[str, Edge]], max_depth: int | None) -> dict[str, int]:
        depth = breadth_first(node, lambda current: links.get(current, ()), max_depth=max_depth)
        del depth[node]
        return depth

    def roots(self, node: str | None = None) -> list[str]:
        """Nodes without parents: all of them, or those among ``node`` and its ancestors."""
        candidates = self._nodes if node is None else [node, *self.ancestors(node)]
        return [n for n in candidates if n in self._nodes and not self._parents[n]]

    def subgraph(self, nodes: Iterable[str]) -> LineageGraph:
        """The graph induced on ``nodes`` (unknown ids are kept as isolated nodes)."""
        keep = dict.fromkeys(nodes)
        sub = LineageGraph()
        for node in keep:
            sub.add_node(node)
        for node in keep:
            for edge in self._parents.get(node, {}).values():
                if edge.parent in keep:
                    sub._insert(edge)
        return sub

    def lineage(self, node: str, max_depth: int | None = None) -> LineageGraph:
        """``node`` and its ancestors up to ``max_depth`` hops, with the edges between them."""
        return self.subgraph([node, *self.ancestors(node, max_depth)])

    def family(self, root: str) -> list[str]:
        """``root`` and all its descendants (multi-hop), the homogeneous-family member list."""
        return [root, *self.descendants(root)]

    def canonical(self, node: str) -> str:
        """The model whose weights ``node`` carries: follows quantized edges up to a parent."""
        seen = {node}
        while True:
            quantized = [e.parent for e in self._parents.get(node, {}).values()
                         if e.relation is Relation.QUANTIZED]
            if len(quantized) != 1 or quantized[0] in seen:
                return node
            node = quantized[0]
            seen.add(node)

    # -- linear algebra -----------------------------------------------------------------------

    def adjacency(self, index: Mapping[str, int] | Sequence[str], **options: Any) -> sp.csr_matrix:
        """Symmetric weighted adjacency ``A`` (n x n, n = len(index)) over the indexed nodes.

        ``A[i, j] = relation_weights[relation] * (edge.weight or 1)``, summed over edges between i
        and j in either direction; root edges use ``relation_weights["root"]`` (default 0.5).
        Edges touching nodes outside ``index`` are ignored. With ``collapse_quantized`` a
        quantized child is mapped onto its parent's row when that parent is indexed (same weights,
        so they are one node), and the quantized edge itself disappears. ``options`` are those of
        :meth:`adjacency_entries` (``relations``, ``relation_weights``, ``collapse_quantized``).
        """
        import scipy.sparse as sp

        pos = index if isinstance(index, Mapping) else {node: i for i, node in enumerate(index)}
        rows, cols, vals = self.adjacency_entries(pos, **options)
        return sp.csr_matrix((vals, (rows, cols)), shape=(len(pos), len(pos)))

    def adjacency_entries(
        self,
        index: Mapping[str, int] | Sequence[str],
        **options: Any,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The entries of :meth:`adjacency` as coordinates, without scipy (same options).

        Returns ``rows``, ``cols`` (int64) and ``vals`` (float64), each of shape (2 * n_edges,):
        every edge appears in both directions, and duplicates are to be summed (as the sparse
        :meth:`adjacency` does), so ``A[rows[k], cols[k]] += vals[k]`` rebuilds ``A``.
        """
        import numpy as np

        rows, cols, vals = self.adjacency_lists(index, **options)
        return (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64),
                np.asarray(vals, dtype=np.float64))

    def adjacency_lists(
        self,
        index: Mapping[str, int] | Sequence[str],
        *,
        relations: Iterable[Relation | str] | None = None,
        relation_weights: Mapping[str, float] | None = None,
        collapse_quantized: bool = True,
    ) -> tuple[list[int], list[int], list[float]]:
        """:meth:`adjacency_entries` as plain lists (the numpy-free ``predict`` path reads these)."""
        pos = index if isinstance(index, Mapping) else {node: i for i, node in enumerate(index)}
        allowed = None if relations is None else {Relation.parse(r) for r in relations}
        weights = {r.value: 1.0 for r in Relation}
        weights[ROOT] = 0.5
        if relation_weights:
            for key, value in relation_weights.items():
                name = ROOT if key == ROOT else Relation.parse(key).value
                weights[name] = float(value)
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        # one canonical() walk per node, not per edge end: a metadata node with thousands of
        # edges made this loop quadratic (94 s of a 228 s product fit, measured)
        collapsed: dict[str, str] = {}
        # only a node with a quantized parent can collapse (canonical() of any other is itself)
        quantized = {e.child for parents in self._parents.values() for e in parents.values()
                     if e.relation is Relation.QUANTIZED} if collapse_quantized else set()
        for parents in self._parents.values():
            for edge in parents.values():
                if allowed is not None and edge.relation not in allowed:
                    continue
                child, parent = edge.child, edge.parent
                if collapse_quantized:
                    for node in (child, parent):
                        if node in quantized and node not in collapsed:
                            collapsed[node] = self._collapsed(node, pos)
                    child, parent = collapsed.get(child, child), collapsed.get(parent, parent)
                i, j = pos.get(child), pos.get(parent)
                if i is None or j is None or i == j:
                    continue
                w = weights[ROOT if edge.root else edge.relation.value]
                w *= 1.0 if edge.weight is None else abs(edge.weight)
                if w == 0.0:
                    continue
                rows += (i, j)
                cols += (j, i)
                vals += (w, w)
        return rows, cols, vals

    def _collapsed(self, node: str, pos: Mapping[str, int]) -> str:
        target = self.canonical(node)
        return target if target in pos else node

    def laplacian(self, index: Mapping[str, int] | Sequence[str], **options: Any) -> sp.csr_matrix:
        """Graph Laplacian ``L = D - A`` (n x n, symmetric) of :meth:`adjacency` (same options)."""
        import numpy as np
        import scipy.sparse as sp

        adjacency = self.adjacency(index, **options)
        degree = np.asarray(adjacency.sum(axis=1)).ravel()
        return (sp.diags(degree) - adjacency).tocsr()

    # -- serialisation ------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """``{"nodes": [ID, ...], "edges": [{"child", "parent", "relation", "weight"}, ...]}``."""
        return {"nodes": self.nodes, "edges": [e.to_dict() for e in self.edges]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LineageGraph:
        if not isinstance(data, Mapping) or "edges" not in data:
            raise DataFormatError("A lineage graph's JSON needs an 'edges' list (and optionally 'nodes').")
        return cls((Edge.from_dict(e) for e in data["edges"]), nodes=data.get("nodes", ()))
