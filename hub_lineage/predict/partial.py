"""A model's full-benchmark score from the items of it that were evaluated.

Interface shared with the lineage (AIPW) estimator; this version implements only the fallback:
the sample mean of the model's stored answers with an exact (Clopper-Pearson) binomial interval,
valid in finite samples when the items were drawn at random (without replacement the binomial
interval is conservative).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hub_lineage.errors import InvalidInputError, NoLineageError

if TYPE_CHECKING:
    from hub_lineage.data.store.database import Store


@dataclass(frozen=True)
class Estimate:
    """A full-benchmark accuracy estimate from ``evaluated`` of ``items`` items, with its interval."""

    estimate: float
    low: float
    high: float
    evaluated: int
    items: int
    method: str

    def as_json(self) -> dict[str, Any]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high,
                "evaluated": self.evaluated, "items": self.items, "method": self.method}


def exact_binomial_interval(successes: int, n: int, level: float = 0.9) -> tuple[float, float]:
    """Clopper-Pearson interval of a binomial proportion: two-sided, coverage >= ``level``."""
    if n <= 0 or not 0 <= successes <= n:
        raise InvalidInputError(f"exact_binomial_interval({successes}, {n}): need 0 <= successes <= n and n >= 1.")
    if not 0 < level < 1:
        raise InvalidInputError(f"level {level}: give a coverage level in (0, 1).")
    from scipy.stats import beta

    alpha = 1.0 - level
    low = 0.0 if successes == 0 else float(beta.ppf(alpha / 2, successes, n - successes + 1))
    high = 1.0 if successes == n else float(beta.ppf(1 - alpha / 2, successes + 1, n - successes))
    return low, high


def estimate_from_items(store: Store, model_id: str, benchmark: str, *, predictor: Any = None,
                        level: float = 0.9, items: int | None = None) -> Estimate:
    """Estimate ``model_id``'s accuracy on all of ``benchmark`` from its answers in ``store``.

    ``benchmark`` is the store's benchmark key or lm-eval task name of the answers; ``items`` is
    the benchmark's size (default: the instances the store knows for it). This version always
    takes the sample mean with an exact binomial interval and says why in ``method``.

    Raises
    ------
    NoLineageError
        When the store holds no answer of ``model_id`` for ``benchmark``.
    """
    matrix = store.to_matrix("instance", benchmarks=[benchmark], models=[model_id])
    row = matrix.values[matrix.model_index[model_id]] if model_id in matrix.model_index else np.empty(0)
    answers = row[~np.isnan(row)].astype(float)
    n = int(answers.size)
    if n == 0:
        raise NoLineageError(f"The store holds no answers of {model_id!r} for {benchmark!r}: evaluate some first.")
    total = len(matrix.items) if items is None else int(items)
    if total < n:
        raise InvalidInputError(f"items={total} for {benchmark!r}: the store already holds {n} answers of "
                                f"{model_id!r} there; give the benchmark's full size.")
    mean = float(answers.mean())
    if n == total:
        return Estimate(mean, mean, mean, n, total, "complete: every item was evaluated")
    # fractional cells (non-binary metrics kept as fractions) count as their rounded sum of successes
    low, high = exact_binomial_interval(int(round(answers.sum())), n, level)
    low, high = min(low, mean), max(high, mean)
    if not _others_answered(store, model_id, benchmark):
        reason = "the store knows no other model's answers to this task"
    elif predictor is None:
        reason = "no fitted predictor"
    else:
        reason = "the lineage estimator is not part of this build"
    return Estimate(mean, low, high, n, total, f"sample-mean (exact binomial): {reason}")


def _others_answered(store: Store, model_id: str, benchmark: str) -> bool:
    """Whether any other model has stored answers for ``benchmark``."""
    return any(m != model_id for m in store.to_matrix("instance", benchmarks=[benchmark]).models)
