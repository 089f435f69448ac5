"""Item response theory pieces for few-item estimation (tinyBenchmarks-style baselines).

- :func:`fit_1pl`: joint maximum likelihood of ``logit p[m, i] = theta_m - b_i`` on training
  answers (alternating Newton steps, a weak ridge on both sides so perfect rows stay finite);
- :func:`fit_offset`: one model's MAP offset ``delta`` in ``logit p_i = base_i + delta`` from the
  items it answered (the IRT ability when ``base = -b``; a lineage correction when ``base`` is a
  lineage prediction's logits), with its standard error.
"""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


def logit(p: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    return np.log(p / (1 - p))


def fit_1pl(values: np.ndarray, n_iter: int = 25, ridge: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Abilities (n_models,) and difficulties (n_items,) from 0/1 ``values`` (NaN = missing)."""
    y = np.asarray(values, dtype=np.float64)
    mask = ~np.isnan(y)
    y0 = np.where(mask, y, 0.0)
    b = -logit(np.nanmean(np.where(mask, y, np.nan), axis=0) if mask.any() else np.full(y.shape[1], 0.5))
    b = np.nan_to_num(b)
    theta = np.zeros(y.shape[0])
    for _ in range(n_iter):
        p = sigmoid(theta[:, None] - b[None, :])
        w = np.where(mask, p * (1 - p), 0.0)
        g = np.where(mask, y0 - p, 0.0)
        theta += (g.sum(axis=1) - ridge * theta) / (w.sum(axis=1) + ridge)
        p = sigmoid(theta[:, None] - b[None, :])
        w = np.where(mask, p * (1 - p), 0.0)
        g = np.where(mask, y0 - p, 0.0)
        b -= (g.sum(axis=0) + ridge * b) / (w.sum(axis=0) + ridge)
        shift = theta.mean()  # the scale's origin is free: keep abilities centred
        theta -= shift
        b -= shift
    return theta, b


def fit_offset(y: np.ndarray, base: np.ndarray, prior_mean: float = 0.0, prior_sd: float = 1.0,
               n_iter: int = 20) -> tuple[float, float]:
    """MAP ``delta`` and its standard error for ``logit p_i = base_i + delta`` given answers ``y``.

    ``y``, ``base``: shape (k,); with ``k == 0`` the prior mean and sd.
    """
    y = np.asarray(y, dtype=np.float64)
    base = np.asarray(base, dtype=np.float64)
    delta, prec0 = float(prior_mean), 1.0 / prior_sd ** 2
    info = prec0
    for _ in range(n_iter):
        p = sigmoid(base + delta)
        grad = float((y - p).sum()) - prec0 * (delta - prior_mean)
        info = float((p * (1 - p)).sum()) + prec0
        step = grad / info
        delta += step
        if abs(step) < 1e-8:
            break
    return delta, 1.0 / np.sqrt(info)


__all__ = ["fit_1pl", "fit_offset", "logit", "sigmoid"]
