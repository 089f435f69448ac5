"""Few-item estimators compared by the ``budget:K`` setting: one function per method.

Every function takes a model's answers on the ``K`` revealed items of one benchmark (``y``, shape
(K,); ``seen``: their column positions among the benchmark's ``N`` items) and returns
``(estimate, low, high)`` of the full-benchmark accuracy at ``level``.

- ``random``: the sample mean, Wilson interval (finite-population corrected);
- ``irt``: 2PL ability MAP-fitted on the K items with item difficulties and discriminations from
  training models (:func:`hub_lineage.model.irt.fit_2pl`); the unseen items' probabilities fill in
  the rest (tinyBenchmarks' p-IRT). ``irt1pl`` is the same with 1PL items (discrimination 1);
- ``aipw``: AIPW with a 1PL control variate (difficulty + a per-model offset fitted on the K
  items), no lineage;
- ``lrmf``: AIPW with the lineage prediction's item probabilities, corrected by a per-model logit
  offset fitted on the K items (:func:`hub_lineage.predict.partial.lineage_estimate`); the offset
  prior and the interval's scale per K are measured on training models
  (:mod:`hub_lineage.evaluation.budget_inner`).
"""

from __future__ import annotations

import math

import numpy as np

from hub_lineage.model.irt import ItemParams, fit_ability, fit_offset, sigmoid
from hub_lineage.predict.partial import aipw_estimate, lineage_estimate

Triple = tuple[float, float, float]


def _z(level: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(0.5 + level / 2))


def random_estimate(y: np.ndarray, n_items: int, level: float = 0.9) -> Triple:
    k = len(y)
    if k == 0:
        return math.nan, math.nan, math.nan
    mean = float(y.mean())
    z = _z(level) * math.sqrt(max(0.0, 1 - k / n_items)) if k < n_items else 0.0
    denom = 1 + z * z / k
    centre = (mean + z * z / (2 * k)) / denom
    half = z * math.sqrt(mean * (1 - mean) / k + z * z / (4 * k * k)) / denom
    return mean, min(mean, max(0.0, centre - half)), max(mean, min(1.0, centre + half))


#: What the ``irt`` / ``irt1pl`` budget methods are (the JSON's ``methods`` block says it).
IRT_METHODS = {"irt": "2PL IRT (tinyBenchmarks p-IRT): discriminations and difficulties from training models, "
                      "MAP ability on the K items",
               "irt1pl": "1PL IRT (p-IRT): difficulties from training models, MAP ability on the K items"}


def irt_estimate(y: np.ndarray, seen: np.ndarray, items: ItemParams, level: float = 0.9) -> Triple:
    """p-IRT: the K answers plus the fitted ability's probabilities of the N - K unseen items.

    ``items``: the benchmark's N items (1PL or 2PL); ``seen`` (K,): positions of ``y`` among them.
    """
    n = len(items.difficulty)
    theta, se = fit_ability(y, items.take(seen))
    unseen = np.ones(n, dtype=bool)
    unseen[seen] = False
    rest = items.take(np.flatnonzero(unseen))
    p = rest.proba(theta)
    est = (float(y.sum()) + float(p.sum())) / n
    # delta method on theta plus the unseen items' own Bernoulli noise
    slope = float((rest.discrimination * p * (1 - p)).sum()) / n
    sd = math.sqrt((slope * se) ** 2 + float((p * (1 - p)).sum()) / n ** 2)
    z = _z(level)
    return est, max(0.0, est - z * sd), min(1.0, est + z * sd)


def aipw_offset_estimate(y: np.ndarray, seen: np.ndarray, difficulty: np.ndarray, prior_sd: float,
                         level: float = 0.9) -> Triple:
    theta, se = fit_offset(y, -difficulty[seen], 0.0, prior_sd)
    p = sigmoid(theta - difficulty)
    if len(y) == 0:
        est = float(p.mean())
        slope = float((p * (1 - p)).mean())
        z = _z(level)
        return est, max(0.0, est - z * slope * se), min(1.0, est + z * slope * se)
    e = aipw_estimate(y, p[seen], p, level)
    return e.estimate, e.low, e.high


def lrmf_estimate(y: np.ndarray, seen: np.ndarray, proba: np.ndarray, prior_sd: float, level: float = 0.9,
                  scale: float | None = None) -> Triple:
    e = lineage_estimate(y, seen, proba, level=level, prior_sd=prior_sd, scale=scale)
    return e.estimate, e.low, e.high


__all__ = ["IRT_METHODS", "aipw_offset_estimate", "irt_estimate", "lrmf_estimate", "random_estimate"]
