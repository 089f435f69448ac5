"""LRMF: the fast solver agrees with the plain reference, lineage beats MF and MLA on cold start,
fold-in matches a refit, and misuse fails with clear errors."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import rankdata

from hub_lineage.errors import InvalidInputError, NoLineageError, NotFittedError
from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.model.base import ConvergenceWarning
from hub_lineage.model.lrmf import LRMF
from hub_lineage.model.solvers import gauss_newton as lrmf_solver
from hub_lineage.model.solvers.gauss_newton import FastSolver
from hub_lineage.model.solvers.init import spectral_init
from hub_lineage.model.solvers.reference import Problem, objective
from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.evaluation.synthetic import make_lineage_data


def auc(y: np.ndarray, score: np.ndarray) -> float:
    y, score = np.asarray(y).ravel(), np.asarray(score).ravel()
    ok = ~np.isnan(y)
    y, score = y[ok], score[ok]
    ranks = rankdata(score)
    pos = y.sum()
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * (len(y) - pos)))


def lineage_average(data, train: list[str], held: list[str], decay: float = 0.5) -> np.ndarray:
    """MLA: decayed mean of the answers of the nearest evaluated relatives (multi-hop)."""
    M, g, train_set = data.matrix, data.graph, set(train)
    out = []
    for m in held:
        depth, frontier = {m: 0}, [m]
        num, den = np.zeros(M.shape[1]), np.zeros(M.shape[1])
        while frontier and not den.any():
            nxt = []
            for node in frontier:
                for e in g.parents(node) + g.children(node):
                    other = e.parent if e.child == node else e.child
                    if other in depth:
                        continue
                    depth[other] = depth[node] + 1
                    nxt.append(other)
                    if other in train_set:
                        v = M.values[M.model_index[other]]
                        ok = ~np.isnan(v)
                        num[ok] += decay ** depth[other] * v[ok]
                        den[ok] += decay ** depth[other]
            frontier = nxt
        out.append(np.where(den > 0, num / np.maximum(den, 1e-12), np.nanmean(M.values)))
    return np.array(out)


@pytest.fixture(scope="module")
def data():
    return make_lineage_data(100, 160, 6, random_state=1)


@pytest.fixture(scope="module")
def split(data):
    rng = np.random.default_rng(0)
    held = sorted(rng.choice(data.matrix.models, 20, replace=False).tolist())
    return data.matrix.without_models(held), held


def small_problem(biases: bool, chance: str | None):
    rng = np.random.default_rng(3)
    values = (rng.random((12, 15)) < 0.6).astype(np.float32)
    values[rng.random(values.shape) < 0.2] = np.nan
    bench = ["gpqa"] * 5 + ["bbh"] * 5 + ["other"] * 5
    matrix = ObservationMatrix([f"m{i}" for i in range(12)], [f"i{j}" for j in range(15)], values, bench)
    graph = LineageGraph([Edge(f"m{i}", f"m{i - 1}") for i in range(1, 12, 2)] + [Edge("x", "m2")])
    knn = sp.random(15, 15, density=0.3, random_state=1, format="csr")
    return matrix, graph, knn


def fitted_problem(model, *fit_args):
    """The internal problem the fast solver receives when ``model.fit(*fit_args)`` runs."""
    captured = {}
    original = FastSolver.run

    def capture(self, P, Q, *args):
        captured["problem"] = self.p
        return original(self, P, Q, *args)

    FastSolver.run = capture
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(*fit_args)
    finally:
        FastSolver.run = original
    return captured["problem"]


@pytest.mark.parametrize("biases,chance", [(False, None), (True, None), (False, "items"), (True, "items")])
def test_fast_loss_equals_reference_loss(biases, chance):
    matrix, graph, knn = small_problem(biases, chance)
    model = LRMF(3, lambda_lineage=0.7, lambda_instance=0.3, biases=biases, chance=chance, max_iter=1,
                 random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(matrix, graph, knn)
    # Rebuild the problem the fit used and evaluate both implementations at random parameters.
    captured = {"problem": fitted_problem(model, matrix, graph, knn)}
    problem: Problem = captured["problem"]
    rng = np.random.default_rng(5)
    P = rng.normal(0, 0.5, (problem.n_nodes, problem.width))
    Q = rng.normal(0, 0.5, (problem.n_items, problem.width))
    ref, gP, gQ = objective(problem, P, Q)
    n = problem.n_rows
    lik_p = gP[:n] - 2 * (problem.lap_model @ P)[:n] - 2 * problem.reg * P[:n]
    lik_q = gQ - 2 * problem.reg * Q - (0 if problem.lap_item is None else 2 * (problem.lap_item @ Q))
    for curvature in ("exact", "shared"):
        solver = FastSolver(problem, curvature=curvature)
        fast, grad, _ = solver.evaluate(P, Q, "model")
        assert fast == pytest.approx(ref, rel=1e-6)
        np.testing.assert_allclose(grad, lik_p, rtol=1e-4, atol=1e-6)
        fast, grad, _ = solver.evaluate(P, Q, "item")
        assert fast == pytest.approx(ref, rel=1e-6)
        np.testing.assert_allclose(grad, lik_q, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("curvature", ["exact", "shared"])
def test_fast_and_reference_fits_agree(curvature, monkeypatch):
    # "shared" is what every problem above ~20M curvature flops uses (the paper's scale).
    monkeypatch.setattr(lrmf_solver, "_EXACT_FLOPS", 1e30 if curvature == "exact" else 0)
    matrix, graph, knn = small_problem(True, None)
    kw = dict(lambda_lineage=0.5, lambda_instance=0.2, reg=3e-2, biases=True, random_state=0)
    fast = LRMF(3, **kw, tol=1e-10, max_iter=500).fit(matrix, graph, knn)
    ref = LRMF(3, **kw, solver="reference", tol=1e-14, max_iter=5000).fit(matrix, graph, knn)
    assert fast.loss_curve_[-1] == pytest.approx(ref.loss_curve_[-1], rel=1e-5)
    # Stated tolerance: probabilities within 0.005 (same optimum, float32 passes).
    diff = np.abs(fast.predict_proba(matrix.models + ["x"]) - ref.predict_proba(matrix.models + ["x"]))
    assert diff.max() < 5e-3
    assert fast.loss_curve_ == sorted(fast.loss_curve_, reverse=True)  # never goes up


def test_lineage_beats_mf_and_lineage_averaging_on_cold_start(data, split):
    train, held = split
    actual = data.matrix.select_models(held).values
    lrmf = LRMF(6, lambda_lineage=0.05, reg=2e-3, random_state=0).fit(train, data.graph)
    mf = LRMF(6, lambda_lineage=0.0, lambda_instance=0.0, reg=2e-3, biases=True, random_state=0).fit(
        train, data.graph)
    auc_lrmf = auc(actual, lrmf.predict_proba(held))
    auc_mf = auc(actual, mf.predict_proba(held))
    auc_mla = auc(actual, lineage_average(data, train.models, held))
    assert auc_lrmf > auc_mla + 0.02, (auc_lrmf, auc_mla)
    assert auc_lrmf > auc_mf + 0.05, (auc_lrmf, auc_mf)  # MF knows only item difficulty here


def test_fold_in_matches_refit(data, split):
    train, held = split
    new = [m for m in held if not data.graph.children(m)][:3]  # leaves: removing them cuts no path
    assert len(new) == 3
    without = data.graph.subgraph([n for n in data.graph.nodes if n not in new])
    kw = dict(lambda_lineage=0.3, reg=1e-2, random_state=0, tol=1e-7, max_iter=300)
    folded = LRMF(6, **kw).fit(train, without).fold_in_proba(data.graph, new)
    refit = LRMF(6, **kw).fit(train, data.graph).predict_proba(new)
    # Stated tolerance: probabilities within 0.03 (max) and 0.01 (mean). A refit differs only
    # because the new leaves add a little shrinkage to their parents (measured: 0.019 / 0.006).
    assert np.abs(folded - refit).max() < 0.03
    assert np.abs(folded - refit).mean() < 0.01


def test_k_shot_fold_in_uses_observations(data, split):
    train, held = split
    model = LRMF(6, lambda_lineage=0.05, reg=2e-3, random_state=0).fit(train, data.graph)
    target = held[0]
    row = data.matrix.select_models([target])
    shots = row.values.copy()
    shots[:, 40:] = np.nan
    obs = ObservationMatrix(["new/model"], row.items, shots, row.item_benchmarks)
    parents = [e.parent for e in data.graph.parents(target)]
    g = LineageGraph([Edge("new/model", p) for p in parents])
    zero = model.fold_in_proba(g, ["new/model"])
    shot = model.fold_in_proba(g, ["new/model"], obs)
    truth = data.true_proba([target])[:, 40:]
    assert np.abs(shot[:, 40:] - truth).mean() < np.abs(zero[:, 40:] - truth).mean()


@pytest.mark.filterwarnings("ignore::hub_lineage.model.base.ConvergenceWarning")
def test_fold_in_refuses_models_without_lineage(data, split):
    train, _ = split
    model = LRMF(4, lambda_lineage=0.1, reg=1e-2, random_state=0, max_iter=5).fit(train, data.graph)
    g = LineageGraph([Edge("orphan/child", "orphan/parent")])
    with pytest.raises(NoLineageError, match="orphan/child"):
        model.fold_in_proba(g, ["orphan/child"])
    with pytest.raises(InvalidInputError, match="not a node of this fit"):
        model.predict_proba(["nobody/knows"])
    fitted = train.models[0]
    np.testing.assert_allclose(model.fold_in_proba(g, [fitted]), model.predict_proba([fitted]))


@pytest.mark.filterwarnings("ignore::hub_lineage.model.base.ConvergenceWarning")
def test_quantized_copy_takes_its_parents_prediction(data, split):
    train, _ = split
    graph = LineageGraph(data.graph.edges, nodes=data.graph.nodes)
    parent = train.models[0]
    graph.add_edge("q/model-GGUF", parent, Relation.QUANTIZED)
    model = LRMF(4, lambda_lineage=0.1, reg=1e-2, random_state=0, max_iter=5).fit(train, graph)
    np.testing.assert_allclose(model.predict_proba(["q/model-GGUF"]), model.predict_proba([parent]))


def test_chance_floor_and_reproducibility_and_save_load(tmp_path, data, split):
    train, held = split
    kw = dict(lambda_lineage=0.1, reg=1e-2, chance="items", biases=True, random_state=7, max_iter=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = LRMF(4, **kw).fit(train, data.graph)
        b = LRMF(4, **kw).fit(train, data.graph)
    np.testing.assert_array_equal(a.model_factors_, b.model_factors_)
    p = a.predict_proba(held)
    gpqa = np.array([bench == "gpqa" for bench in train.item_benchmarks])
    assert (p[:, gpqa] >= 0.25).all() and (p[:, ~gpqa] > 0).all()
    a.save(tmp_path / "lrmf")
    loaded = LRMF.load(tmp_path / "lrmf")
    np.testing.assert_allclose(loaded.predict_proba(held), p)
    assert loaded.nodes_ == a.nodes_ and loaded.get_params() == a.get_params()
    g = LineageGraph([Edge("new/x", held[0])])
    np.testing.assert_allclose(loaded.fold_in_proba(g, ["new/x"]), a.fold_in_proba(g, ["new/x"]))


def test_warnings_and_errors():
    matrix, graph, knn = small_problem(False, None)
    with pytest.raises(NotFittedError):
        LRMF().predict_proba(["m0"])
    with pytest.warns(ConvergenceWarning, match="increase max_iter"):
        LRMF(2, max_iter=1, random_state=0).fit(matrix, graph)
    empty = ObservationMatrix(["a"], ["i"], [[np.nan]], ["bbh"])
    with pytest.raises(InvalidInputError, match="no observed cell"):
        LRMF().fit(empty)
    with pytest.raises(InvalidInputError, match="instance_graph has shape"):
        LRMF(2, lambda_instance=1.0).fit(matrix, graph, sp.identity(3, format="csr"))
    with pytest.raises(InvalidInputError, match="solver"):
        LRMF(solver="sgd").fit(matrix)
    with pytest.raises(InvalidInputError, match="chance"):
        LRMF(chance="always").fit(matrix)
    with pytest.raises(NotFittedError, match="lrmf.json"):
        LRMF.load("/nonexistent/dir")


def test_importing_lrmf_and_embed_does_not_import_torch():
    code = ("import sys, hub_lineage.model.lrmf, hub_lineage.model.embeddings, hub_lineage.evaluation.synthetic; "
            "bad = [m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_spectral_start_recovers_the_planted_factors():
    data = make_lineage_data(80, 300, 3, random_state=4)
    model = LRMF(3, random_state=0, max_iter=1)
    captured = {"problem": fitted_problem(model, data.matrix)}
    P, Q = spectral_init(captured["problem"], np.random.default_rng(0))
    assert P.shape == (80, 3) and Q.shape == (300, 3)
    # The start's logits already rank the true probabilities well (a random start: AUC ~0.5).
    truth = data.true_proba(data.matrix.models)
    assert auc((truth > 0.5).astype(float), P @ Q.T) > 0.9


def test_warm_start_from_the_full_fit_matches_a_cold_fit(data, split):
    """k-fold calibration warm-starts each fold from the full fit: same cold-start predictions
    (the held-out models' own parameters start at 0, so their answers do not leak), fewer iterations."""
    train, held = split
    kw = dict(lambda_lineage=0.3, reg=1e-2, random_state=0, tol=1e-7, max_iter=300)
    full = LRMF(6, **kw).fit(data.matrix, data.graph)
    cold = LRMF(6, **kw).fit(train, data.graph)
    warm = LRMF(6, **kw).fit(train, data.graph, init=full)
    assert warm.n_iter_ < cold.n_iter_
    diff = np.abs(warm.predict_proba(held) - cold.predict_proba(held))
    assert diff.mean() < 0.01 and diff.max() < 0.05, (diff.mean(), diff.max())
    # the full fit itself predicts the held-out models from their own answers: much closer to them
    actual = data.matrix.select_models(held).values
    err = lambda p: float(np.nanmean(np.abs(p - actual)))  # noqa: E731
    assert err(full.predict_proba(held)) < err(warm.predict_proba(held)) - 0.01
