"""A per-benchmark ridge correction of cold-start predictions from what the Hub says about a model.

LRMF treats a model as a node of the lineage graph; what its name and the contents table say
(instruct / math / DPO / merge tokens, type, chat template, size) and how its prediction sits
among its scored relatives (agreement, spread, hops, the relatives' chat-template share) enter
here: for each benchmark ``b``, ``actual_b - pred_b`` is regressed on those features over the
inner validation models (held-out predictions of training models: nothing of the test fold).
The ridge penalty is chosen per benchmark by leave-one-out error (closed form), and the
leave-one-out corrections of the validation models are what the intervals are calibrated on, so
the intervals never see an in-sample fit.

Shapes: ``X`` (n_models, n_features) shared by all benchmarks, ``pred``/``actual`` (n_models, n_benchmarks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hub_lineage.model.features import model_features
from hub_lineage.predict.conformal import RelativeFeatures

ALPHAS = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)


def design(models: Sequence[str], meta: Mapping[str, Mapping[str, Any]], feats: RelativeFeatures,
           max_hops: int) -> np.ndarray:
    """Model-level features (n_models, n_features): name and metadata, hops, relatives' metadata."""
    base = model_features(models, meta)
    hops = feats.hops
    hop_cols = np.column_stack([hops == 1, hops == 2, (hops >= 3) & (hops <= max_hops), hops > max_hops])
    chat = base[:, -4:-3]  # the model's own chat-template flag (features.FEATURE_NAMES order)
    near = feats.near or [[] for _ in models]
    rel_chat = np.array([[np.mean([bool((meta.get(m) or {}).get("chat_template")) for m in ms]) if ms else 0.5]
                         for ms in near])
    return np.hstack([base, hop_cols.astype(float), np.log1p(feats.n_relatives)[:, None], rel_chat,
                      chat - rel_chat])


def _bench_design(X: np.ndarray, pred: np.ndarray, feats: RelativeFeatures, b: int) -> np.ndarray:
    dev = np.nan_to_num(feats.anchor[:, b] - pred[:, b])
    cols = [X, dev[:, None], feats.spread[:, b:b + 1], pred[:, b:b + 1]]
    if feats.other is not None:  # where another method (lineage averaging) disagrees with the prediction
        cols.append(np.nan_to_num(feats.other[:, b:b + 1] - pred[:, b:b + 1]))
    return np.hstack(cols)


def ridge_loo(Z: np.ndarray, r: np.ndarray, alphas: Sequence[float]
              ) -> tuple[float, float, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray, float]]:
    """Ridge of ``r`` (n,) on standardised ``Z`` (n, p) with the penalty of least leave-one-out error.

    Returns (LOO mean squared error, alpha, LOO predictions (n,), (coef, mean, sd, intercept)).
    """
    mu, sd = Z.mean(axis=0), Z.std(axis=0)
    sd[sd == 0] = 1.0
    Zs = (Z - mu) / sd
    r0 = float(r.mean())
    U, S, _ = np.linalg.svd(Zs, full_matrices=False)
    best = None
    for alpha in alphas:
        shrink = S ** 2 / (S ** 2 + alpha)
        fitted = U @ (shrink * (U.T @ (r - r0))) + r0
        h = (U ** 2) @ shrink + 1.0 / len(r)
        loo = (r - fitted) / np.clip(1.0 - h, 1e-6, None)
        err = float(np.mean(loo ** 2))
        if best is None or err < best[0]:
            best = (err, float(alpha), r - loo)
    assert best is not None
    w = np.linalg.solve(Zs.T @ Zs + best[1] * np.eye(Zs.shape[1]), Zs.T @ (r - r0))
    return best[0], best[1], best[2], (w, mu, sd, r0)


def _apply(coef: tuple[np.ndarray, np.ndarray, np.ndarray, float], Z: np.ndarray) -> np.ndarray:
    w, mu, sd, r0 = coef
    return ((Z - mu) / sd) @ w + r0


