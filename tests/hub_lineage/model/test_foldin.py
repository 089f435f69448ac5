"""LRMF fold-in: the numpy (dense) solve of the predict path equals the scipy.sparse solve, and the
influence it reports is the harmonic-extension weight of each fitted neighbour."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from hub_lineage.errors import NoLineageError
from hub_lineage.model import foldin as lrmf_foldin
from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.model.base import ConvergenceWarning
from hub_lineage.model.factors import FittedFactors
from hub_lineage.model.foldin import _new_component, _solve_dense, _solve_sparse, fold_in
from hub_lineage.model.lrmf import LRMF
from hub_lineage.evaluation.synthetic import make_lineage_data

RELATIONS = list(Relation)


@pytest.fixture(scope="module")
def fitted():
    data = make_lineage_data(40, 30, 4, random_state=2)
    held = data.matrix.models[-8:]
    train = data.matrix.without_models(held)
    kw = dict(lambda_lineage=0.7, reg=1e-2, random_state=0, max_iter=15, tol=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a short fit is enough to compare solves
        plain = LRMF(4, **kw).fit(train, data.graph)
        biased = LRMF(4, biases=True, relation_weights={"merge": 0.4, "root": 0.2}, **kw).fit(train, data.graph)
    return data, plain, biased


def random_new_graph(fitted_nodes: list[str], n_new: int, seed: int) -> tuple[LineageGraph, list[str]]:
    """New nodes linked to each other and to fitted nodes by every kind of edge (duplicates, root
    and weighted merge edges, quantized copies, a component with no fitted relative)."""
    rng = np.random.default_rng(seed)
    new = [f"new/n{i}" for i in range(n_new)]
    graph = LineageGraph(nodes=new)
    for i, child in enumerate(new):
        for _ in range(rng.integers(1, 4)):
            if i > 0 and rng.random() < 0.5:
                parent = new[rng.integers(0, i)]
            else:
                parent = fitted_nodes[rng.integers(0, len(fitted_nodes))]
            relation = RELATIONS[rng.integers(0, len(RELATIONS))]
            weight = float(rng.uniform(0.1, 2.0)) if relation is Relation.MERGE else None
            graph.add_edge(child, parent, relation, weight, root=bool(rng.random() < 0.15), warn=False)
    graph.add_edge("lonely/a", "lonely/b", warn=False)  # no path to any fitted node
    graph.add_edge("lonely/c", "lonely/a", Relation.QUANTIZED, warn=False)
    return graph, [*new, "lonely/a", "lonely/b", "lonely/c"]


@pytest.mark.parametrize("which", ["plain", "biased"])
@pytest.mark.parametrize("n_new,seed", [(1, 0), (5, 1), (30, 2), (120, 3)])
def test_dense_solve_equals_sparse_solve(fitted, which, n_new, seed):
    data, plain, biased = fitted
    factors = (plain if which == "plain" else biased).factors_
    graph, seeds = random_new_graph(factors.nodes, n_new, seed)
    new, boundary = _new_component(graph, seeds, factors.node_index)
    assert boundary
    dense, dense_weights = _solve_dense(factors, graph, new, boundary, at=0)
    sparse, sparse_weights = _solve_sparse(factors, graph, new, boundary, {}, None, at=0)
    assert dense.keys() == sparse.keys() == set(new)
    for node in new:
        np.testing.assert_allclose(dense[node][0], sparse[node][0], rtol=0, atol=1e-10, err_msg=node)
        assert dense[node][1] == sparse[node][1], node
    assert not dense["lonely/a"][1] and any(ok for _, ok in dense.values())
    np.testing.assert_allclose(dense_weights, sparse_weights, rtol=0, atol=1e-12)
    # the weights are the new node's harmonic extension: its row is their combination of the boundary rows
    P_b = factors.rows([factors.node_index[b] for b in boundary])
    np.testing.assert_allclose(dense_weights @ P_b, dense[new[0]][0], rtol=0, atol=1e-10)


def test_dense_solve_equals_sparse_solve_without_lineage_weight(fitted):
    _, plain, _ = fitted
    factors = dataclasses.replace(plain.factors_, lambda_lineage=0.0)
    graph, seeds = random_new_graph(factors.nodes, 6, 4)
    new, boundary = _new_component(graph, seeds, factors.node_index)
    dense, _ = _solve_dense(factors, graph, new, boundary)
    sparse, _ = _solve_sparse(factors, graph, new, boundary, {}, None)
    for node in new:
        np.testing.assert_allclose(dense[node][0], sparse[node][0], rtol=0, atol=1e-10)
        assert dense[node][1] == sparse[node][1]


def test_explaining_a_node_leaves_its_row_unchanged(fitted):
    _, _, biased = fitted
    graph, _ = random_new_graph(biased.nodes_, 12, 6)
    node = next(f"new/n{i}" for i in range(12) if graph.canonical(f"new/n{i}") == f"new/n{i}")
    plain = fold_in(biased.factors_, graph, [node])
    explained = fold_in(biased.factors_, graph, [node], explain=node)
    np.testing.assert_allclose(explained.rows, plain.rows, rtol=0, atol=1e-12)
    assert plain.influence == {} and explained.influence
    assert set(explained.influence) <= set(biased.nodes_)
    # a component given by the caller (the predictor's walk) gives the same rows as fold_in's own walk
    new, boundary = _new_component(graph, [node], biased.node_index_)
    given = fold_in(biased.factors_, graph, [node], component=(new, boundary), explain=node)
    np.testing.assert_allclose(given.rows, explained.rows, rtol=0, atol=1e-12)
    assert given.influence == pytest.approx(explained.influence, abs=1e-12)


def test_fitted_factors_are_read_only_and_round_trip(fitted, tmp_path):
    _, _, biased = fitted
    factors = biased.factors_
    with pytest.raises(ValueError):
        factors.model_factors[0, 0] = 1.0
    factors.save(tmp_path, params=biased.get_params(), n_iter=biased.n_iter_, loss_curve=biased.loss_curve_)
    loaded, meta = FittedFactors.load(tmp_path)
    assert meta["params"] == biased.get_params() and loaded.nodes == factors.nodes
    for name in ("model_factors", "instance_factors", "model_bias", "item_bias", "item_counts", "supported"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(factors, name), err_msg=name)
    assert (loaded.lambda_lineage, loaded.reg, loaded.relation_weights) == (
        factors.lambda_lineage, factors.reg, factors.relation_weights)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lrmf.json", "lrmf.npz"]  # no temporary left


def test_fold_in_is_the_same_through_either_path(fitted, monkeypatch):
    data, _, biased = fitted
    graph, _ = random_new_graph(biased.nodes_, 25, 5)
    models = [f"new/n{i}" for i in range(25)] + [biased.nodes_[0]]
    dense = biased.fold_in_proba(graph, models)
    monkeypatch.setattr(lrmf_foldin, "DENSE_MAX_NODES", 0)
    sparse = biased.fold_in_proba(graph, models)
    np.testing.assert_allclose(dense, sparse, rtol=0, atol=1e-10)
    with pytest.raises(NoLineageError, match="lonely/a"):
        biased.fold_in_proba(graph, ["lonely/a"])


def test_a_quantized_new_node_takes_its_new_parents_row(fitted):
    _, plain, _ = fitted
    parent = plain.nodes_[3]
    graph = LineageGraph([Edge("new/ft", parent), Edge("new/ft-GGUF", "new/ft", Relation.QUANTIZED)])
    rows = plain.fold_in(graph, ["new/ft", "new/ft-GGUF"])
    np.testing.assert_allclose(rows[0], rows[1], rtol=0, atol=1e-12)
