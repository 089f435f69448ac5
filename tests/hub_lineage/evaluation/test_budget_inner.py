"""Inner validation of the budget lrmf estimator: inner split, offset prior, conformal interval scale."""

from __future__ import annotations

import numpy as np

from hub_lineage.evaluation.budget_inner import OFFSET_PRIOR_SD, inner_split, interval_scales, offset_prior_sd
from hub_lineage.predict.partial import lineage_estimate


def _planted(n_models: int, n_items: int, offset_sd: float, seed: int):
    """Models whose true item logits are a lineage prediction's plus a per-model offset."""
    rng = np.random.default_rng(seed)
    rows = []
    for m in range(n_models):
        base = rng.normal(0.3, 1.5, n_items)
        truth = 1 / (1 + np.exp(-(base + rng.normal(0, offset_sd))))
        y = (rng.random(n_items) < truth).astype(float)
        rows.append((f"m{seed}-{m}", y, 1 / (1 + np.exp(-base))))
    return rows


def test_inner_split_is_a_fifth_at_random_or_the_strongest() -> None:
    names = [f"m{i}" for i in range(100)]
    a, b = inner_split(names, None, 0), inner_split(names, None, 0)
    assert a == b and len(a) == 20 and len(set(a)) == 20
    strength = np.arange(100, dtype=float)
    assert set(inner_split(names, strength, 0)) == {f"m{i}" for i in range(80, 100)}
    assert len(inner_split(names[:30], None, 1)) == 10


def test_offset_prior_measures_the_planted_spread() -> None:
    rows = _planted(80, 300, 0.6, 0)
    sd = offset_prior_sd([(y, p) for _, y, p in rows])
    assert 0.45 < sd < 0.8, sd
    assert offset_prior_sd([(y, p) for _, y, p in rows[:3]]) == OFFSET_PRIOR_SD


def test_interval_scale_calibrates_coverage_on_new_models() -> None:
    calib, fresh = _planted(100, 300, 0.4, 1), _planted(150, 300, 0.4, 2)
    ks = (0, 10, 50)
    scales = interval_scales(calib, ks, 0.4, 0.9, 0, "b")
    assert set(scales) == set(ks) and all(s > 0 for s in scales.values())
    rng = np.random.default_rng(5)
    for k in ks:
        hits = []
        for _, y, p in fresh:
            seen = np.sort(rng.permutation(len(y))[:k])
            e = lineage_estimate(y[seen], seen, p, prior_sd=0.4, scale=scales[k])
            hits.append(e.low <= y.mean() <= e.high)
            assert "scaled by" in e.method
        assert 0.8 <= np.mean(hits) <= 0.98, (k, scales[k], np.mean(hits))
