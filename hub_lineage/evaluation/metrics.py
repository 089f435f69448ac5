"""Metrics of the evaluation protocol: correlation, error, instance-level AUC, interval coverage.

All take predicted and actual arrays of the same shape; NaN pairs (a model not scored on a
benchmark) are left out. A metric that is undefined (fewer than 3 pairs, a constant side) is NaN,
never a made-up number.
"""

from __future__ import annotations

import numpy as np


def _pairs(pred: np.ndarray, actual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64).ravel()
    actual = np.asarray(actual, dtype=np.float64).ravel()
    if pred.shape != actual.shape:
        raise ValueError(f"pred has {pred.size} values but actual has {actual.size}: shapes must match.")
    ok = ~(np.isnan(pred) | np.isnan(actual))
    return pred[ok], actual[ok]


def pearson(pred: np.ndarray, actual: np.ndarray) -> float:
    """Pearson correlation over the non-NaN pairs (NaN if fewer than 3 or a side is constant)."""
    p, a = _pairs(pred, actual)
    if p.size < 3 or np.ptp(p) == 0 or np.ptp(a) == 0:
        return float("nan")
    return float(np.corrcoef(p, a)[0, 1])


def spearman(pred: np.ndarray, actual: np.ndarray) -> float:
    """Spearman rank correlation (Pearson on average ranks)."""
    p, a = _pairs(pred, actual)
    if p.size < 3:
        return float("nan")
    return pearson(rankdata(p), rankdata(a))


def rankdata(x: np.ndarray) -> np.ndarray:
    """Average ranks (1-based; tied values share the mean of their positions), as
    ``scipy.stats.rankdata(x)``: the same values. Here so that evaluation workers do not import
    ``scipy.stats`` (1.4 s of a worker's start, measured)."""
    x = np.asarray(x).ravel()
    order = np.argsort(x, kind="mergesort")
    ordered = x[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]]
    group = np.cumsum(first) - 1
    bounds = np.r_[np.flatnonzero(first), x.size]   # group g holds sorted positions bounds[g]..bounds[g+1]-1
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = 0.5 * (bounds[group] + bounds[group + 1] + 1)
    return ranks


def mae(pred: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute error over the non-NaN pairs."""
    p, a = _pairs(pred, actual)
    return float(np.abs(p - a).mean()) if p.size else float("nan")


def auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` for binary ``label`` (ties count one half).

    Computed from the Mann-Whitney U statistic; NaN when only one class is present.
    """
    s, y = _pairs(score, label)
    pos = y > 0.5
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def coverage(low: np.ndarray, high: np.ndarray, actual: np.ndarray) -> float:
    """Fraction of non-NaN ``actual`` values inside ``[low, high]``."""
    low, high, actual = (np.asarray(x, dtype=np.float64).ravel() for x in (low, high, actual))
    ok = ~np.isnan(actual)
    if not ok.any():
        return float("nan")
    return float(((actual[ok] >= low[ok]) & (actual[ok] <= high[ok])).mean())


def score_table(pred: np.ndarray, actual: np.ndarray, benchmarks: list[str]) -> dict[str, float]:
    """The protocol's benchmark-level metrics for one seed.

    Parameters
    ----------
    pred, actual : ndarray of shape (n_models, n_benchmarks)
        Predicted and actual benchmark accuracies of the test models.
    benchmarks : list of str
        Benchmark keys of the columns.

    Returns
    -------
    dict with ``pearson_<bench>`` per benchmark and ``pearson_all``, ``spearman_all``, ``mae_all``
    on each model's mean accuracy over the benchmarks it was scored on.
    """
    out = {f"pearson_{b}": pearson(pred[:, k], actual[:, k]) for k, b in enumerate(benchmarks)}
    scored = ~np.isnan(actual)
    with np.errstate(invalid="ignore"):
        pred_all = np.nanmean(np.where(scored, pred, np.nan), axis=1)
        act_all = np.nanmean(actual, axis=1)
    out["pearson_all"] = pearson(pred_all, act_all)
    out["spearman_all"] = spearman(pred_all, act_all)
    out["mae_all"] = mae(pred_all, act_all)
    return out
