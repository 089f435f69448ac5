"""Predictor: fit/save/load, honest predictions from lineage, hypothetical nodes, Hub lineage."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tiny_predictor import MIDDLE, tiny_data, tiny_predictor_dir

from hub_lineage.errors import InvalidRepoIdError, NoLineageError, NotFittedError, RepoNotFoundError
from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.predict.neighbourhood import HELD_OUT, Lineage, local_system
from hub_lineage.predict.predictor import Predictor, parse_parent


@pytest.fixture(scope="module")
def predictor_dir(tmp_path_factory):
    return tiny_predictor_dir(tmp_path_factory.mktemp("predictor"))


@pytest.fixture
def predictor(predictor_dir):
    return Predictor.load(predictor_dir)


def test_saved_files_are_json_and_npz_only(predictor_dir):
    names = {p.name for p in predictor_dir.rglob("*") if p.is_file()}
    assert names == {"meta.json", "observed_rows.npy", "observed_scores.npy", "graph.npz", "graph_nodes.npy",
                     "lrmf.json", "lrmf.npz", "correction.json"}
    meta = json.loads((predictor_dir / "meta.json").read_text())
    assert meta["benchmarks"] == ["ifeval", "bbh", "math", "gpqa", "musr", "mmlu_pro"]
    assert all(q is not None and q > 0 for q in meta["intervals"]["quantiles"])
    assert MIDDLE.encode() in np.load(predictor_dir / "graph_nodes.npy", allow_pickle=False).tolist()


def test_prediction_of_a_scored_model_is_from_lineage_with_actual_beside(predictor):
    matrix, _ = tiny_data()
    pred = predictor.predict("alpha/ft-5", offline=True)
    assert list(pred.predicted) == predictor.benchmarks
    actual = matrix.benchmark_scores()[matrix.model_index["alpha/ft-5"]]
    assert pred.actual == pytest.approx(dict(zip(predictor.benchmarks, actual)), abs=1e-6)
    for bench, iv in pred.predicted.items():
        assert 0.0 <= iv.low <= iv.mean <= iv.high <= 1.0
        assert abs(iv.mean - pred.actual[bench]) < 0.15  # the alpha family sits far from the others
    # reached through the unscored intermediate: the family root and siblings, two hops away
    assert {d.model for d in pred.drivers} <= {"alpha/base", "alpha/ft-4", "alpha/ft-6", "alpha/ft-7"}
    assert all(d.hops == 2 for d in pred.drivers)
    assert sum(d.influence for d in pred.drivers) == pytest.approx(1.0, abs=1e-6)
    root = next(d for d in pred.drivers if d.model == "alpha/base")
    assert root.relation == "finetune" and root.scores is not None
    out = pred.to_json()
    assert set(out) >= {"model", "predicted", "actual", "drivers"}
    assert set(out["predicted"]["bbh"]) == {"mean", "low", "high"}
    assert set(out["drivers"][0]) >= {"model", "relation", "hops", "influence"}


def test_own_scores_are_left_out(predictor):
    """Refit with the model's own scores replaced by nonsense: its prediction barely moves."""
    matrix, graph = tiny_data()
    before = predictor.predict("alpha/ft-2", offline=True)
    matrix.values[matrix.model_index["alpha/ft-2"]] = 0.02
    altered = Predictor.fit(matrix, graph, calibrate=False, n_factors=4, max_iter=30)
    after = altered.predict("alpha/ft-2", offline=True)
    assert after.actual["bbh"] == pytest.approx(0.02)
    for bench in predictor.benchmarks:
        # the actual score moved by ~0.5; a leaky prediction would follow it
        assert abs(after.predicted[bench].mean - before.predicted[bench].mean) < 0.06


def test_refit_on_the_same_data_keeps_the_version(predictor):
    matrix, graph = tiny_data()
    again = Predictor.fit(matrix, graph, calibrate=False, n_factors=4, max_iter=30)
    assert predictor.version == Predictor.fit(matrix, graph, n_folds=3, n_factors=4, max_iter=30).version
    assert again.version.startswith("0.") and "+" in again.version


def test_hypothetical_child_and_unknown_parents_widen(predictor):
    known = predictor.predict_edges("plan/child", [Edge("plan/child", "beta/base", Relation.FINETUNE)])
    assert known.actual is None and known.unknown_parents == []
    assert known.drivers[0].model == "beta/base" and known.drivers[0].hops == 1
    assert known.predicted["bbh"].mean < 0.5  # the beta family is the weak one
    mixed = predictor.predict_edges("plan/child", [Edge("plan/child", "beta/base", Relation.MERGE, 0.5),
                                                   Edge("plan/child", "nobody/knows", Relation.MERGE, 0.5)])
    assert mixed.unknown_parents == ["nobody/knows"]
    width = lambda p: p.predicted["mmlu_pro"].high - p.predicted["mmlu_pro"].low  # noqa: E731
    assert width(mixed) > width(known)
    with pytest.raises(NoLineageError, match="nobody/knows"):
        predictor.predict_edges("plan/child", [Edge("plan/child", "nobody/knows")])


def test_merge_of_two_families_lies_between_them(predictor):
    child = "plan/merge"
    pred = predictor.predict_edges(child, [parse_parent("alpha/base:merge:0.5", child),
                                           parse_parent("beta/base:merge:0.5", child)])
    alpha = predictor.observed("alpha/base")["mmlu_pro"]
    beta = predictor.observed("beta/base")["mmlu_pro"]
    assert min(alpha, beta) < pred.predicted["mmlu_pro"].mean < max(alpha, beta)
    assert {d.relation for d in pred.drivers} == {"merge"}


