"""Item response theory pieces for few-item estimation (tinyBenchmarks-style baselines).

- :func:`fit_1pl`: joint maximum likelihood of ``logit p[m, i] = theta_m - b_i`` on training
  answers (alternating Newton steps, a weak ridge on both sides so perfect rows stay finite);
- :func:`fit_2pl`: regularised joint MAP of the 2PL model ``logit p[m, i] = a_i theta_m - a_i b_i``
  (tinyBenchmarks' IRT with one dimension): abilities ~ N(0, 1) (the scale's origin and unit),
  ``log a_i`` ~ N(0, ``sd_log_a``) so items answered by few models keep a slope near 1;
- :func:`fit_ability`: one model's MAP ability on the items it answered, given item parameters;
- :func:`fit_offset`: one model's MAP offset ``delta`` in ``logit p_i = base_i + delta`` from the
  items it answered (the IRT ability when ``base = -b``; a lineage correction when ``base`` is a
  lineage prediction's logits), with its standard error.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class ItemParams:
    """Item parameters of a 1PL or 2PL model: ``logit p = discrimination * (theta - difficulty)``.

    ``difficulty``, ``discrimination``: shape (n_items,) (a 1PL has discrimination 1 everywhere);
    ``theta_sd``: the training abilities' spread (the prior sd of a new model's ability).
    """

    difficulty: np.ndarray
    discrimination: np.ndarray
    theta_sd: float = 1.0
    kind: str = "2pl"

    def take(self, cols: np.ndarray) -> ItemParams:
        return ItemParams(self.difficulty[cols], self.discrimination[cols], self.theta_sd, self.kind)

    def proba(self, theta: float) -> np.ndarray:
        return sigmoid(self.discrimination * (theta - self.difficulty))


def fit_2pl(values: np.ndarray, n_iter: int = 60, sd_log_a: float = 0.5, sd_b: float = 3.0,
            tol: float = 1e-5) -> tuple[np.ndarray, ItemParams]:
    """Abilities (n_models,) and :class:`ItemParams` (n_items,) of a 2PL from 0/1 ``values`` (NaN = missing).

    Alternating Newton steps: abilities (prior N(0, 1)), then each item's ``(log a, c)`` of
    ``logit p = a theta + c`` jointly (2 x 2 system, Fisher scoring, priors ``log a`` ~ N(0,
    ``sd_log_a``) and ``c`` ~ N(0, ``sd_b``)); after each sweep the abilities are re-standardised
    (mean 0, sd 1) and the items rescaled so the predictions do not change. Starts from the 1PL fit.
    """
    y = np.asarray(values, dtype=np.float64)
    mask = ~np.isnan(y)
    y0 = np.where(mask, y, 0.0)
    theta, b = fit_1pl(y)
    sd = float(theta.std()) or 1.0
    theta = (theta - theta.mean()) / sd
    log_a = np.full(y.shape[1], np.log(sd))  # 1PL slopes on the standardised scale
    c = -np.exp(log_a) * b
    prec_a, prec_c = 1.0 / sd_log_a ** 2, 1.0 / sd_b ** 2
    for _ in range(n_iter):
        a = np.exp(log_a)
        p = sigmoid(a[None, :] * theta[:, None] + c[None, :])
        w = np.where(mask, p * (1 - p), 0.0)
        g = np.where(mask, y0 - p, 0.0)
        theta = theta + (g @ a - theta) / (w @ (a * a) + 1.0)
        p = sigmoid(a[None, :] * theta[:, None] + c[None, :])
        w = np.where(mask, p * (1 - p), 0.0)
        g = np.where(mask, y0 - p, 0.0)
        ja = a[None, :] * theta[:, None]  # d logit / d log a
        g_a = (g * ja).sum(axis=0) - prec_a * log_a
        g_c = g.sum(axis=0) - prec_c * c
        h_aa = (w * ja * ja).sum(axis=0) + prec_a
        h_ac = (w * ja).sum(axis=0)
        h_cc = w.sum(axis=0) + prec_c
        det = h_aa * h_cc - h_ac * h_ac
        step_a = np.clip((h_cc * g_a - h_ac * g_c) / det, -1.0, 1.0)
        step_c = np.clip((h_aa * g_c - h_ac * g_a) / det, -3.0, 3.0)
        log_a, c = log_a + step_a, c + step_c
        mu, s = float(theta.mean()), float(theta.std()) or 1.0  # keep the N(0, 1) scale exact
        theta = (theta - mu) / s
        c = c + np.exp(log_a) * mu
        log_a = log_a + np.log(s)
        if max(float(np.abs(step_a).max(initial=0.0)), float(np.abs(step_c).max(initial=0.0))) < tol:
            break
    a = np.exp(log_a)
    return theta, ItemParams(-c / a, a, 1.0, "2pl")


def item_params_1pl(values: np.ndarray) -> ItemParams:
    """:func:`fit_1pl` as :class:`ItemParams` (discrimination 1; ``theta_sd`` the abilities' spread, >= 0.3)."""
    theta, b = fit_1pl(values)
    return ItemParams(b, np.ones_like(b), float(max(theta.std(), 0.3)), "1pl")


def fit_ability(y: np.ndarray, items: ItemParams, prior_mean: float = 0.0, n_iter: int = 30
                ) -> tuple[float, float]:
    """MAP ability and its standard error given answers ``y`` (k,) on ``items`` (k items), prior
    N(``prior_mean``, ``items.theta_sd``); with ``k == 0`` the prior."""
    y = np.asarray(y, dtype=np.float64)
    a, b = np.asarray(items.discrimination, np.float64), np.asarray(items.difficulty, np.float64)
    theta, prec0 = float(prior_mean), 1.0 / items.theta_sd ** 2
    info = prec0
    for _ in range(n_iter):
        p = sigmoid(a * (theta - b))
        grad = float((a * (y - p)).sum()) - prec0 * (theta - prior_mean)
        info = float((a * a * p * (1 - p)).sum()) + prec0
        step = float(np.clip(grad / info, -2.0, 2.0))
        theta += step
        if abs(step) < 1e-8:
            break
    return theta, 1.0 / np.sqrt(info)


__all__ = ["ItemParams", "fit_1pl", "fit_2pl", "fit_ability", "fit_offset", "item_params_1pl", "logit", "sigmoid"]
