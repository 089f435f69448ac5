"""The neighbourhood a prediction is drawn from: the stored lineage graph and the local fold-in.

:class:`CompactGraph` keeps the 30,000-node crawl as CSR arrays (loading costs milliseconds, not
a rebuilt :class:`LineageGraph`). :func:`local_system` walks from the predicted model through
unscored relatives (up to ``MAX_HOPS``) to the scored ones, which anchor the fold-in; the model and
the unscored nodes on the way are renamed and re-solved, so the model's own scores cannot leak
back through factors they absorbed during the fit. No scipy on the predict path, and numpy only in
:class:`CompactGraph`: the walk and the drivers also serve :mod:`hub_lineage.predict.light`.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub_lineage.errors import NoLineageError
from hub_lineage.files import write_atomic
from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.lineage.walk import breadth_first
from hub_lineage.lineage.weights import normalise_weights

if TYPE_CHECKING:
    import numpy as np

    from hub_lineage.predict.tables import NameList, NodeNames

#: How far (hops) the lineage walk goes from the predicted model through unscored relatives.
MAX_HOPS = 3
#: Cap on the unscored nodes re-solved per prediction (hub nodes can have thousands of children).
MAX_FREE_NODES = 400
#: Suffix that turns a fitted node into a "new" one for LRMF.fold_in (ids cannot contain spaces).
HELD_OUT = " (held out)"
RELATIONS = list(Relation)

# -- the compact lineage graph ------------------------------------------------------------------


class GroupedEdges:
    """Lineage edges as parallel arrays, grouped by child and by parent: a node's parents and
    children in O(degree), the edges in the same order whoever holds the arrays.

    The holder sets ``nodes`` (``index_of(name)``, ``nodes[i]``), the edge arrays ``child``,
    ``parent``, ``relation`` (index into :class:`Relation`), ``weight`` (NaN: none) and ``root``,
    and the groups: node ``i``'s edges as a child are ``_by_child[_child_ptr[i]:_child_ptr[i + 1]]``,
    as a parent likewise. numpy arrays (:class:`CompactGraph`) and memoryviews
    (:class:`~hub_lineage.predict.light_files.LightGraph`) both serve.
    """

    nodes: Any
    child: Any
    parent: Any
    relation: Any
    weight: Any
    root: Any
    _by_child: Any
    _child_ptr: Any
    _by_parent: Any
    _parent_ptr: Any

    def _edge(self, k: int) -> Edge:
        w = float(self.weight[k])
        return Edge(self.nodes[self.child[k]], self.nodes[self.parent[k]], RELATIONS[self.relation[k]],
                    None if math.isnan(w) else w, bool(self.root[k]))

    def index_of(self, node: str) -> int | None:
        """The node's index in :attr:`nodes`, or None."""
        return self.nodes.index_of(node)

    def parents(self, node: str) -> list[Edge]:
        i = self.nodes.index_of(node)
        if i is None:
            return []
        return [self._edge(k) for k in self._by_child[self._child_ptr[i]:self._child_ptr[i + 1]]]

    def children(self, node: str) -> list[Edge]:
        i = self.nodes.index_of(node)
        if i is None:
            return []
        return [self._edge(k) for k in self._by_parent[self._parent_ptr[i]:self._parent_ptr[i + 1]]]

    def neighbours(self, node: str, root: bool) -> list[str]:
        """Parents and children of ``node`` through family-root edges (``root``) or real ones, without
        building :class:`Edge` objects (the correction's relatives walk reads many nodes)."""
        i = self.nodes.index_of(node)
        if i is None:
            return []
        up = self._by_child[self._child_ptr[i]:self._child_ptr[i + 1]]
        down = self._by_parent[self._parent_ptr[i]:self._parent_ptr[i + 1]]
        return ([self.nodes[self.parent[k]] for k in up if bool(self.root[k]) == root]
                + [self.nodes[self.child[k]] for k in down if bool(self.root[k]) == root])

    def __contains__(self, node: object) -> bool:
        return node in self.nodes


