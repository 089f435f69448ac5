"""Score merge recipes before any compute is spent: predict, gate, rank, then (optionally) merge.

A recipe becomes a hypothetical lineage node (:mod:`hub_lineage.lineage.recipes`) that a fitted
:class:`~hub_lineage.predict.predictor.Predictor` folds in closed form (no refit): per-benchmark predicted
accuracy with an interval. Gates (``bbh>=0.45``) are judged on the predicted mean, or with
``strict`` on the interval's pessimistic end (``low`` for ``>``/``>=``, ``high`` for ``<``/``<=``);
a gate on ``mean`` reads the average of the benchmarks' intervals the same way.

Nothing here imports mergekit (it imports torch): running a merge lives in
:mod:`mergekit_hooks.bridge`, the one module that does.
"""

from __future__ import annotations

import math
import operator
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub_lineage.errors import InvalidInputError, NoLineageError
from hub_lineage.lineage.recipes import Recipe, load_recipe

if TYPE_CHECKING:
    from hub_lineage.predict.prediction import Interval, Prediction
    from hub_lineage.predict.predictor import Predictor

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
}
_GATE = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(>=|<=|>|<)\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*$")
MEAN = "mean"


@dataclass(frozen=True)
class Gate:
    """``bench op threshold``: a requirement on a predicted score (accuracy in [0, 1])."""

    bench: str
    op: str
    threshold: float

    def value(self, interval: Interval, strict: bool = False) -> float:
        if not strict:
            return float(interval.mean)
        return float(interval.low if self.op in (">", ">=") else interval.high)

    def check(self, interval: Interval, strict: bool = False) -> bool:
        return _OPS[self.op](self.value(interval, strict), self.threshold)

    def __str__(self) -> str:
        return f"{self.bench}{self.op}{self.threshold:g}"


def parse_gate(text: str, benchmarks: Sequence[str]) -> Gate:
    """Read ``BENCH>=X`` (also ``<=``, ``>``, ``<``; ``mean`` = mean over benchmarks).

    Raises
    ------
    InvalidInputError
        When the text is not a comparison or names a benchmark the predictor does not predict.
    """
    m = _GATE.match(text)
    if not m:
        raise InvalidInputError(f"Gate {text!r} is not of the form BENCH>=X (also <=, >, <), e.g. bbh>=0.45.")
    bench, op, value = m.group(1).lower(), m.group(2), float(m.group(3))
    _check_bench(bench, benchmarks, f"gate {text!r}")
    if not 0.0 <= value <= 1.0:  # bbh>=45 (the leaderboard's 0-100 scale) would fail without a word
        hint = f" (for {value:g}% write {bench}{op}{value / 100:g})" if 1.0 < value <= 100.0 else ""
        raise InvalidInputError(f"Gate {text!r}: scores are accuracies in [0, 1], got {value:g}{hint}.")
    return Gate(bench, op, value)


def _check_bench(bench: str, benchmarks: Sequence[str], what: str) -> None:
    if bench != MEAN and bench not in benchmarks:
        raise InvalidInputError(
            f"Unknown benchmark {bench!r} in {what}: the predictor predicts {', '.join(benchmarks)} (or {MEAN!r})."
        )


@dataclass
class ParentScores:
    """A parent's own scores: observed when it was evaluated, else predicted (and marked so)."""

    model: str
    weight: float
    is_base: bool
    observed: dict[str, float] | None
    predicted: dict[str, Interval] | None = None
    known: bool = True

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "weight": round(self.weight, 6), "observed": self.observed}
        if self.observed is None and self.predicted is not None:
            out["predicted"] = _intervals_json(self.predicted)
        if not self.known:
            out["known"] = False
        return out


