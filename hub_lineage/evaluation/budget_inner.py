"""Inner validation of the ``budget:K`` lrmf estimator, on training models only.

Each fold of :mod:`hub_lineage.evaluation.budget` holds out a fifth of its *training* models with
item answers (the inner split), predicts them cold-start from the other training models, and
measures on them, per item benchmark:

- the offset prior: the RMS of the logit offsets between their cold-start prediction and their
  answers (the k-shot offset's prior sd, so a few items move a good lineage prediction little);
- the interval scale per K: K items are drawn from each inner model (``draws`` times) and the
  estimator's error is divided by its own interval half-width; the split-conformal quantile of
  these ratios at ``level`` rescales the held-out models' intervals (a benchmark whose lineage
  prediction is good gets narrower intervals, one whose residual interval undercovers wider).

The inner split mirrors the outer one: a plain run holds out a random fifth, a ``--frontier`` run
the strongest fifth of the training models (so the prior and the scale are measured on models
that, like the frontier, lie above what their lineage predicts).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

#: The logit-offset prior when too few training models measure it. Fixed by design, not tuned.
OFFSET_PRIOR_SD = 1.0
#: Random K-item draws per inner model and K for the interval scale.
DRAWS = 4


@dataclass
class Calibration:
    """One benchmark's inner-validated k-shot settings: offset prior sd (logits) and, per K, the
    factor on the estimator's interval half-width (None: not measured, keep the interval)."""

    prior_sd: float = OFFSET_PRIOR_SD
    scales: dict[int, float] = field(default_factory=dict)


def inner_split(candidates: Sequence[str], strength: np.ndarray | None, seed: int) -> list[str]:
    """A fifth (>= 10) of ``candidates``: at random, or the strongest by ``strength`` (frontier)."""
    n = max(10, len(candidates) // 5)
    if strength is not None:
        return [candidates[i] for i in np.argsort(-strength, kind="stable")[:n]]
    rng = np.random.default_rng([seed, 7])
    return list(rng.choice(list(candidates), n, replace=False))


def offset_prior_sd(rows: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """RMS of the free (sd 10) logit offsets of ``rows`` = (answers (N,), cold-start proba (N,)),
    floored at 0.05; :data:`OFFSET_PRIOR_SD` with fewer than 5 rows of >= 20 answers."""
    from hub_lineage.model.irt import fit_offset, logit

    deltas = [fit_offset(y, logit(p), 0.0, 10.0)[0] for y, p in rows if len(y) >= 20]
    if len(deltas) < 5:
        return OFFSET_PRIOR_SD
    return float(max(np.sqrt(np.mean(np.square(deltas))), 0.05))


def interval_scales(rows: Sequence[tuple[str, np.ndarray, np.ndarray]], ks: Sequence[int], prior_sd: float,
                    level: float, seed: int, bench: str) -> dict[int, float]:
    """Per K: the split-conformal ``level`` quantile of |estimate - truth| / half-width over
    ``DRAWS`` K-item draws of each inner row (model, answers (N,), cold-start proba (N,)); at K = 0
    one score per row (the draws would be copies, overstating the number of scores).
    K with fewer than 20 scores, or K >= N for every row, is left out."""
    from hub_lineage.predict.partial import lineage_estimate

    out: dict[int, float] = {}
    for k in ks:
        scores = []
        for model, y_all, proba in rows:
            n = len(y_all)
            if k >= n:
                continue
            truth = float(y_all.mean())
            for d in range(DRAWS if k else 1):  # K = 0 draws nothing: one score per model
                rng = np.random.default_rng([seed, d, zlib.crc32(f"inner\0{model}\0{bench}".encode())])
                seen = np.sort(rng.permutation(n)[:k])
                e = lineage_estimate(y_all[seen], seen, proba, level=level, prior_sd=prior_sd)
                half = max(e.high - e.estimate, e.estimate - e.low)
                if half > 1e-9:
                    scores.append(abs(e.estimate - truth) / half)
        if len(scores) >= 20:
            # conformal rank: ceil((n + 1) level) / n, so the held-out coverage is >= level
            q = min(1.0, math.ceil((len(scores) + 1) * level) / len(scores))
            out[k] = float(np.quantile(scores, q, method="higher"))
    return out


__all__ = ["Calibration", "DRAWS", "OFFSET_PRIOR_SD", "inner_split", "interval_scales", "offset_prior_sd"]