class CompactGraph(GroupedEdges):
    """A read-only lineage graph as numpy arrays (:class:`GroupedEdges`), saved with the predictor."""

    def __init__(self, nodes: NodeNames | NameList, child: np.ndarray, parent: np.ndarray, relation: np.ndarray,
                 weight: np.ndarray, root: np.ndarray) -> None:
        import numpy as np

        self.nodes = nodes  # sorted (format 2): a name's index is found by binary search, no dict of all names
        self.child, self.parent = child.astype(np.int64), parent.astype(np.int64)
        self.relation, self.weight, self.root = relation, weight, root
        self._by_child, self._child_ptr = _grouped(self.child, len(nodes))
        self._by_parent, self._parent_ptr = _grouped(self.parent, len(nodes))

    @classmethod
    def from_graph(cls, graph: LineageGraph, extra_nodes: Sequence[str] = ()) -> CompactGraph:
        import numpy as np

        from hub_lineage.predict.tables import NodeNames

        nodes = list(dict.fromkeys([*graph.nodes, *extra_nodes]))
        names, position = NodeNames.from_names(nodes)
        pos = {n: int(i) for n, i in zip(nodes, position)}
        edges = graph.edges
        rel_code = {r: k for k, r in enumerate(RELATIONS)}
        return cls(
            names,
            np.array([pos[e.child] for e in edges], dtype=np.int64),
            np.array([pos[e.parent] for e in edges], dtype=np.int64),
            np.array([rel_code[e.relation] for e in edges], dtype=np.int8),
            np.array([np.nan if e.weight is None else e.weight for e in edges], dtype=np.float64),
            np.array([e.root for e in edges], dtype=bool),
        )

    def save(self, directory: Path) -> NodeNames:
        """Write ``graph.npz`` (edges as int32/float32 arrays) and ``graph_nodes.npy`` (sorted names),
        each atomically; return the names as saved (sorted: a format-1 graph is renumbered here)."""
        import numpy as np

        from hub_lineage.predict.tables import NodeNames

        names, child, parent = self.nodes, self.child, self.parent
        if not isinstance(names, NodeNames):
            names, position = NodeNames.from_names(list(names))
            child, parent = position[child], position[parent]
        by_child, child_ptr = _grouped(child, len(names))
        by_parent, parent_ptr = _grouped(parent, len(names))
        buffer = io.BytesIO()
        # the edge ids grouped by child and by parent too: the numpy-free predict path
        # (predict/light_files.py) would otherwise sort 30,000 edges in Python on every run
        np.savez(buffer, child=child.astype(np.int32), parent=parent.astype(np.int32),
                 relation=self.relation, weight=self.weight.astype(np.float32), root=self.root,
                 by_child=by_child.astype(np.int32), child_ptr=child_ptr.astype(np.int32),
                 by_parent=by_parent.astype(np.int32), parent_ptr=parent_ptr.astype(np.int32))
        write_atomic(directory / "graph.npz", buffer.getvalue())
        names.save(directory / "graph_nodes.npy")
        return names

    @classmethod
    def load(cls, directory: Path) -> CompactGraph:
        """Read :meth:`save`'s files, or format 1's ``graph_nodes.json`` (names in edge-index order)."""
        import numpy as np

        from hub_lineage.predict.tables import NameList, NodeNames

        with np.load(directory / "graph.npz") as z:
            child, parent = z["child"].astype(np.int64), z["parent"].astype(np.int64)
            rest = z["relation"], z["weight"].astype(np.float64), z["root"]
        if (directory / "graph_nodes.npy").is_file():
            return cls(NodeNames.load(directory / "graph_nodes.npy"), child, parent, *rest)
        nodes = json.loads((directory / "graph_nodes.json").read_text(encoding="utf-8"))
        return cls(NameList(nodes), child, parent, *rest)