@dataclass
class PreflightResult:
    """One recipe's verdict: its prediction, its parents' scores and each gate's outcome."""

    recipe: Recipe
    prediction: Prediction
    parents: list[ParentScores]
    gates: list[tuple[Gate, bool]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(ok for _, ok in self.gates)

    def score(self, bench: str) -> float:
        """The predicted mean of ``bench`` (``mean``: the mean over benchmarks)."""
        return _score(self.prediction.predicted, bench)

    def to_json(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe.path,
            "predicted": _intervals_json(self.prediction.predicted),
            "parents": [p.to_json() for p in self.parents],
            "passed": self.passed,
            "merge_method": self.recipe.method.name,
            "unknown_parents": list(self.prediction.unknown_parents),
            "gates": [{"gate": str(g), "passed": ok} for g, ok in self.gates],
        }


def _score(predicted: Mapping[str, Interval], bench: str) -> float:
    return float(gate_interval(predicted, bench).mean)


def gate_interval(predicted: Mapping[str, Interval], bench: str) -> Interval:
    """The interval a gate on ``bench`` is judged on; for ``mean``, the mean of the benchmarks'
    means, lows and highs (so ``strict`` reads its pessimistic end as for any benchmark)."""
    if bench != MEAN:
        return predicted[bench]
    from hub_lineage.predict.prediction import Interval

    def average(end: str) -> float:
        return sum(float(getattr(i, end)) for i in predicted.values()) / max(len(predicted), 1)

    return Interval(average("mean"), average("low"), average("high"))


def _intervals_json(predicted: Mapping[str, Interval]) -> dict[str, dict[str, float]]:
    return {b: {"mean": round(float(i.mean), 6), "low": round(float(i.low), 6), "high": round(float(i.high), 6)}
            for b, i in predicted.items()}


# -- prediction ----------------------------------------------------------------------------------


def predict_recipe(
    path: str | os.PathLike[str] | Recipe, predictor: Predictor, *, model_ids: Mapping[str, str] | None = None
) -> Prediction:
    """Predict the benchmark scores of the model a mergekit recipe would make (no merge, no refit).

    This is what ``hub-lineage predict --recipe merge.yml`` calls. Parents unknown to the
    predictor widen the interval and are listed in ``Prediction.unknown_parents``.

    Raises
    ------
    NoLineageError
        When no parent of the recipe is known to the predictor (naming the recipe and the parents).
    """
    recipe = path if isinstance(path, Recipe) else load_recipe(path, model_ids=model_ids)
    try:
        return predictor.predict_edges(recipe.name, recipe.edges())
    except NoLineageError:
        names = ", ".join(p.model for p in recipe.parents)
        raise NoLineageError(
            f"{recipe.path}: none of the recipe's parents ({names}) is known to the predictor's lineage "
            "graph or training data, so nothing can be predicted. Ingest results or lineage for at least one "
            "of them and refit (hub-lineage ingest ...; hub-lineage fit)."
        ) from None


def parent_scores(recipe: Recipe, predictor: Predictor) -> list[ParentScores]:
    """Each parent's observed scores, or its prediction when it was never evaluated."""
    out = []
    for p in recipe.parents:
        known = predictor.knows(p.model)
        observed = predictor.observed(p.model) if known else None
        predicted = None
        if known and observed is None:
            predicted = _predict_known(predictor, p.model)
        out.append(ParentScores(p.model, p.weight, p.is_base, observed, predicted, known))
    return out


def _predict_known(predictor: Predictor, model: str) -> dict[str, Interval] | None:
    predict = getattr(predictor, "predict", None)
    if predict is None:
        return None
    try:
        return predict(model, offline=True).predicted
    except NoLineageError:
        return None


def preflight(
    paths: Sequence[str | os.PathLike[str]],
    predictor: Predictor,
    *,
    gates: Sequence[Gate] = (),
    rank_by: str | None = None,
    strict: bool = False,
    model_ids: Mapping[str, str] | None = None,
) -> list[PreflightResult]:
    """Predict, gate and (with ``rank_by``) rank recipes, best first.

    Every recipe is parsed before any is predicted, so bad input fails fast.
    """
    benchmarks = list(predictor.benchmarks)
    for g in gates:
        _check_bench(g.bench, benchmarks, f"gate {str(g)!r}")
    if rank_by is not None:
        _check_bench(rank_by, benchmarks, "--rank-by")
    recipes = [load_recipe(p, model_ids=model_ids) for p in paths]
    results = []
    for recipe in recipes:
        prediction = predict_recipe(recipe, predictor)
        verdicts = [(g, g.check(gate_interval(prediction.predicted, g.bench), strict)) for g in gates]
        results.append(PreflightResult(recipe, prediction, parent_scores(recipe, predictor), verdicts))
    if rank_by is not None:
        results.sort(key=lambda r: -_nan_low(r.score(rank_by)))
    return results


def _nan_low(x: float) -> float:
    return -math.inf if math.isnan(x) else x
