"""Synthetic lineage data: planted structure is really there (fine-tunes near parents, merges
between them, clustered items with embeddings that follow the clusters)."""

from __future__ import annotations

import numpy as np

from hub_lineage.lineage.edges import Relation
from hub_lineage.evaluation.synthetic import make_lineage_data


def test_shapes_unevaluated_nodes_and_reproducibility():
    data = make_lineage_data(50, 80, 4, n_nodes=120, random_state=3, aggregate=True)
    assert data.matrix.shape == (50, 80)
    assert len(data.graph) == 120 and data.model_factors.shape == (120, 4)
    unevaluated = set(data.graph.nodes) - set(data.matrix.models)
    assert len(unevaluated) == 70
    observed = data.matrix.mask.mean()
    assert 0.9 < observed < 0.99
    assert set(np.unique(data.matrix.values[data.matrix.mask])) <= {0.0, 1.0}
    again = make_lineage_data(50, 80, 4, n_nodes=120, random_state=3)
    np.testing.assert_array_equal(again.matrix.values, data.matrix.values)
    agg = data.aggregate
    assert agg.items == agg.benchmarks and agg.item_counts.sum() == 80
    assert (agg.item_counts > 1).all()


def test_fine_tunes_stay_close_to_parents_and_merges_average():
    data = make_lineage_data(100, 50, 6, n_nodes=300, merge_fraction=0.2, noise=0.2, random_state=0)
    pos = {n: i for i, n in enumerate(data.nodes)}
    U = data.model_factors
    merges = [n for n in data.nodes if len(data.graph.parents(n)) == 2]
    assert merges and all(e.relation is Relation.MERGE for n in merges for e in data.graph.parents(n))
    for node in merges[:5]:
        mix = sum(e.weight * U[pos[e.parent]] for e in data.graph.parents(node))
        assert np.linalg.norm(U[pos[node]] - mix) < np.linalg.norm(U[pos[node]]) + 1.0
    tunes = [(n, e.parent) for n in data.nodes for e in data.graph.parents(n) if e.relation is Relation.FINETUNE]
    near = np.mean([np.linalg.norm(U[pos[c]] - U[pos[p]]) for c, p in tunes])
    far = np.mean(np.linalg.norm(U[:, None] - U[None], axis=2))
    assert near < far / 2


def test_embeddings_follow_item_clusters():
    data = make_lineage_data(20, 120, 4, n_clusters=4, random_state=1)
    sims = data.item_embeddings @ data.item_embeddings.T
    same = data.item_clusters[:, None] == data.item_clusters[None, :]
    np.fill_diagonal(same, False)
    other = ~same
    np.fill_diagonal(other, False)
    assert sims[same].mean() > sims[other].mean() + 0.3
