"""Synthetic lineage data with a planted structure, for tests and benchmarks.

A forest of models: roots draw random factors, a fine-tune is its parent plus noise, a merge is a
weighted average of its parents plus noise. Only some nodes are evaluated (the rest are
unevaluated intermediates, as on the Hub). Items fall into clusters whose factors are close, and
each cluster has its own prompt-like embedding direction, so a kNN graph over the embeddings links
items that behave alike. Answers are Bernoulli draws of ``sigmoid(signal * u . v / sqrt(d) + c_i)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.data.matrix import ObservationMatrix


@dataclass
class SyntheticLineage:
    """A generated data set and the truth behind it.

    Attributes
    ----------
    matrix : ObservationMatrix (n_models, n_items)
        Binary answers of the evaluated models (NaN where unobserved).
    graph : LineageGraph
        Lineage over all ``nodes`` (evaluated or not).
    nodes : list of str
        Every model of the forest, in generation order (parents before children).
    model_factors : ndarray (n_nodes, d)
        True factors, rows in ``nodes`` order.
    item_factors : ndarray (n_items, d)
    item_bias : ndarray (n_items,)
        True item easiness ``c_i``.
    item_embeddings : ndarray (n_items, embedding_dim), float32
        Unit-norm prompt-like embeddings (clustered like the item factors).
    item_clusters : ndarray (n_items,) of int
    aggregate : ObservationMatrix or None
        The benchmark-level view (one item per benchmark, count = its instances), if asked for.
    signal : float
    """

    matrix: ObservationMatrix
    graph: LineageGraph
    nodes: list[str]
    model_factors: np.ndarray
    item_factors: np.ndarray
    item_bias: np.ndarray
    item_embeddings: np.ndarray
    item_clusters: np.ndarray
    aggregate: ObservationMatrix | None
    signal: float

    def true_proba(self, models: list[str]) -> np.ndarray:
        """True probabilities of a correct answer, shape (len(models), n_items)."""
        pos = {n: i for i, n in enumerate(self.nodes)}
        U = self.model_factors[[pos[m] for m in models]]
        d = U.shape[1]
        x = self.signal * (U @ self.item_factors.T) / np.sqrt(d) + self.item_bias
        return 1.0 / (1.0 + np.exp(-x))


def make_lineage_data(
    n_models: int = 120,
    n_items: int = 200,
    n_factors: int = 8,
    *,
    n_nodes: int | None = None,
    n_roots: int = 4,
    merge_fraction: float = 0.1,
    noise: float = 0.35,
    n_clusters: int = 8,
    embedding_dim: int = 32,
    observed_fraction: float = 0.95,
    signal: float = 3.0,
    benchmarks: tuple[str, ...] = ("bbh", "mmlu_pro", "gpqa"),
    aggregate: bool = False,
    random_state: int | None = 0,
) -> SyntheticLineage:
    """Generate a lineage forest and the evaluated models' answers.

    Parameters
    ----------
    n_models : int
        Evaluated models (matrix rows), drawn at random among the forest's nodes.
    n_items : int
        Instances (matrix columns), split over ``benchmarks`` by cluster.
    n_factors : int
        True latent dimension.
    n_nodes : int or None
        Forest size (default ``2 * n_models``); nodes beyond the evaluated ones are unevaluated.
    noise : float
        Standard deviation of a fine-tune's (or merge's) deviation from its parents, relative to
        a root's factor scale of 1.
    observed_fraction : float
        Probability that an evaluated model's answer to an item is observed.
    aggregate : bool
        Also build the benchmark-level view (``.aggregate``).
    """
    rng = np.random.default_rng(random_state)
    n_nodes = 2 * n_models if n_nodes is None else n_nodes
    if n_nodes < n_models or n_roots < 1 or n_roots > n_nodes:
        raise ValueError(f"Need n_roots ({n_roots}) <= n_nodes ({n_nodes}) and n_models ({n_models}) <= n_nodes.")
    d = n_factors
    nodes = [f"synth/root-{i}" for i in range(n_roots)] + [f"synth/m-{i}" for i in range(n_roots, n_nodes)]
    U = np.empty((n_nodes, d))
    U[:n_roots] = rng.normal(0.0, 1.0, (n_roots, d))
    edges: list[Edge] = []
    # Parents are drawn from earlier nodes with a bias towards recent ones (deep chains exist).
    u_draw = rng.random(n_nodes)
    is_merge = rng.random(n_nodes) < merge_fraction
    for j in range(n_roots, n_nodes):
        parent = int(j * u_draw[j] ** 0.5)
        if is_merge[j] and j > 1:
            other = int(rng.integers(0, j))
            if other == parent:
                other = (parent + 1) % j
            weight = float(rng.uniform(0.3, 0.7))
            U[j] = weight * U[parent] + (1 - weight) * U[other] + rng.normal(0.0, noise, d)
            edges.append(Edge(nodes[j], nodes[parent], Relation.MERGE, weight))
            edges.append(Edge(nodes[j], nodes[other], Relation.MERGE, 1 - weight))
        else:
            U[j] = U[parent] + rng.normal(0.0, noise, d)
            edges.append(Edge(nodes[j], nodes[parent], Relation.FINETUNE))
    graph = LineageGraph(edges, nodes=nodes)

    centers = rng.normal(0.0, 1.0, (n_clusters, d))
    clusters = rng.integers(0, n_clusters, n_items)
    V = centers[clusters] + rng.normal(0.0, 0.5, (n_items, d))
    cluster_bias = rng.normal(0.0, 1.0, n_clusters)
    bias = cluster_bias[clusters] + rng.normal(0.0, 0.5, n_items)
    directions = rng.normal(0.0, 1.0, (n_clusters, embedding_dim))
    projection = rng.normal(0.0, 1.0, (d, embedding_dim)) / np.sqrt(d)
    emb = directions[clusters] + 0.5 * (V - centers[clusters]) @ projection \
        + rng.normal(0.0, 0.3, (n_items, embedding_dim))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    item_benchmarks = [benchmarks[c % len(benchmarks)] for c in clusters]
    items = [f"{b}/{i}" for i, b in enumerate(item_benchmarks)]

    evaluated = np.sort(rng.choice(n_nodes, n_models, replace=False))
    values = np.empty((n_models, n_items), dtype=np.float32)
    V32 = (signal / np.sqrt(d) * V).astype(np.float32)
    U32 = U.astype(np.float32)
    bias32 = bias.astype(np.float32)
    block = max(1, (1 << 21) // n_items)
    for start in range(0, n_models, block):
        rows = evaluated[start:start + block]
        x = U32[rows] @ V32.T + bias32
        p = 1.0 / (1.0 + np.exp(-x))
        answers = (rng.random(p.shape, dtype=np.float32) < p).astype(np.float32)
        answers[rng.random(p.shape, dtype=np.float32) >= observed_fraction] = np.nan
        values[start:start + len(rows)] = answers
    models = [nodes[i] for i in evaluated]
    matrix = ObservationMatrix(models, items, values, item_benchmarks,
                               item_texts=[f"synthetic prompt {i} (cluster {c})" for i, c in enumerate(clusters)])
    agg = _aggregate(matrix) if aggregate else None
    return SyntheticLineage(matrix, graph, nodes, U, V, bias, emb, clusters, agg, signal)


def _aggregate(matrix: ObservationMatrix) -> ObservationMatrix:
    """Benchmark-level fractions, one item per benchmark with its instance count."""
    scores = matrix.benchmark_scores()
    counts = [float(len(matrix.benchmark_items(b))) for b in matrix.benchmarks]
    return ObservationMatrix(matrix.models, list(matrix.benchmarks), scores.astype(np.float32),
                             list(matrix.benchmarks), np.asarray(counts, dtype=np.float32))
