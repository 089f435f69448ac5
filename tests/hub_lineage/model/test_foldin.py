"""LRMF fold-in: the numpy (dense) solve of the predict path equals the scipy.sparse solve."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from hub_lineage.model import foldin as lrmf_foldin
from hub_lineage.errors import NoLineageError
from hub_lineage.lineage.graph import Edge, LineageGraph, Relation
from hub_lineage.model.lrmf import LRMF, ConvergenceWarning
from hub_lineage.model.foldin import _FittedRows, _new_component, _solve_dense, _solve_sparse
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
    model = plain if which == "plain" else biased
    graph, seeds = random_new_graph(model.nodes_, n_new, seed)
    new, boundary = _new_component(graph, seeds, model.node_index_)
    assert boundary
    P_fit = _FittedRows(model)
    dense = _solve_dense(model, graph, new, boundary, P_fit)
    sparse = _solve_sparse(model, graph, new, boundary, {}, None, P_fit)
    assert dense.keys() == sparse.keys() == set(new)
    for node in new:
        np.testing.assert_allclose(dense[node][0], sparse[node][0], rtol=0, atol=1e-10, err_msg=node)
        assert dense[node][1] == sparse[node][1], node
    assert not dense["lonely/a"][1] and any(ok for _, ok in dense.values())


def test_dense_solve_equals_sparse_solve_without_lineage_weight(fitted):
    _, plain, _ = fitted
    model = LRMF(**{**plain.get_params(), "lambda_lineage": 0.0})
    model.__dict__.update({k: v for k, v in plain.__dict__.items() if k.endswith("_") or k.startswith("_")})
    graph, seeds = random_new_graph(model.nodes_, 6, 4)
    new, boundary = _new_component(graph, seeds, model.node_index_)
    P_fit = _FittedRows(model)
    dense = _solve_dense(model, graph, new, boundary, P_fit)
    sparse = _solve_sparse(model, graph, new, boundary, {}, None, P_fit)
    for node in new:
        np.testing.assert_allclose(dense[node][0], sparse[node][0], rtol=0, atol=1e-10)
        assert dense[node][1] == sparse[node][1]


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
