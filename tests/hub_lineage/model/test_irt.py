"""1PL / 2PL item response models (the budget protocol's ``irt`` baselines) on planted data."""

from __future__ import annotations

import numpy as np
import pytest

from hub_lineage.evaluation.budget_methods import irt_estimate
from hub_lineage.model.irt import ItemParams, fit_2pl, fit_ability, item_params_1pl, sigmoid


def _planted(n_models: int = 400, n_items: int = 150, sd_log_a: float = 0.5, missing: float = 0.2, seed: int = 0):
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1, n_models)
    a = np.exp(rng.normal(0, sd_log_a, n_items))
    b = rng.normal(0, 1, n_items)
    y = (rng.random((n_models, n_items)) < sigmoid(a * (theta[:, None] - b))).astype(float)
    y[rng.random(y.shape) < missing] = np.nan
    return y, theta, a, b


def test_2pl_recovers_planted_parameters() -> None:
    y, theta, a, b = _planted()
    t_hat, items = fit_2pl(y)
    assert items.kind == "2pl" and items.difficulty.shape == items.discrimination.shape == (150,)
    assert np.corrcoef(items.discrimination, a)[0, 1] > 0.9
    assert np.corrcoef(items.difficulty, b)[0, 1] > 0.95
    assert np.corrcoef(t_hat, theta)[0, 1] > 0.95
    # the planted scale is N(0, 1) like the fit's, so the values themselves are recovered
    assert np.abs(np.log(items.discrimination) - np.log(a)).mean() < 0.2
    assert np.abs(items.difficulty - b).mean() < 0.25
    assert abs(t_hat.mean()) < 1e-6 and t_hat.std() == pytest.approx(1.0, abs=1e-6)


def test_2pl_on_1pl_data_keeps_slopes_equal() -> None:
    y, _, _, b = _planted(sd_log_a=0.0, seed=1)
    _, items = fit_2pl(y)
    assert np.std(np.log(items.discrimination)) < 0.25  # sampling noise only (planted 2PL spread: 0.5)
    assert np.corrcoef(items.difficulty, b)[0, 1] > 0.95
    one = item_params_1pl(y)
    assert one.kind == "1pl" and np.all(one.discrimination == 1.0)


def test_fit_ability_and_p_irt_estimate() -> None:
    y, _, a, b = _planted(seed=2)
    _, items = fit_2pl(y)
    rng = np.random.default_rng(5)
    errors = {"2pl": [], "1pl": []}
    one = item_params_1pl(y)
    for _ in range(150):
        theta = rng.normal()
        answers = (rng.random(len(a)) < sigmoid(a * (theta - b))).astype(float)
        seen = np.sort(rng.choice(len(a), 40, replace=False))
        t_hat, se = fit_ability(answers[seen], items.take(seen))
        assert se > 0 and abs(t_hat - theta) < 5 * se + 0.3
        for name, params in (("2pl", items), ("1pl", one)):
            est, low, high = irt_estimate(answers[seen], seen, params)
            assert 0 <= low <= est <= high <= 1
            errors[name].append(abs(est - answers.mean()))
    assert np.mean(errors["2pl"]) < 0.06
    assert np.mean(errors["2pl"]) <= np.mean(errors["1pl"]) + 0.005  # 2PL data: 2PL is no worse
    # no items: the prior ability (0) and its prior sd
    assert fit_ability(np.array([]), ItemParams(np.array([]), np.array([]), 1.5)) == (0.0, pytest.approx(1.5))