def test_bad_input(predictor, tmp_path):
    with pytest.raises(NoLineageError, match="--parent"):
        predictor.predict("unknown/model", offline=True)
    with pytest.raises(InvalidRepoIdError):
        predictor.predict("not a repo id", offline=True)
    with pytest.raises(InvalidRepoIdError):
        parse_parent("bad id:finetune", "x/y")
    with pytest.raises(NotFittedError, match="hub-lineage ingest"):
        Predictor.load(tmp_path / "nothing-here")
    assert predictor.knows(MIDDLE) and not predictor.knows("unknown/model")
    assert predictor.observed(MIDDLE) is None


def test_lineage_from_the_loopback_hub(predictor, hub):
    from hub_lineage.lineage.hub import HubClient

    hub.add_model("gamma/base", card_text="# a root\n")
    hub.add_model("someone/new-finetune", card_text="---\nbase_model: gamma/base\n---\n# new\n")
    client = HubClient(hub.api, cache_dir=None)
    pred = predictor.predict("someone/new-finetune", hub=client)
    assert pred.actual is None
    assert pred.drivers[0].model == "gamma/base" and pred.drivers[0].relation == "finetune"
    gamma = predictor.observed("gamma/base")
    assert abs(pred.predicted["bbh"].mean - gamma["bbh"]) < 0.1
    with pytest.raises(RepoNotFoundError):
        predictor.predict("someone/missing", hub=client)
    hub.add_model("someone/orphan", card_text="# no metadata\n")
    with pytest.raises(NoLineageError, match="--parent"):
        predictor.predict("someone/orphan", hub=client)
    # the second call is served from the Hub cache, offline
    offline = HubClient(hub.api, offline=True)
    assert predictor.predict("someone/new-finetune", hub=offline).predicted == pred.predicted
    assert np.isfinite([iv.mean for iv in pred.predicted.values()]).all()


def _two_solve_drivers(local, lrmf):
    """The drivers as computed before the predict path shared one solve: a second system, solved
    transposed for the model's row of the harmonic-extension weights (kept here as the reference)."""
    order = [n + HELD_OUT for n in local.free] + local.anchors
    rows, cols, vals = local.graph.adjacency_entries(order, relation_weights=lrmf.relation_weights)
    nf, lam, reg = len(local.free), float(lrmf.lambda_lineage), float(lrmf.reg)
    inner = rows < nf
    rows, cols, vals = rows[inner], cols[inner], vals[inner]
    to_free = cols < nf
    a_ff = np.zeros((nf, nf))
    np.add.at(a_ff, (rows[to_free], cols[to_free]), vals[to_free])
    system = np.diag(lam * np.bincount(rows, weights=vals, minlength=nf) + reg) - lam * a_ff
    row = np.linalg.solve(system.T, np.eye(nf)[0])
    weights = np.bincount(cols[~to_free] - nf, weights=lam * vals[~to_free] * row[rows[~to_free]],
                          minlength=len(local.anchors))
    return {a: w / weights.sum() for a, w in zip(local.anchors, weights) if w > 0}


@pytest.mark.parametrize("model", ["alpha/ft-5", "alpha/ft-2", "alpha/merge", "beta/ft-3", "plan/merge"])
def test_one_walk_and_one_solve_give_the_two_solve_numbers(predictor, model):
    if model == "plan/merge":
        edges = [parse_parent("alpha/base:merge:0.5", model), parse_parent("beta/base:merge:0.7", model)]
        pred = predictor.predict_edges(model, edges)
        # predict_edges scales stated weights to sum to 1 (issue 13): the reference walks the same edges
        from hub_lineage.lineage.weights import normalise_weights
        edges = [Edge(e.child, e.parent, e.relation, w) for e, w in zip(edges, normalise_weights([e.weight for e in edges]))]
        lineage = Lineage(predictor.graph, LineageGraph(edges, nodes=[model]), hide=model)
    else:
        pred = predictor.predict(model, offline=True)
        lineage = Lineage(predictor.graph)
    lrmf = predictor.lrmf
    local = local_system(model, lineage, predictor._observed, lrmf.node_index_)
    proba = lrmf.fold_in_proba(local.graph, [local.target])  # its own walk and solve
    expected = predictor._benchmark_scores(proba)
    if predictor.correction is not None:  # the shipped correction reads the same lineage
        expected = predictor.correction.correct(model, expected, lineage, predictor._observed)
    np.testing.assert_allclose([iv.mean for iv in pred.predicted.values()], expected, rtol=0, atol=1e-9)
    reference = _two_solve_drivers(local, lrmf)
    top = sorted(reference.items(), key=lambda kv: -kv[1])[:5]
    assert [d.model for d in pred.drivers] == [m for m, _ in top]
    np.testing.assert_allclose([d.influence for d in pred.drivers], [w for _, w in top], rtol=0, atol=1e-9)


def test_cannot_predict_a_scored_model_says_its_scores_are_observed():
    # "its scores cannot be predicted" for a model whose scores are stored misled (issue 13)
    from hub_lineage.data.matrix import ObservationMatrix

    matrix, graph = tiny_data()
    values = np.vstack([matrix.values, np.full((1, len(matrix.items)), 0.4, dtype=np.float32)])
    lonely = ObservationMatrix([*matrix.models, "iso/alone"], matrix.items, values, matrix.item_benchmarks,
                               matrix.item_counts)
    graph.add_edge("iso/alone", "iso/unscored-parent")  # a parent, but no scored relative
    predictor = Predictor.fit(lonely, graph, n_folds=3, n_factors=4, max_iter=30)
    with pytest.raises(NoLineageError, match="itself is scored.*export scores.csv --model iso/alone"):
        predictor.predict("iso/alone", offline=True)
    assert predictor.predict("iso/unscored-parent", offline=True).predicted  # from its scored child
