"""predict/partial: the sample-mean fallback with an exact (Clopper-Pearson) binomial interval."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binom

from hub_lineage.data.sources.lm_eval import SampleRun
from hub_lineage.data.store.database import Store
from hub_lineage.errors import InvalidInputError
from hub_lineage.predict.partial import Estimate, estimate_from_items, exact_binomial_interval


def test_clopper_pearson_known_values() -> None:
    low, high = exact_binomial_interval(0, 10, 0.9)
    assert low == 0.0 and high == pytest.approx(1 - 0.05 ** (1 / 10))
    low, high = exact_binomial_interval(10, 10, 0.9)
    assert low == pytest.approx(0.05 ** (1 / 10)) and high == 1.0
    low, high = exact_binomial_interval(3, 10, 0.95)
    assert (low, high) == (pytest.approx(0.0667, abs=1e-4), pytest.approx(0.6525, abs=1e-4))


@pytest.mark.parametrize("n", [5, 10, 25])
def test_clopper_pearson_covers_at_least_the_level(n: int) -> None:
    """Exact coverage, summed over every outcome, is >= 90% for every true proportion."""
    bounds = [exact_binomial_interval(k, n, 0.9) for k in range(n + 1)]
    for p in np.linspace(0.01, 0.99, 99):
        coverage = sum(binom.pmf(k, n, p) for k, (lo, hi) in enumerate(bounds) if lo <= p <= hi)
        assert coverage >= 0.9 - 1e-9


def _answers(model: str, task: str, values: list[float], start: int = 0) -> SampleRun:
    hashes = [f"doc{i}" for i in range(start, start + len(values))]
    return SampleRun(model, task, "acc", hashes, list(values), [None] * len(values), [None] * len(values),
                     source="test", run_time=1.0)


def test_sample_mean_fallback(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        store.add_samples([_answers("org/m", "qa", [1, 0, 1, 1, 0, 1, 1, 0, 1, 1])])
        est = estimate_from_items(store, "org/m", "qa", items=40)
        assert isinstance(est, Estimate) and (est.evaluated, est.items) == (10, 40)
        assert est.estimate == pytest.approx(0.7)
        assert (est.low, est.high) == pytest.approx(exact_binomial_interval(7, 10, 0.9))
        assert est.method.startswith("sample mean, exact binomial (Clopper-Pearson) interval: no fitted predictor")
        assert set(est.as_json()) == {"estimate", "low", "high", "evaluated", "items", "method"}
        store.add_samples([_answers("org/other", "qa", [1] * 40)])
        # a complete task is its own exact score
        full = estimate_from_items(store, "org/other", "qa", items=40)
        assert (full.estimate, full.low, full.high, full.evaluated) == (1.0, 1.0, 1.0, 40)
        assert estimate_from_items(store, "org/m", "qa").items == 40  # default: the instances the store knows
        with pytest.raises(InvalidInputError, match="holds no item answers of 'org/m' on 'other_task'"):
            estimate_from_items(store, "org/m", "other_task")