class Stacker:
    """Ridge corrections per benchmark; ``fit`` then ``correct``; ``loo_`` holds the validation
    models' leave-one-out corrected predictions (n_models, n_benchmarks)."""

    def __init__(self, alphas: Sequence[float] = ALPHAS, min_models: int = 20) -> None:
        self.alphas, self.min_models = tuple(alphas), min_models

    def fit(self, X: np.ndarray, pred: np.ndarray, actual: np.ndarray, feats: RelativeFeatures) -> Stacker:
        n, n_bench = pred.shape
        self.coef_: list[tuple[np.ndarray, np.ndarray, np.ndarray, float] | None] = []
        self.loo_ = pred.copy()
        self.alpha_ = np.full(n_bench, np.nan)
        for b in range(n_bench):
            ok = ~(np.isnan(actual[:, b]) | np.isnan(pred[:, b]))
            if ok.sum() < self.min_models:
                self.coef_.append(None)
                continue
            r = actual[ok, b] - pred[ok, b]
            err, alpha, loo, coef = ridge_loo(_bench_design(X, pred, feats, b)[ok], r, self.alphas)
            # no correction at all when it does not beat the plain prediction out of sample
            if err >= float(np.mean(r ** 2)):
                self.coef_.append(None)
                continue
            self.coef_.append(coef)
            self.alpha_[b] = alpha
            self.loo_[np.flatnonzero(ok), b] = pred[ok, b] + loo
        return self

    def correct(self, X: np.ndarray, pred: np.ndarray, feats: RelativeFeatures,
                neutral: np.ndarray | None = None) -> np.ndarray:
        """Corrected predictions (n_models, n_benchmarks), clipped to [0, 1].

        ``neutral`` (n_models, X's n_features) bool: cells of ``X`` that are unknown for that model
        (metadata of a model outside the contents table) take the training mean, so they move nothing.
        """
        out = pred.copy()
        for b, coef in enumerate(self.coef_):
            if coef is not None:
                Z = _bench_design(X, pred, feats, b)
                if neutral is not None and neutral.any():
                    Z[:, :X.shape[1]] = np.where(neutral, coef[1][None, :X.shape[1]], Z[:, :X.shape[1]])
                out[:, b] = pred[:, b] + _apply(coef, Z)
        return np.clip(out, 0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able coefficients: per benchmark None (no correction) or {w, mu, sd, intercept, alpha}."""
        return {"alphas": list(self.alphas), "min_models": self.min_models,
                "coef": [None if c is None else {"w": c[0].tolist(), "mu": c[1].tolist(), "sd": c[2].tolist(),
                                                 "intercept": float(c[3]), "alpha": float(a)}
                         for c, a in zip(self.coef_, self.alpha_)]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stacker:
        out = cls(data.get("alphas", ALPHAS), int(data.get("min_models", 20)))
        out.coef_ = [None if c is None else (np.asarray(c["w"], dtype=np.float64), np.asarray(c["mu"], dtype=np.float64),
                                             np.asarray(c["sd"], dtype=np.float64), float(c["intercept"]))
                     for c in data["coef"]]
        out.alpha_ = np.array([np.nan if c is None else float(c.get("alpha", np.nan)) for c in data["coef"]])
        return out


class ScaleModel:
    """Expected absolute error per (model, benchmark) from the same features: a ridge of
    ``|actual - pred|`` (normalised conformal's difficulty), floored at a quarter of the median.

    ``static``: read ``X`` alone (name and metadata), nothing that depends on which models are
    scored, so validation and test models are scaled alike."""

    def __init__(self, alphas: Sequence[float] = ALPHAS, min_models: int = 20, static: bool = False) -> None:
        self.alphas, self.min_models, self.static = tuple(alphas), min_models, static

    def _design(self, X: np.ndarray, pred: np.ndarray, feats: RelativeFeatures, b: int) -> np.ndarray:
        return X if self.static else _bench_design(X, pred, feats, b)

    def fit(self, X: np.ndarray, pred: np.ndarray, resid: np.ndarray, feats: RelativeFeatures) -> ScaleModel:
        """Fit on absolute errors ``resid`` with ``pred`` (the prediction the features read; the same
        kind must be passed to :meth:`predict`); ``loo_`` holds the out-of-sample scales."""
        resid = np.abs(resid)
        self.coef_: list[tuple[np.ndarray, np.ndarray, np.ndarray, float] | None] = []
        self.floor_ = np.zeros(pred.shape[1])
        self.loo_ = np.ones(pred.shape)
        for b in range(pred.shape[1]):
            ok = ~np.isnan(resid[:, b])
            med = float(np.median(resid[ok, b])) if ok.any() else 0.05
            self.floor_[b] = max(0.25 * med, 1e-3)
            if ok.sum() < self.min_models:
                self.coef_.append(None)
                self.loo_[:, b] = max(med, 1e-3)
                continue
            _, _, loo, coef = ridge_loo(self._design(X, pred, feats, b)[ok], resid[ok, b], self.alphas)
            self.coef_.append(coef)
            self.loo_[np.flatnonzero(ok), b] = np.maximum(loo, self.floor_[b])
        return self

    def predict(self, X: np.ndarray, pred: np.ndarray, feats: RelativeFeatures) -> np.ndarray:
        out = np.empty(pred.shape)
        for b, coef in enumerate(self.coef_):
            out[:, b] = self.loo_[:, b].mean() if coef is None else _apply(coef, self._design(X, pred, feats, b))
            out[:, b] = np.maximum(out[:, b], self.floor_[b])
        return out


__all__ = ["ScaleModel", "Stacker", "design", "ridge_loo"]
