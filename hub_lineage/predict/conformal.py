"""Adaptive (normalised, Mondrian) conformal intervals: width follows how close and how consistent
a model's scored relatives are.

For each model the lineage graph gives its *relatives*: the scored models at the nearest hop
distance ``d`` through real lineage edges (and those at ``d + 1``, for the spread), or through the
leaderboard's family-root edges when no real edge reaches one. From them:

- ``hops`` (n_models,): ``d`` (``max_hops + 1`` when only the family root links it, or nothing);
- ``spread`` (n_models, n_benchmarks): the relatives' standard deviation per benchmark (0 for one);
- ``anchor`` (n_models, n_benchmarks): the nearest relatives' mean score (agreement with the
  prediction is read from it).

The normalised score of a held-out residual is ``|actual - pred| / s`` with
``s = sqrt(tau_b^2 + spread^2 + (pred - anchor)^2)`` (``tau_b``: the benchmark's median absolute
residual, a floor): wide where relatives disagree with each other or with the prediction. Its
conformal quantile is taken per *bucket* (hops 1, 2, 3+, family-root only; one vs several
relatives) and benchmark, so coverage holds in each bucket, not only on average; a bucket with
fewer than ``min_bucket`` calibration residuals uses the pooled quantile.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hub_lineage.errors import InvalidInputError
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.lineage.walk import nearest_rings


@dataclass
class RelativeFeatures:
    """Per-model evidence from scored relatives (shapes in the module docstring)."""

    hops: np.ndarray
    n_relatives: np.ndarray
    spread: np.ndarray
    anchor: np.ndarray
    near: list[list[str]] | None = None
    #: Another method's held-out prediction (n_models, n_benchmarks), e.g. lineage averaging's; optional.
    other: np.ndarray | None = None

    def buckets(self, max_hops: int) -> list[str]:
        """Bucket label per model: ``"h1|1"``, ``"h2|n"``, ``"h3+|n"``, ``"root|1"``..."""
        out = []
        for h, n in zip(self.hops, self.n_relatives):
            hop = "root" if h > max_hops else ("h3+" if h >= 3 else f"h{int(h)}")
            out.append(f"{hop}|{'n' if n > 1 else '1'}")
        return out


class RelativeIndex:
    """The lineage graph's links, split into real edges and family-root edges, for fast walks."""

    def __init__(self, graph: LineageGraph, max_hops: int = 4) -> None:
        self.max_hops = max_hops
        links: dict[str, set[str]] = {}
        root_links: dict[str, set[str]] = {}
        for edge in graph.edges:
            target = root_links if edge.root else links
            target.setdefault(edge.child, set()).add(edge.parent)
            target.setdefault(edge.parent, set()).add(edge.child)
        # sorted: the walk's order (and so which relative comes first) must not depend on hashing
        self.links = {n: sorted(v) for n, v in links.items()}
        self.root_links = {n: sorted(v) for n, v in root_links.items()}

    @classmethod
    def from_links(cls, links: Mapping[str, list[str]], root_links: Mapping[str, list[str]],
                   max_hops: int = 4) -> RelativeIndex:
        """An index over given link maps (node -> sorted neighbours; only ``.get`` is used), e.g.
        read lazily from the predictor's stored graph instead of built from a :class:`LineageGraph`."""
        out = cls.__new__(cls)
        out.max_hops, out.links, out.root_links = max_hops, links, root_links
        return out

    def _rings(self, model: str, links: Mapping[str, list[str]], scored: Mapping[str, np.ndarray],
               depth: int) -> tuple[int, list[str], list[str]]:
        """(distance d of the nearest scored relatives, those at d, those at d + 1)."""
        return nearest_rings(model, links, scored, depth)

    def features(self, models: Sequence[str], scored: Mapping[str, np.ndarray], n_benchmarks: int
                 ) -> RelativeFeatures:
        """Features of ``models`` given the scored models a fit saw (``scored``: model -> scores)."""
        n = len(models)
        hops = np.full(n, self.max_hops + 1, dtype=np.float64)
        count = np.zeros(n, dtype=np.int64)
        spread = np.zeros((n, n_benchmarks))
        anchor = np.full((n, n_benchmarks), np.nan)
        nearest: list[list[str]] = []
        for k, model in enumerate(models):
            d, near, next_ring = self._rings(model, self.links, scored, self.max_hops)
            if not near:
                _, near, next_ring = self._rings(model, self.root_links, scored, 2)
            else:
                hops[k] = d
            nearest.append(near)
            if not near:
                continue
            count[k] = len(near)
            near_scores = np.vstack([scored[m] for m in near])
            with np.errstate(invalid="ignore"), _quiet():
                anchor[k] = np.nanmean(near_scores, axis=0)
                pool = np.vstack([near_scores, *[scored[m] for m in next_ring[:50]]])
                if pool.shape[0] > 1:
                    spread[k] = np.nan_to_num(np.nanstd(pool, axis=0))
        return RelativeFeatures(hops, count, spread, anchor, nearest)


