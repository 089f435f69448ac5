"""Who may be tested and how models are split: eligibility, folds, graph pruning, lineage noise.

A model is *eligible* for cold-start testing when it has at least one scored lineage relative
(any path through the lineage graph, multi-hop, through unevaluated intermediate models). Folds
are drawn over eligible models only; the other scored models always train.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

import numpy as np

from hub_lineage.errors import InvalidInputError
from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.lineage.walk import breadth_first


def _undirected(graph: LineageGraph, nodes: Iterable[str] = ()) -> dict[str, set[str]]:
    """Each node's neighbours, ignoring edge direction (``nodes`` not in ``graph`` isolated)."""
    links: dict[str, set[str]] = {n: set() for n in graph.nodes}
    for node in nodes:
        links.setdefault(node, set())
    for edge in graph.edges:
        links[edge.child].add(edge.parent)
        links[edge.parent].add(edge.child)
    return links


def _label_components(links: dict[str, set[str]]) -> dict[str, int]:
    """Component number of every node of ``links`` (0, 1... in the order their first node comes)."""
    label: dict[str, int] = {}
    found = 0
    for start in links:
        if start not in label:
            label.update(dict.fromkeys(breadth_first(start, links.__getitem__), found))
            found += 1
    return label


def components(graph: LineageGraph, nodes: Iterable[str] = ()) -> dict[str, int]:
    """Connected-component label of every node of ``graph`` (plus ``nodes``, isolated if unknown)."""
    return _label_components(_undirected(graph, nodes))


def eligible_models(scored: Sequence[str], graph: LineageGraph) -> list[str]:
    """Scored models with at least one other scored model in their lineage component (in order)."""
    label = components(graph, scored)
    counts: dict[int, int] = {}
    for m in scored:
        counts[label[m]] = counts.get(label[m], 0) + 1
    return [m for m in scored if counts[label[m]] > 1]


def models_with_scored_parent(scored: Sequence[str], graph: LineageGraph) -> list[str]:
    """Scored models with a scored ancestor (the instance setting's held-out fine-tunes)."""
    scored_set = set(scored)
    return [m for m in scored if any(a in scored_set for a in graph.ancestors(m))]


def kfold(models: Sequence[str], n_folds: int, seed: int) -> list[list[str]]:
    """Shuffle ``models`` with ``seed`` and cut them into ``n_folds`` disjoint folds."""
    if n_folds < 2:
        raise InvalidInputError(f"n_folds={n_folds}: cold-start cross-validation needs at least 2 folds.")
    if len(models) < n_folds:
        raise InvalidInputError(
            f"Only {len(models)} eligible model(s) for {n_folds} folds: each fold needs at least one "
            "model with a scored lineage relative.")
    order = np.random.default_rng(seed).permutation(len(models))
    return [[models[i] for i in part] for part in np.array_split(order, n_folds)]


def check_split(n_models: int, n_folds: int, test_fraction: float | None, what: str = "the data") -> None:
    """Refuse a split that cannot be made: < 2 folds, more folds than models, a fraction outside
    (0, 1) or one leaving an empty test or training side."""
    if test_fraction is not None:
        if not 0.0 < test_fraction < 1.0:
            raise InvalidInputError(f"test fraction {test_fraction:g}: give a fraction in (0, 1), e.g. 0.2.")
        n_test = int(round(test_fraction * n_models))
        if not 1 <= n_test < n_models:
            raise InvalidInputError(
                f"test fraction {test_fraction:g} of {n_models} eligible model(s) of {what} gives {n_test} test "
                "model(s): both the test and the training side need at least one.")
        return
    if n_folds < 2:
        raise InvalidInputError(f"folds {n_folds}: cold-start cross-validation needs at least 2 folds.")
    if n_models < n_folds:
        raise InvalidInputError(
            f"{what} has {n_models} eligible model(s) (with a scored lineage relative) for {n_folds} folds: "
            "use at most as many folds as models.")


