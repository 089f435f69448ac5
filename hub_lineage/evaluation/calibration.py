"""What one outer fold does after the tuned fit: an optional correction, then prediction intervals.

Both are learned on the inner validation models of :class:`~hub_lineage.evaluation.tuning.Selection`
(held-out predictions of training models), never on the test fold:

- ``stack``: :class:`~hub_lineage.evaluation.stacking.Stacker`, a per-benchmark ridge correction
  from name, metadata and relatives (its leave-one-out corrections calibrate the intervals);
- intervals: ``constant`` :class:`~hub_lineage.predict.intervals.ConformalIntervals` (one width per
  benchmark, ``index`` None) or :class:`~hub_lineage.predict.conformal.AdaptiveIntervals` (width
  from the scored relatives each model has in the fit that predicts it: a validation model's
  relatives exclude its inner fold, a test model's exclude the test fold).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.evaluation.stacking import ScaleModel, Stacker, design
from hub_lineage.evaluation.held_out import predict_held_out, seeded_estimator, training_matrix
from hub_lineage.evaluation.tuning import Selection
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.model.features import model_features
from hub_lineage.predict.conformal import AdaptiveIntervals, RelativeFeatures, RelativeIndex
from hub_lineage.predict.intervals import ConformalIntervals


def _concat(parts: list[tuple[np.ndarray, RelativeFeatures]], n: int, n_bench: int) -> RelativeFeatures:
    hops, count = np.zeros(n), np.zeros(n, dtype=np.int64)
    spread, anchor = np.zeros((n, n_bench)), np.full((n, n_bench), np.nan)
    near: list[list[str]] = [[] for _ in range(n)]
    for at, f in parts:
        hops[at], count[at], spread[at], anchor[at] = f.hops, f.n_relatives, f.spread, f.anchor
        for i, ms in zip(at, f.near or [[] for _ in at]):
            near[i] = ms
    return RelativeFeatures(hops, count, spread, anchor, near)


class FoldPost:
    """``correct(pred, models)`` then ``interval(pred, models)`` for the test models of one fold."""

    def __init__(self, selection: Selection, matrix: ObservationMatrix, index: RelativeIndex | None,
                 test: Sequence[str], coverage: float | None, stack: bool = False, adaptive: bool = True,
                 scaled: bool = True, static: bool = False, mla_graph: LineageGraph | None = None,
                 seed: int = 0) -> None:
        assert selection.pred is not None and selection.actual is not None
        self.index, self.meta = index, matrix.model_meta
        scores = dict(zip(matrix.models, matrix.benchmark_scores()))
        test_set = set(test)
        self._train = {m: s for m, s in scores.items() if m not in test_set}
        pred, actual = selection.pred, selection.actual
        raw = pred  # the uncorrected prediction: what interval widths read, at calibration and test alike
        self.stacker: Stacker | None = None
        self.scaler: ScaleModel | None = None
        self.model: ConformalIntervals | AdaptiveIntervals | None = None
        feats = None
        if index is not None:
            rows = np.asarray(selection.held_out_of)
            parts = []
            for k, fold in enumerate(selection.folds):
                fold_set = set(fold)
                seen = {m: s for m, s in self._train.items() if m not in fold_set}
                parts.append((np.flatnonzero(rows == k), index.features(fold, seen, pred.shape[1])))
            feats = _concat(parts, len(selection.models), pred.shape[1])
            self._mla = None
            if mla_graph is not None and stack:  # lineage averaging's held-out predictions, fold by fold
                self._mla = (seeded_estimator("mla", {"fallback": "mean"}, seed), mla_graph, matrix, list(test))
                train = training_matrix(matrix, test)
                other = np.full(pred.shape, np.nan)
                for k, fold in enumerate(selection.folds):
                    other[rows == k] = train.benchmark_scores(
                        predict_held_out(self._mla[0], train, mla_graph, fold))
                feats.other = other
            X = design(selection.models, self.meta, feats, index.max_hops)
            if stack:
                self.stacker = Stacker().fit(X, pred, actual, feats)
                pred = self.stacker.loo_
        if coverage is None:
            return
        if feats is None or not adaptive:
            self.model = ConformalIntervals(coverage).fit(pred, actual)
            return
        scale = None
        if scaled:  # a learned difficulty; its leave-one-out values calibrate (never in-sample)
            X_scale = model_features(selection.models, self.meta) if static else X
            self.scaler = ScaleModel(static=static).fit(X_scale, raw, actual - pred, feats)
            scale = self.scaler.loo_
        # static: no buckets either (hops differ between validation and test neighbourhoods)
        self.model = AdaptiveIntervals(coverage, max_hops=index.max_hops, min_bucket=10 ** 9 if static else 30).fit(
            pred, actual, feats, scale, ref=raw)
        self.static = static

    def _features(self, models: Sequence[str], n_bench: int) -> RelativeFeatures:
        assert self.index is not None
        feats = self.index.features(models, self._train, n_bench)
        if getattr(self, "_mla", None) is not None:
            est, graph, matrix, test = self._mla
            pos = {m: k for k, m in enumerate(test)}
            full = matrix.benchmark_scores(predict_held_out(est, matrix, graph, test))
            feats.other = full[[pos[m] for m in models]]
        return feats

    def correct(self, pred: np.ndarray, models: Sequence[str]) -> np.ndarray:
        self._raw = pred.copy()
        if self.stacker is None:
            return pred
        feats = self._features(models, pred.shape[1])
        return self.stacker.correct(design(models, self.meta, feats, self.index.max_hops), pred, feats)

    def interval(self, pred: np.ndarray, models: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        assert self.model is not None
        if isinstance(self.model, ConformalIntervals):
            # the same call as before adaptive intervals existed
            return self.model.interval(pred)
        feats = self._features(models, pred.shape[1])
        raw = getattr(self, "_raw", pred)  # correct() keeps the uncorrected prediction
        scale = None
        if self.scaler is not None:
            X = (model_features(models, self.meta) if self.static
                 else design(models, self.meta, feats, self.index.max_hops))
            scale = self.scaler.predict(X, raw, feats)
        return self.model.interval(pred, feats, scale, ref=raw)
