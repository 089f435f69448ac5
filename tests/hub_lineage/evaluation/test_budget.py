"""The budget:K setting on planted synthetic data: methods, metrics, frontier, bad input, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hub_lineage.errors import InvalidInputError
from hub_lineage.evaluation.budget import (
    BUDGET_METHODS,
    evaluate_budget,
    lineage_worth,
    parse_budget,
    prepare_budget,
    run_budget,
)
from hub_lineage.evaluation.budget_methods import random_estimate
from hub_lineage.evaluation.synthetic import make_lineage_data
from hub_lineage.model.irt import fit_1pl, fit_offset


@pytest.fixture(scope="module")
def data():
    return make_lineage_data(n_models=60, n_items=240, n_factors=4, benchmarks=("bbh", "musr"),
                             noise=0.25, random_state=3)


def test_budget_metrics_and_planted_lineage_helps(data) -> None:
    task = prepare_budget(data.matrix, data.graph)
    assert sorted(task.benches) == ["bbh", "musr"] and len(task.test) >= 10
    res = run_budget(task, [0, 10, 40], BUDGET_METHODS, seeds=1)
    k0, k10, k40 = (res[k] for k in (0, 10, 40))
    assert k0["random"] == [{}]  # nothing to average at K=0
    for method in BUDGET_METHODS:
        m = k40[method][0]
        assert {"mae_all", "mae_bbh", "mae_musr", "coverage", "interval_width"} <= set(m)
        assert 0 <= m["coverage"] <= 1 and m["interval_width"] > 0
    # planted lineage: the lineage estimator beats random sampling at the same budget
    assert k10["lrmf"][0]["mae_all"] < k10["random"][0]["mae_all"]
    assert k40["lrmf"][0]["mae_all"] <= k10["lrmf"][0]["mae_all"] + 0.005


def test_frontier_holds_out_the_strongest_fifth(data) -> None:
    task = prepare_budget(data.matrix, data.graph, frontier=True)
    acc = data.matrix.benchmark_scores().mean(axis=1)
    strongest = {data.matrix.models[i] for i in np.argsort(-acc)[:len(task.test)]}
    assert set(task.test) == strongest and len(task.test) == len(data.matrix.models) // 5


def test_evaluate_budget_result_json(data) -> None:
    result = evaluate_budget(data.matrix, data.graph, "budget:20", methods=["lrmf", "random"], seeds=1)
    payload = result.to_json()
    assert payload["setting"] == "budget:20"
    assert set(payload["results"]) == {"lrmf", "random"}
    assert payload["results"]["random"]["mae_all"]["mean"] > 0
    json.dumps(payload, allow_nan=False)


def test_bad_budgets() -> None:
    assert parse_budget("budget:0") == 0
    for bad in ("budget:-1", "budget:x", "budget:"):
        with pytest.raises(InvalidInputError, match="budget"):
            parse_budget(bad)


def test_lineage_worth_interpolates() -> None:
    table = {0: {"lrmf": {"mae_all": 0.03}}, 10: {"random": {"mae_all": 0.06}}, 50: {"random": {"mae_all": 0.02}}}
    assert lineage_worth(table) == pytest.approx(40.0)
    assert lineage_worth({0: {"lrmf": {"mae_all": 0.001}}, 10: {"random": {"mae_all": 0.05}}}) is None


def test_wilson_and_irt_pieces() -> None:
    est, low, high = random_estimate(np.array([1.0] * 10), 100)
    assert est == 1.0 and low < 1.0 and high == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    theta = rng.normal(0, 1, 200)
    b = rng.normal(0, 1, 50)
    y = (rng.random((200, 50)) < 1 / (1 + np.exp(-(theta[:, None] - b[None, :])))).astype(float)
    t_hat, b_hat = fit_1pl(y)
    assert np.corrcoef(b_hat, b)[0, 1] > 0.9 and np.corrcoef(t_hat, theta)[0, 1] > 0.8
    delta, se = fit_offset(np.array([]), np.array([]), 0.3, 2.0)
    assert (delta, se) == (0.3, 2.0)


def test_irt_is_2pl_and_1pl_stays_selectable(data) -> None:
    from hub_lineage.evaluation.budget import describe_methods

    task = prepare_budget(data.matrix, data.graph)
    res = run_budget(task, [20], ["irt", "irt1pl"], seeds=1)
    for m in ("irt", "irt1pl"):
        assert 0 < res[20][m][0]["mae_all"] < 0.3 and 0 < res[20][m][0]["coverage"] <= 1
    assert res[20]["irt"][0] != res[20]["irt1pl"][0]  # different item models
    assert "2PL" in describe_methods()["irt"] and "1PL" in describe_methods(["irt1pl"])["irt1pl"]
    with pytest.raises(InvalidInputError, match="irt1pl"):
        run_budget(task, [5], ["irt3pl"], seeds=1)