class _quiet:
    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: a relative not scored there

    def __exit__(self, *exc: Any) -> None:
        self._ctx.__exit__(*exc)


class AdaptiveIntervals:
    """Normalised Mondrian split-conformal intervals per benchmark (module docstring).

    Parameters
    ----------
    coverage : float
        Nominal coverage in (0, 1).
    min_bucket : int
        Fewest calibration residuals for a bucket's own quantile.
    max_hops : int
        Hops walked through real lineage edges before falling back to family-root edges.
    power : float
        Widths follow ``scale ** power`` (1: fully normalised; 0: buckets only; between: tempered).
    """

    def __init__(self, coverage: float = 0.9, min_bucket: int = 30, max_hops: int = 4, power: float = 1.0) -> None:
        if not 0.0 < coverage < 1.0:
            raise InvalidInputError(f"coverage={coverage!r}: the nominal coverage must lie in (0, 1).")
        self.coverage, self.min_bucket, self.max_hops = coverage, min_bucket, max_hops
        self.power = power

    def _scale(self, pred: np.ndarray, feats: RelativeFeatures) -> np.ndarray:
        dev = np.nan_to_num(pred - feats.anchor)
        return np.sqrt(self.tau_[None, :] ** 2 + feats.spread ** 2 + dev ** 2)

    def _quantile(self, scores: np.ndarray) -> float:
        r = np.sort(scores[~np.isnan(scores)])
        rank = math.ceil((r.size + 1) * self.coverage)
        return float(r[rank - 1]) if 0 < rank <= r.size else np.inf

    def fit(self, pred: np.ndarray, actual: np.ndarray, feats: RelativeFeatures,
            scale: np.ndarray | None = None, ref: np.ndarray | None = None) -> AdaptiveIntervals:
        """Calibrate on held-out predictions ``pred`` and ``actual`` (n_models, n_benchmarks).

        ``scale`` (same shape, positive): an out-of-sample difficulty per cell (e.g. a model of the
        absolute error) used instead of the relatives' spread and agreement. ``ref``: the prediction
        agreement is measured from (default ``pred``); pass the same kind of prediction at
        calibration and at test (e.g. the uncorrected one), or the widths will not be exchangeable.
        """
        pred, actual = np.asarray(pred, dtype=np.float64), np.asarray(actual, dtype=np.float64)
        if pred.shape != actual.shape or feats.spread.shape != pred.shape:
            raise InvalidInputError(f"pred {pred.shape}, actual {actual.shape} and features "
                                    f"{feats.spread.shape} must have the same shape.")
        resid = np.abs(actual - pred)
        with _quiet():
            self.tau_ = np.nan_to_num(np.nanmedian(resid, axis=0), nan=0.05) + 1e-4
        ref = pred if ref is None else np.asarray(ref, dtype=np.float64)
        scores = resid / (self._scale(ref, feats) if scale is None else scale) ** self.power
        labels = np.asarray(feats.buckets(self.max_hops))
        self.pooled_ = np.array([self._quantile(scores[:, b]) for b in range(pred.shape[1])])
        self.quantiles_: dict[str, list[float]] = {}
        for label in sorted(set(labels)):
            rows = labels == label
            self.quantiles_[label] = [
                self._quantile(scores[rows, b]) if (~np.isnan(scores[rows, b])).sum() >= self.min_bucket
                else float(self.pooled_[b]) for b in range(pred.shape[1])]
        return self

    def half_widths(self, pred: np.ndarray, feats: RelativeFeatures, scale: np.ndarray | None = None,
                    ref: np.ndarray | None = None) -> np.ndarray:
        """Half-widths (n_models, n_benchmarks) for predictions ``pred`` with features ``feats``
        (``scale``: as in :meth:`fit`, when it was calibrated with one)."""
        pred = np.asarray(pred, dtype=np.float64)
        q = np.vstack([self.quantiles_.get(label, self.pooled_) for label in feats.buckets(self.max_hops)])
        ref = pred if ref is None else np.asarray(ref, dtype=np.float64)
        return q * (self._scale(ref, feats) if scale is None else scale) ** self.power

    def interval(self, pred: np.ndarray, feats: RelativeFeatures, scale: np.ndarray | None = None,
                 ref: np.ndarray | None = None, bounds: tuple[float, float] = (0.0, 1.0)
                 ) -> tuple[np.ndarray, np.ndarray]:
        """``(low, high)`` shaped like ``pred``, clipped to ``bounds``."""
        half = self.half_widths(pred, feats, scale, ref)
        return np.clip(pred - half, *bounds), np.clip(pred + half, *bounds)


__all__ = ["AdaptiveIntervals", "RelativeFeatures", "RelativeIndex"]
