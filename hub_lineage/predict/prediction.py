"""What a prediction returns: predicted scores with intervals, the relatives that drove them.

Plain dataclasses (no I/O) shared by the CLI's table and JSON output, model-card sections and the
mergekit gate; :meth:`Prediction.to_json` is the ``--json`` contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Interval:
    """Predicted accuracy with its interval (all in [0, 1])."""

    mean: float
    low: float
    high: float


@dataclass
class Driver:
    """A scored relative that pulled on the prediction.

    ``relation`` is how the next model on the path was made from ``model`` (``finetune``, ``merge``,
    ``adapter``, ``quantized``) for an ancestor, else ``descendant`` / ``relative``; ``hops`` its
    lineage distance; ``influence`` its share of the fold-in (shares sum to 1 over all relatives).
    """

    model: str
    relation: str
    hops: int
    influence: float
    scores: dict[str, float] | None = None


@dataclass
class Prediction:
    """Predicted scores of one model, with their intervals, drivers and (when known) actual scores."""

    model: str
    predicted: dict[str, Interval]
    actual: dict[str, float] | None
    drivers: list[Driver]
    unknown_parents: list[str] = field(default_factory=list)
    coverage: float = 0.9

    def to_json(self) -> dict[str, Any]:
        """``{"model", "predicted": {BENCH: {"mean","low","high"}}, "observed": {BENCH: x} | None, "drivers": [...]}``.

        A measured score is ``observed`` in every command's JSON (docs/json.md); ``actual`` and a
        driver's ``scores`` are deprecated aliases holding the same value, removed in 0.3.0.
        """
        observed = None if self.actual is None else {b: _r(v) for b, v in self.actual.items()}
        return {
            "model": self.model,
            "predicted": {b: {"mean": _r(i.mean), "low": _r(i.low), "high": _r(i.high)}
                          for b, i in self.predicted.items()},
            "observed": observed,
            "actual": observed,  # deprecated alias of "observed" (removed in 0.3.0)
            "drivers": [{"model": d.model, "relation": d.relation, "hops": d.hops,
                         "influence": _r(d.influence), "observed": d.scores,
                         "scores": d.scores} for d in self.drivers],  # "scores": deprecated alias
            "unknown_parents": list(self.unknown_parents),
            "coverage": self.coverage,
        }


def _r(x: float) -> float:
    return round(float(x), 4)


__all__ = ["Driver", "Interval", "Prediction"]
