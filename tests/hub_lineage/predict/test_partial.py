"""Full-benchmark estimates from a model's stored item answers: intervals, store reading, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from hub_lineage.data.store.database import Store
from hub_lineage.data.store.ingest import ingest_paths
from hub_lineage.errors import InvalidInputError
from hub_lineage.predict.partial import (
    METHOD_COMPLETE,
    METHOD_SAMPLE,
    Estimate,
    aipw_estimate,
    estimate_from_items,
    exact_binomial_interval,
    lineage_estimate,
)


def _write(path: Path, rows: list[tuple[str, int, int]]) -> Path:
    path.write_text("model,instance,correct\n" + "".join(f"{m},{i},{c}\n" for m, i, c in rows), encoding="utf-8")
    return path


def _store(tmp_path: Path) -> Store:
    rng = np.random.default_rng(0)
    rows = [(m, i, int(rng.random() < 0.6)) for m in ("org/full-a", "org/full-b") for i in range(40)]
    rows += [("org/partial", i, int(rng.random() < 0.5)) for i in range(10)]
    store = Store(tmp_path / "s.sqlite")
    ingest_paths(store, [_write(tmp_path / "musr_correctness.csv", rows)])
    return store


def test_clopper_pearson_matches_beta_quantiles() -> None:
    low, high = exact_binomial_interval(7, 20, 0.9)
    assert low == pytest.approx(stats.beta.ppf(0.05, 7, 14))
    assert high == pytest.approx(stats.beta.ppf(0.95, 8, 13))
    assert exact_binomial_interval(0, 5)[0] == 0.0 and exact_binomial_interval(5, 5)[1] == 1.0
    with pytest.raises(InvalidInputError, match="successes"):
        exact_binomial_interval(6, 5)


def test_estimate_json_keys_are_the_contract() -> None:
    e = Estimate(0.5, 0.4, 0.6, 10, 40, "m")
    assert list(e.as_json()) == ["estimate", "low", "high", "evaluated", "items", "method"]


def test_complete_and_partial_benchmarks_from_the_store(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        full = estimate_from_items(store, "org/full-a", "musr")
        assert full.method == METHOD_COMPLETE and full.evaluated == full.items == 40
        assert full.low == full.estimate == full.high
        part = estimate_from_items(store, "org/partial", "musr")
        assert part.method.startswith(METHOD_SAMPLE) and (part.evaluated, part.items) == (10, 40)
        assert part.low <= part.estimate <= part.high and part.high - part.low > 0.2
        assert estimate_from_items(store, "org/partial", "musr", items=500).items == 500
        with pytest.raises(InvalidInputError, match="items=5 "):
            estimate_from_items(store, "org/partial", "musr", items=5)
        with pytest.raises(InvalidInputError, match="no item answers"):
            estimate_from_items(store, "org/unknown", "musr")


def test_two_item_sets_of_one_benchmark_is_an_error_and_duplicates_warn(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        # a leaderboard MuSR subtask: the same benchmark, another item set
        ingest_paths(store, [_write(tmp_path / "leaderboard_musr_team_allocation_correctness.csv",
                                    [("org/full-b", i, 1) for i in range(5)])])
        with pytest.raises(InvalidInputError, match="2 different item sets"):
            estimate_from_items(store, "org/full-b", "musr")
        # naming the task picks one item set
        assert estimate_from_items(store, "org/full-b", "leaderboard_musr_team_allocation").evaluated == 5
        before = store.to_matrix("instance").n_observed
        assert before > 0


def test_duplicate_answers_warn_and_keep_the_newest(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        again = tmp_path / "v2"
        again.mkdir()
        ingest_paths(store, [_write(again / "musr_correctness.csv", [("org/partial", 0, 1), ("org/partial", 1, 1)])])
        with pytest.warns(UserWarning, match="answered more than once; kept the newest"):
            e = estimate_from_items(store, "org/partial", "musr")
        assert e.evaluated == 10


def _draws(n_items: int = 400, reps: int = 400, ks: tuple[int, ...] = (0, 5, 10, 20, 40, 80), seed: int = 0
           ) -> dict[int, tuple[float, float]]:
    """Planted truth: items' true probabilities; a mis-calibrated lineage prediction of them."""
    rng = np.random.default_rng(seed)
    out = {}
    errs: dict[int, list[float]] = {k: [] for k in ks}
    cover: dict[int, list[bool]] = {k: [] for k in ks}
    for _ in range(reps):
        truth = 1 / (1 + np.exp(-rng.normal(0.3, 1.5, n_items)))
        y = (rng.random(n_items) < truth).astype(float)
        lineage = 1 / (1 + np.exp(-(np.log(truth / (1 - truth)) * 0.7 - 0.6 + rng.normal(0, 0.8, n_items))))
        order = rng.permutation(n_items)
        for k in ks:
            seen = np.sort(order[:k])
            e = lineage_estimate(y[seen], seen, lineage)
            errs[k].append(abs(e.estimate - y.mean()))
            cover[k].append(e.low <= y.mean() <= e.high)
    for k in ks:
        out[k] = (float(np.mean(errs[k])), float(np.mean(cover[k])))
    return out


def test_more_revealed_items_never_raise_the_expected_error() -> None:
    res = _draws()
    maes = [res[k][0] for k in sorted(res)]
    assert all(b <= a + 1e-3 for a, b in zip(maes, maes[1:])), maes
    for k in (20, 40, 80):
        assert 0.84 <= res[k][1] <= 0.98, (k, res[k])


def test_aipw_is_unbiased_whatever_the_predictor() -> None:
    rng = np.random.default_rng(1)
    n, k = 300, 30
    y = (rng.random(n) < 0.35).astype(float)
    bad = np.full(n, 0.9)  # a terrible predictor
    ests = []
    for _ in range(2000):
        seen = rng.choice(n, k, replace=False)
        ests.append(aipw_estimate(y[seen], bad[seen], bad).estimate)
    assert np.mean(ests) == pytest.approx(y.mean(), abs=0.005)