def _grouped(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Edge ids grouped by ``keys`` (a stable sort) and each group's start (n + 1,): node ``i``'s
    edges are ``order[start[i]:start[i + 1]]``."""
    import numpy as np

    order = np.argsort(keys, kind="stable")
    return order, np.searchsorted(keys[order], np.arange(n + 1))


class Lineage:
    """Parents and children from the stored graph, overlaid with extra edges (Hub, card, recipe)."""

    def __init__(self, stored: CompactGraph, extra: LineageGraph | None = None, hide: str | None = None) -> None:
        self.stored, self.extra, self.hide = stored, extra, hide

    def parents(self, node: str) -> list[Edge]:
        if node == self.hide:
            return self.extra.parents(node) if self.extra is not None else []
        seen = {e.parent: e for e in self.stored.parents(node)}
        if self.extra is not None:
            for e in self.extra.parents(node):
                seen.setdefault(e.parent, e)
        return list(seen.values())

    def children(self, node: str) -> list[Edge]:
        if node == self.hide:
            return self.extra.children(node) if self.extra is not None else []
        seen = {e.child: e for e in self.stored.children(node) if e.child != self.hide}
        if self.extra is not None:
            for e in self.extra.children(node):
                seen.setdefault(e.child, e)
        return list(seen.values())

    def links(self, root: bool) -> Links:
        """The link map (node -> sorted neighbours) of real (``root=False``) or family-root edges that
        :class:`~hub_lineage.predict.conformal.RelativeIndex` walks, read on demand."""
        return Links(self, root)


class Links:
    """:meth:`Lineage.links`: a ``.get``-only map read from the stored graph and the extra edges."""

    def __init__(self, lineage: Lineage, root: bool) -> None:
        self.lineage, self.root = lineage, root

    def get(self, node: str, default: Any = ()) -> list[str]:
        lineage = self.lineage
        out = set() if node == lineage.hide else set(lineage.stored.neighbours(node, self.root))
        if lineage.extra is not None:  # Hub, card or --parent edges
            out.update(e.parent for e in lineage.extra.parents(node) if bool(e.root) == self.root)
            out.update(e.child for e in lineage.extra.children(node) if bool(e.root) == self.root)
        return sorted(out) if out else list(default)


def planned_lineage(model: str, edges: Sequence[Edge], stored: Any, knows: Callable[[str], bool]
                    ) -> tuple[Lineage, list[str], float]:
    """The lineage of a planned ``model`` made from ``edges`` (a card, recipe or ``--parent``) over the
    ``stored`` graph: ``(lineage, unknown parents, widening)``.

    Parents that ``knows`` rejects are dropped and listed; they widen the interval by their share of
    the weight (``1 + share``). :class:`NoLineageError` when no parent is given or known;
    :class:`~hub_lineage.errors.InvalidInputError` for bad weights.
    """
    if not edges:
        raise NoLineageError(f"No parents were given for {model!r}: name at least one known model.")
    known, unknown = [], []
    weights = normalise_weights([e.weight for e in edges], f"the parents of {model!r}")
    for e, w in zip(edges, weights):
        edge = Edge(model, e.parent, e.relation, w, e.root)
        (known if knows(e.parent) else unknown).append(edge)
    if not known:
        raise NoLineageError(
            f"None of the parents of {model!r} is known to the predictor: "
            f"{', '.join(e.parent for e in unknown)}. Ingest their scores or lineage, or name other parents.")
    lineage = Lineage(stored, LineageGraph(known, nodes=[model]), hide=model)
    total = sum(w if w is not None else 1.0 for w in weights)
    share = sum(e.weight if e.weight is not None else 1.0 for e in unknown) / total if total else 0.0
    return lineage, [e.parent for e in unknown], 1.0 + share


# -- the local fold-in system -------------------------------------------------------------------


@dataclass
class LocalSystem:
    """The small graph folded in for one prediction, and how each relative relates to the model."""

    model: str
    graph: LineageGraph
    free: list[str]  # renamed (held-out) nodes: the model and unscored relatives near it
    anchors: list[str]  # scored (or far) fitted relatives whose factors stay fixed
    hops: dict[str, int]
    kinship: dict[str, str]
    hops_to_scored: float

    @property
    def target(self) -> str:
        """The model's (renamed) node in :attr:`graph`."""
        return self.model + HELD_OUT

    @property
    def component(self) -> tuple[list[str], list[str]]:
        """``(new nodes, fitted boundary)`` for :func:`hub_lineage.model.foldin.fold_in`: the walk is done."""
        return [n + HELD_OUT for n in self.free], list(self.anchors)

    def drivers(self, influence: Mapping[str, float], top: int = 5) -> list[tuple[str, str, int, float]]:
        """The ``top`` anchors by share of the model's folded-in factors: ``(model, relation, hops, share)``.

        ``influence`` holds each anchor's harmonic-extension weight (``FoldIn.influence`` of the
        fold-in that explained :attr:`target`); shares are the weights over their sum.
        """
        if not self.anchors:
            return []
        weights = [float(influence.get(a, 0.0)) for a in self.anchors]
        total = math.fsum(weights)
        if total <= 0:
            return []
        shares = [w / total for w in weights]
        # ties (the two parents of an even merge) keep the walk's order, whatever the rounding
        # (rounded as numpy.round does: scale, round half to even, unscale)
        ranked = sorted(range(len(shares)), key=lambda k: (-(round(shares[k] * 1e12) / 1e12), k))[:top]
        return [(self.anchors[k], self.kinship[self.anchors[k]], self.hops[self.anchors[k]], shares[k])
                for k in ranked if shares[k] > 0]


def local_system(model: str, lineage: Lineage, scored: Mapping[str, Any], fitted: Mapping[str, int]) -> LocalSystem:
    """Walk the lineage from ``model`` through unscored relatives (up to MAX_HOPS), stopping at
    scored ones: those are the anchors. Unscored nodes on the way are re-solved (free), so the
    model's own scores cannot leak back through factors they absorbed during the fit."""
    hops = {model: 0}
    kinship: dict[str, str] = {}
    free = [model]
    free_set = {model}
    anchors: list[str] = []
    edges: list[Edge] = []
    ancestors = {model}

    def expand(node: str) -> list[str]:
        """The newly met relatives of a free node (anchors and far nodes are not walked through)."""
        if node not in free_set:
            return []
        met = []
        for edge, other, up in ([(e, e.parent, True) for e in lineage.parents(node)]
                                + [(e, e.child, False) for e in lineage.children(node)]):
            edges.append(edge)
            if other in hops:
                continue
            hops[other] = hops[node] + 1  # the walk meets nodes in this order: the same hops
            met.append(other)
            if up and node in ancestors:
                ancestors.add(other)
                # a root edge (contents table: Base Model + Generation) is no direct parent
                kinship[other] = "family root" if edge.root else edge.relation.value
            else:
                kinship[other] = "descendant" if not up and hops[node] == 0 else "relative"
            if other not in scored and hops[other] < MAX_HOPS and len(free) < MAX_FREE_NODES:
                free.append(other)
                free_set.add(other)
            elif other in fitted:
                anchors.append(other)
            # else: an unfitted node not walked further is a dangling leaf; it carries nothing
        return met

    breadth_first(model, expand)
    rename = {n: n + HELD_OUT for n in free}
    graph = LineageGraph(nodes=[rename[model]])
    keep = free_set | set(anchors)
    local_edges = [Edge(rename.get(e.child, e.child), rename.get(e.parent, e.parent), e.relation, e.weight, e.root)
                   for e in edges if e.child in keep and e.parent in keep]
    graph.add_edges(local_edges, anchors=[rename[model]])  # a cycle never loses the query's own parent edge
    scored_hops = [hops[a] for a in anchors if a in scored]
    if not scored_hops:
        raise NoLineageError(
            f"No scored relative of {model!r} is within {MAX_HOPS} hops of its lineage, so its scores "
            "cannot be predicted. Name better-known parents with --parent, or ingest scores of its relatives.")
    return LocalSystem(model, graph, free, anchors, hops, kinship, float(min(scored_hops)))
