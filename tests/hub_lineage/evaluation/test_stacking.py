"""The ridge correction learns what a feature says and stays out when features say nothing."""

from __future__ import annotations

import numpy as np
import pytest

from hub_lineage.evaluation.stacking import ScaleModel, Stacker, ridge_loo
from hub_lineage.predict.conformal import RelativeFeatures


def _feats(n: int, n_bench: int, rng) -> RelativeFeatures:
    return RelativeFeatures(np.ones(n), np.ones(n, dtype=int), np.zeros((n, n_bench)),
                            rng.uniform(0.2, 0.8, (n, n_bench)), [[] for _ in range(n)])


def test_planted_correction_is_learned_out_of_sample():
    rng = np.random.default_rng(0)
    n = 120
    X = rng.integers(0, 2, (n, 3)).astype(float)  # e.g. a chat-template flag in column 0
    pred = rng.uniform(0.3, 0.5, (n, 2))
    actual = pred + 0.2 * X[:, :1] + rng.normal(0, 0.01, (n, 2))
    feats = _feats(n, 2, rng)
    st = Stacker().fit(X, pred, actual, feats)
    assert np.mean((st.loo_ - actual) ** 2) < 0.1 * np.mean((pred - actual) ** 2)
    new_X = np.array([[1.0, 0, 0], [0.0, 1, 1]])
    out = st.correct(new_X, np.full((2, 2), 0.4), _feats(2, 2, rng))
    assert np.allclose(out[0], 0.6, atol=0.03) and np.allclose(out[1], 0.4, atol=0.03)


def test_noise_features_leave_predictions_alone():
    rng = np.random.default_rng(1)
    n = 60
    X = rng.normal(size=(n, 4))
    pred = rng.uniform(0.3, 0.5, (n, 1))
    actual = pred + rng.normal(0, 0.02, (n, 1))
    st = Stacker(alphas=(300.0,)).fit(X, pred, actual, _feats(n, 1, rng))
    # either no correction at all or a negligible one
    assert np.abs(st.loo_ - pred).max() < 0.02


def test_ridge_loo_matches_refitting_without_each_point():
    rng = np.random.default_rng(2)
    Z, r = rng.normal(size=(25, 3)), rng.normal(size=25)
    _, alpha, loo, _ = ridge_loo(Z, r, (1.0,))
    for i in (0, 7):
        keep = np.arange(25) != i
        _, _, _, coef = ridge_loo(Z[keep], r[keep], (1.0,))
        w, mu, sd, r0 = coef
        # standardisation uses the remaining points, so agreement is close but not exact
        assert abs(((Z[i] - mu) / sd) @ w + r0 - loo[i]) < 0.15


@pytest.mark.parametrize("static", [False, True])
def test_scale_model_follows_the_error(static):
    rng = np.random.default_rng(3)
    n = 200
    X = rng.integers(0, 2, (n, 1)).astype(float)
    pred = np.full((n, 1), 0.5)
    actual = pred + rng.normal(0, 1, (n, 1)) * (0.01 + 0.1 * X)
    scale = ScaleModel(static=static).fit(X, pred, actual - pred, _feats(n, 1, rng))
    wide = scale.loo_[X[:, 0] == 1].mean()
    narrow = scale.loo_[X[:, 0] == 0].mean()
    assert wide > 3 * narrow