def holdout(models: Sequence[str], fraction: float, seed: int) -> list[str]:
    """The test split: ``round(fraction * len(models))`` models drawn with ``seed``."""
    check_split(len(models), 2, fraction)
    order = np.random.default_rng(seed).permutation(len(models))
    return [models[i] for i in order[:int(round(fraction * len(models)))]]


def relevant_graph(graph: LineageGraph, keep: Iterable[str]) -> LineageGraph:
    """The part of ``graph`` that can carry lineage between ``keep`` models.

    Drops components without a ``keep`` model and, repeatedly, leaves that are not ``keep``
    models (an unevaluated dangling branch carries nothing between scored models). Intermediate
    unevaluated models on paths between kept models stay: that is what makes lineage multi-hop.
    """
    keep_set = set(keep)
    links = _undirected(graph, keep_set)
    label = _label_components(links)
    live = {label[k] for k in keep_set}
    alive = {n for n in links if label[n] in live}
    queue = deque(n for n in alive if n not in keep_set and len(links[n]) <= 1)
    while queue:
        node = queue.popleft()
        if node not in alive:
            continue
        alive.discard(node)
        for other in links[node]:
            links[other].discard(node)
            if other in alive and other not in keep_set and len(links[other]) <= 1:
                queue.append(other)
    return graph.subgraph(n for n in links if n in alive)


def parse_noise(text: str | None) -> tuple[str, float] | None:
    """``"add:0.2"`` / ``"remove:0.4"`` -> ``("add", 0.2)``; None stays None."""
    if text is None or text == "":
        return None
    kind, _, frac = text.partition(":")
    try:
        value = float(frac)
    except ValueError:
        value = -1.0
    if kind not in ("add", "remove") or not 0.0 < value <= 1.0:
        raise InvalidInputError(
            f"Bad lineage noise {text!r}: write add:FRACTION or remove:FRACTION with FRACTION in (0, 1], "
            "e.g. add:0.2.")
    return kind, value


def perturb(graph: LineageGraph, noise: tuple[str, float], scored: Sequence[str], seed: int) -> LineageGraph:
    """A copy of ``graph`` with a fraction of its edges removed, or as many random edges added.

    Random edges join two random scored models (as a wrong ``base_model`` tag would), the
    paper's rebuttal experiment; removal drops edges uniformly at random.
    """
    kind, frac = noise
    rng = np.random.default_rng(10_000 + seed)
    edges = graph.edges
    n_change = int(round(frac * len(edges)))
    out = LineageGraph(nodes=graph.nodes)
    if kind == "remove":
        drop = set(rng.choice(len(edges), size=n_change, replace=False).tolist()) if n_change else set()
        out.add_edges(e for k, e in enumerate(edges) if k not in drop)
        return out
    out.add_edges(edges)
    pool = list(scored)
    added, tries = 0, 0
    while added < n_change and tries < 20 * n_change + 100 and len(pool) > 1:
        tries += 1
        a, b = rng.choice(len(pool), size=2, replace=False)
        added += out.add_edge(pool[a], pool[b], Relation.FINETUNE, warn=False)
    return out



#: The virtual node of :func:`with_population`.
POPULATION = "<population>"


def with_population(graph: LineageGraph, models: Sequence[str]) -> LineageGraph:
    """A copy of ``graph`` plus a virtual ``<population>`` node linked to every model in ``models``.

    The links are ``merge`` edges (the node is a "merge of all models"), so LRMF's
    ``relation_weights={"merge": w}`` sets how strongly every factor, a cold-start one included,
    is pulled toward the population's mean factor (``w=0`` switches it off). A node without
    parents among ``models`` walks nowhere new: MLA's parent-only walk ignores the node, and its
    nearest-ring walk stops at a scored parent before the unscored population node matters.
    """
    out = LineageGraph(nodes=graph.nodes)
    out.add_edges(graph.edges)
    out.add_edges(Edge(POPULATION, m, Relation.MERGE) for m in models)
    return out
