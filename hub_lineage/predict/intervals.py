"""Split-conformal prediction intervals for predicted benchmark scores.

Calibrated on held-out residuals: predictions for models whose observations were left out of the
fit (cross-validated predictions of training models, see
:func:`hub_lineage.evaluation.held_out.cross_validated_predictions`) beside their actual scores. Per
benchmark, the interval half-width is the conformal quantile of ``|actual - pred| / scale``, where
``scale`` is an optional per-model difficulty (e.g. :func:`lineage_scale`: farther from any scored
relative -> wider). Under exchangeability the interval covers a new model's score with probability
at least ``coverage``; ``hub-lineage evaluate`` reports the empirical coverage on test models.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from hub_lineage.errors import InvalidInputError
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.lineage.walk import breadth_first
from hub_lineage.model.base import check_is_fitted

_NOT_FITTED = "{name} is not fitted: call fit(pred, actual) first."


class ConformalIntervals:
    """Per-benchmark split-conformal intervals.

    Parameters
    ----------
    coverage : float
        Nominal coverage in (0, 1), e.g. 0.9.

    Attributes
    ----------
    quantiles_ : ndarray of shape (n_benchmarks,)
        Half-width per benchmark in units of ``scale`` (inf when too few residuals for the level).
    n_calibration_ : ndarray of shape (n_benchmarks,)
        Residuals behind each quantile.
    """

    def __init__(self, coverage: float = 0.9) -> None:
        if not 0.0 < coverage < 1.0:
            raise InvalidInputError(f"coverage={coverage!r}: the nominal coverage must lie in (0, 1).")
        self.coverage = coverage

    def fit(self, pred: np.ndarray, actual: np.ndarray, scale: np.ndarray | None = None) -> ConformalIntervals:
        """Calibrate from held-out predictions.

        Parameters
        ----------
        pred, actual : ndarray of shape (n_models, n_benchmarks)
            Held-out predictions and actual scores (NaN = not scored, left out).
        scale : ndarray of shape (n_models,), optional
            Positive per-model difficulty; residuals are divided by it.
        """
        pred, actual = _as_2d(pred), _as_2d(actual)
        if pred.shape != actual.shape:
            raise InvalidInputError(f"pred has shape {pred.shape} but actual has {actual.shape}: they must match.")
        scale_arr = _scale(scale, pred.shape[0])
        resid = np.abs(actual - pred) / scale_arr[:, None]
        self.quantiles_ = np.empty(pred.shape[1])
        self.n_calibration_ = np.empty(pred.shape[1], dtype=int)
        for k in range(pred.shape[1]):
            r = np.sort(resid[~np.isnan(resid[:, k]), k])
            n = r.size
            self.n_calibration_[k] = n
            rank = math.ceil((n + 1) * self.coverage)  # the finite-sample conformal rank
            self.quantiles_[k] = r[rank - 1] if 0 < rank <= n else np.inf
        return self

    def interval(self, pred: np.ndarray, scale: np.ndarray | None = None,
                 bounds: tuple[float, float] = (0.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
        """``(low, high)``, each shaped like ``pred`` (n_models, n_benchmarks), clipped to ``bounds``."""
        check_is_fitted(self, "quantiles_", msg=_NOT_FITTED)
        pred = np.asarray(pred, dtype=np.float64)
        pred2 = _as_2d(pred)
        if pred2.shape[1] != self.quantiles_.size:
            raise InvalidInputError(
                f"pred has {pred2.shape[1]} benchmark columns; the intervals were fitted on {self.quantiles_.size}.")
        half = _scale(scale, pred2.shape[0])[:, None] * self.quantiles_[None, :]
        low = np.clip(pred2 - half, *bounds)
        high = np.clip(pred2 + half, *bounds)
        return low.reshape(pred.shape), high.reshape(pred.shape)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (no pickle): ``{"coverage", "quantiles", "n_calibration"}``."""
        check_is_fitted(self, "quantiles_", msg=_NOT_FITTED)
        return {"coverage": self.coverage,
                "quantiles": [None if not np.isfinite(q) else float(q) for q in self.quantiles_],
                "n_calibration": [int(n) for n in self.n_calibration_]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConformalIntervals:
        out = cls(float(data["coverage"]))
        out.quantiles_ = np.array([np.inf if q is None else q for q in data["quantiles"]], dtype=np.float64)
        out.n_calibration_ = np.array(data.get("n_calibration", [0] * len(out.quantiles_)), dtype=int)
        return out


def _as_2d(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x[:, None] if x.ndim == 1 else x


def _scale(scale: np.ndarray | None, n: int) -> np.ndarray:
    if scale is None:
        return np.ones(n)
    out = np.asarray(scale, dtype=np.float64).ravel()
    if out.shape != (n,) or not np.all(np.isfinite(out)) or (out <= 0).any():
        raise InvalidInputError(f"scale must hold {n} positive finite values (one per model), got {out.shape}.")
    return out


def hops_to_scored(graph: LineageGraph, models: Sequence[str], scored: Iterable[str],
                   max_hops: int = 10) -> np.ndarray:
    """Lineage distance (hops, parents and children alike) from each model to its nearest scored
    relative other than itself; ``max_hops + 1`` when none is within reach. Shape (len(models),)."""
    scored_set = set(scored)

    def relatives(node: str) -> list[str]:
        return [e.parent for e in graph.parents(node)] + [e.child for e in graph.children(node)]

    out = np.full(len(models), max_hops + 1, dtype=np.float64)
    for k, model in enumerate(models):
        hops = breadth_first(model, relatives, max_depth=max_hops)
        found = [h for node, h in hops.items() if node in scored_set and node != model]
        if found:
            out[k] = min(found)
    return out


def lineage_scale(graph: LineageGraph, models: Sequence[str], scored: Iterable[str],
                  slope: float = 0.25) -> np.ndarray:
    """Interval scale ``1 + slope * (hops - 1)``: a model one hop from a scored relative gets 1."""
    return 1.0 + slope * (hops_to_scored(graph, models, scored) - 1.0)
