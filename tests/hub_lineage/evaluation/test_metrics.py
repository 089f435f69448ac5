"""Protocol metrics against direct computations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hub_lineage.evaluation import metrics


def test_pearson_spearman_mae():
    p = np.array([0.1, 0.2, 0.3, 0.4, np.nan])
    a = np.array([0.2, 0.1, 0.4, 0.3, 0.9])
    assert metrics.pearson(p, a) == pytest.approx(np.corrcoef(p[:4], a[:4])[0, 1])
    assert metrics.spearman(p, a) == pytest.approx(0.6)
    assert metrics.mae(p, a) == pytest.approx(0.1)
    assert np.isnan(metrics.pearson([0.1, 0.1, 0.1], [0.2, 0.3, 0.4]))  # constant side: undefined


def test_auc_matches_pairwise_count():
    rng = np.random.default_rng(1)
    score = rng.integers(0, 5, 40).astype(float)  # ties on purpose
    label = rng.integers(0, 2, 40).astype(float)
    pos, neg = score[label == 1], score[label == 0]
    pairs = [(1.0 if x > y else 0.5 if x == y else 0.0) for x, y in itertools.product(pos, neg)]
    assert metrics.auc(score, label) == pytest.approx(np.mean(pairs))
    assert np.isnan(metrics.auc([0.1, 0.2], [1, 1]))


def test_score_table_keys_and_all_is_mean_over_benchmarks():
    pred = np.array([[0.1, 0.5], [0.2, 0.6], [0.4, 0.7]])
    actual = np.array([[0.1, 0.4], [0.3, 0.6], [0.5, 0.8]])
    out = metrics.score_table(pred, actual, ["bbh", "gpqa"])
    assert set(out) == {"pearson_bbh", "pearson_gpqa", "pearson_all", "spearman_all", "mae_all"}
    assert out["pearson_all"] == pytest.approx(np.corrcoef(pred.mean(1), actual.mean(1))[0, 1])
    assert metrics.coverage([0, 0], [0.5, 0.5], [0.4, 0.6]) == 0.5


def test_rankdata_gives_scipys_average_ranks():
    from scipy.stats import rankdata as scipy_rankdata

    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 500):
        for x in (rng.random(n), rng.integers(0, 4, n).astype(float), np.round(rng.random(n), 1)):
            assert np.array_equal(metrics.rankdata(x), scipy_rankdata(x))
    assert metrics.rankdata(np.array([])).shape == (0,)


def test_metrics_do_not_import_scipy_stats():
    import subprocess
    import sys

    code = ("import sys; import hub_lineage.evaluation.protocol; "
            "sys.exit(1 if 'scipy.stats' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0  # 1.4 s of each evaluate worker's start
