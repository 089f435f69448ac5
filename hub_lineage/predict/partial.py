"""Full-benchmark estimates from a model's own partial evaluation (a few stored item answers).

With ``n`` of a benchmark's ``N`` items evaluated (drawn at random, without replacement):

- when the predictor knows the benchmark's item set, the lineage prediction's item probabilities
  ``p_i`` are a control variate (prediction-powered / AIPW):
  ``estimate = mean_N(p) + mean_n(y - p)``; unbiased under the random draw whatever ``p`` is, and
  tighter the better ``p`` predicts ``y``. Interval: Student t on the residuals ``y - p`` with the
  finite-population correction ``1 - n/N``;
- otherwise the sample mean, with an exact (Clopper-Pearson) binomial interval;
- a complete benchmark (``n == N``) is its own mean, a zero-width interval.

The store's task names index item-level samples: ``benchmark`` is an lm-eval task name
(``leaderboard_musr_team_allocation``, ``arc_easy``) or a benchmark key (``musr``: every task of
the benchmark). A model's answers must come from one item set per benchmark: the leaderboard's
task family (``leaderboard_musr_*``) and a long CSV's ``musr`` are two different ones.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hub_lineage.benchmarks import BY_KEY
from hub_lineage.errors import InvalidInputError
from hub_lineage.predict.instance import item_set_of

if TYPE_CHECKING:
    from hub_lineage.data.store.database import Store
    from hub_lineage.predict.predictor import Predictor

METHOD_COMPLETE = "complete (all items evaluated)"
METHOD_SAMPLE = "sample mean, exact binomial (Clopper-Pearson) interval"
METHOD_LINEAGE = "lineage prediction only (no item evaluated)"
METHOD_AIPW = ("lineage + per-model offset fitted on the evaluated items; interval: AIPW with the lineage "
               "item probabilities as control variate (t, finite-population corrected)")
#: Appended to the method when the interval's half-width was rescaled (``lineage_estimate(scale=)``).
SCALED = "; half-width scaled by {scale:.3g} (split-conformal, calibrated on training models)"


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
        return {"estimate": round(self.estimate, 4), "low": round(self.low, 4), "high": round(self.high, 4),
                "evaluated": int(self.evaluated), "items": int(self.items), "method": self.method}


def exact_binomial_interval(successes: int, n: int, level: float = 0.9) -> tuple[float, float]:
    """Clopper-Pearson interval for a binomial proportion (``successes`` of ``n``) at ``level``."""
    if not 0 < level < 1:
        raise InvalidInputError(f"level={level!r}: an interval's level must lie in (0, 1).")
    if n < 1 or not 0 <= successes <= n:
        raise InvalidInputError(f"{successes} successes of {n} trials: need n >= 1 and 0 <= successes <= n.")
    alpha = 1.0 - level
    low = 0.0 if successes == 0 else _beta_quantile(alpha / 2, successes, n - successes + 1)
    high = 1.0 if successes == n else _beta_quantile(1 - alpha / 2, successes + 1, n - successes)
    return low, high


# Pure-python special functions: scipy.special alone costs ~0.5 s of imports on the predict path.

def normal_quantile(q: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(q)


def t_quantile(q: float, df: int) -> float:
    """Student t quantile (Cornish-Fisher expansion around the normal; < 1% off for df >= 3)."""
    z = normal_quantile(q)
    g1 = (z ** 3 + z) / 4
    g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96
    g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384
    g4 = (79 * z ** 9 + 776 * z ** 7 + 1482 * z ** 5 - 1920 * z ** 3 - 945 * z) / 92160
    return z + g1 / df + g2 / df ** 2 + g3 / df ** 3 + g4 / df ** 4


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) (continued fraction, modified Lentz)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _betainc(b, a, 1.0 - x)
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    f = d
    for m in range(1, 500):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            f *= c * d
        if abs(c * d - 1.0) < 1e-14:
            break
    return math.exp(log_front) * f / a


def _beta_quantile(q: float, a: float, b: float) -> float:
    lo, hi = 0.0, 1.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if _betainc(a, b, mid) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13:
            break
    return (lo + hi) / 2


@dataclass(frozen=True)
class ItemAnswers:
    """One model's answers on one benchmark: item keys (``task/doc_hash``) and 0/1 values."""

    keys: list[str]
    values: np.ndarray
    item_set: str
    stored_items: int  # instances of that item set the store knows (any model)


def stored_answers(store: Store, model_id: str, benchmark: str) -> ItemAnswers | None:
    """The model's newest answer per item of ``benchmark`` (a task name or benchmark key).

    Warns (one line) when an item was answered more than once, saying the newest was kept; raises
    :class:`InvalidInputError` when the answers span two item sets of one benchmark.
    """
    db = store.db
    row = db.execute("SELECT id FROM models WHERE name = ?", (model_id,)).fetchone()
    if row is None:
        return None
    instances = {i: (t, h) for i, t, h in db.execute(
        "SELECT id, task, doc_hash FROM instances WHERE task = ? OR benchmark = ?", (benchmark, benchmark))}
    if not instances:
        return None
    cells: dict[int, float] = {}
    repeats = 0
    for blob, vals in db.execute(
            'SELECT s.ids, o."values" FROM observations o JOIN runs r ON r.id = o.run_id '
            "JOIN instance_sets s ON s.id = o.instance_set WHERE o.model_id = ? ORDER BY r.run_time, r.id",
            (row[0],)):
        ids = np.frombuffer(blob, dtype=np.int32)
        values = np.frombuffer(vals, dtype=np.float32)
        for i, v in zip(ids.tolist(), values.tolist()):
            if i in instances and not math.isnan(v):
                repeats += i in cells
                cells[i] = v  # oldest first: the newest run's answer wins
    if not cells:
        return None
    sets = sorted({item_set_of(instances[i][0]) for i in cells})
    if len(sets) > 1:
        raise InvalidInputError(
            f"{model_id!r} has answers on {benchmark!r} from {len(sets)} different item sets ({', '.join(sets)}): "
            f"one estimate needs one item set; pass one task name instead of {benchmark!r}.")
    if repeats:
        warnings.warn(f"{repeats} item(s) of {model_id!r} on {benchmark!r} were answered more than once; "
                      "kept the newest run's answer of each.", UserWarning, stacklevel=2)
    ids = sorted(cells)
    stored = sum(1 for t, _ in instances.values() if item_set_of(t) == sets[0])
    return ItemAnswers([f"{instances[i][0]}/{instances[i][1]}" for i in ids],
                       np.array([cells[i] for i in ids], dtype=np.float64), sets[0], stored)


def total_items(benchmark: str, answers: ItemAnswers, items: int | None) -> int:
    """N: the caller's count, else the leaderboard's size for a whole leaderboard benchmark, else
    what the store knows of the item set."""
    if items is not None:
        if items < len(answers.keys):
            raise InvalidInputError(f"items={items} but {len(answers.keys)} items of {benchmark!r} are stored: "
                                    "the task cannot have fewer items than were evaluated.")
        return int(items)
    if benchmark in BY_KEY and answers.item_set == BY_KEY[benchmark].task_prefix:
        return BY_KEY[benchmark].n_instances
    return max(answers.stored_items, len(answers.keys))


def sample_estimate(values: np.ndarray, n_items: int, level: float = 0.9, *, why: str | None = None) -> Estimate:
    """Sample mean with a Clopper-Pearson interval (fractional answers are rounded into counts);
    ``why`` (no lineage prediction was used) is appended to the method."""
    n = len(values)
    mean = float(values.mean())
    if n >= n_items:
        return Estimate(mean, mean, mean, n, n_items, METHOD_COMPLETE)
    low, high = exact_binomial_interval(int(round(values.sum())), n, level)
    method = f"{METHOD_SAMPLE}: {why}" if why else METHOD_SAMPLE
    return Estimate(mean, min(low, mean), max(high, mean), n, n_items, method)


def aipw_estimate(values: np.ndarray, proba_seen: np.ndarray, proba_all: np.ndarray, level: float = 0.9,
                  n_items: int | None = None) -> Estimate:
    """Prediction-powered estimate: ``mean(proba_all) + mean(values - proba_seen)``.

    ``values``/``proba_seen``: shape (n,), the evaluated items; ``proba_all``: shape (N,), every
    item of the benchmark (the evaluated ones included). Interval: t on the residuals, finite-
    population corrected; with fewer than two evaluated items, the exact binomial interval.
    """
    n, big_n = len(values), int(n_items if n_items is not None else len(proba_all))
    if n >= big_n:
        mean = float(values.mean())
        return Estimate(mean, mean, mean, n, big_n, METHOD_COMPLETE)
    resid = values - proba_seen
    est = float(np.clip(proba_all.mean() + resid.mean(), 0.0, 1.0))
    if n < 2:
        low, high = exact_binomial_interval(int(round(values.sum())), max(n, 1), level) if n else (0.0, 1.0)
        return Estimate(est, min(low, est), max(high, est), n, big_n, METHOD_AIPW)
    # a residual sd of 0 on a handful of items says little: floor it at one item's worth of spread
    sd = max(float(resid.std(ddof=1)), 0.5 / math.sqrt(n))
    half = t_quantile(0.5 + level / 2, n - 1) * sd / math.sqrt(n) * math.sqrt(max(0.0, 1 - n / big_n))
    return Estimate(est, max(0.0, est - half), min(1.0, est + half), n, big_n, METHOD_AIPW)


def lineage_estimate(values: np.ndarray, seen: np.ndarray, proba: np.ndarray, *, level: float = 0.9,
                     prior_sd: float = 1.0, scale: float | None = None) -> Estimate:
    """Full-benchmark estimate from the lineage item probabilities ``proba`` (shape (N,)) and the
    answers ``values`` on the evaluated items ``seen`` (positions in ``proba``).

    The k-shot update is a per-model logit offset, MAP-fitted on the evaluated items with a
    N(0, ``prior_sd``) prior, so a handful of items moves the prediction a little and many items
    move it fully. Estimate: the evaluated answers plus the updated probabilities of the rest
    (more items never raise its expected error: tested on planted data). Interval: the AIPW
    t interval (finite-population corrected; the updated probabilities as control variate),
    widened to contain the estimate when needed. ``scale``: the interval becomes the estimate
    +- ``scale`` x its largest half-width (a factor calibrated on training models, e.g.
    :func:`hub_lineage.evaluation.budget_inner.interval_scales`); the method says so.
    """
    e = _lineage_estimate(values, seen, proba, level, prior_sd)
    if scale is None or e.method == METHOD_COMPLETE:
        return e
    half = scale * max(e.high - e.estimate, e.estimate - e.low)
    return Estimate(e.estimate, max(0.0, e.estimate - half), min(1.0, e.estimate + half), e.evaluated, e.items,
                    e.method + SCALED.format(scale=scale))


def _lineage_estimate(values: np.ndarray, seen: np.ndarray, proba: np.ndarray, level: float, prior_sd: float
                      ) -> Estimate:
    from hub_lineage.model.irt import fit_offset, logit, sigmoid

    n_items = len(proba)
    base = logit(proba)
    delta, se = fit_offset(values, base[seen], 0.0, prior_sd)
    p = sigmoid(base + delta)
    unseen = np.ones(n_items, dtype=bool)
    unseen[seen] = False
    est = (float(np.sum(values)) + float(p[unseen].sum())) / n_items
    if len(values) >= n_items:
        return Estimate(est, est, est, len(values), n_items, METHOD_COMPLETE)
    if len(values) < 2:
        # no residual spread to measure: the offset's prior and the unseen items' own noise
        slope = float((p[unseen] * (1 - p[unseen])).sum()) / n_items
        sd = math.sqrt((slope * se) ** 2 + float((p[unseen] * (1 - p[unseen])).sum()) / n_items ** 2)
        half = normal_quantile(0.5 + level / 2) * sd
        method = METHOD_LINEAGE if len(values) == 0 else METHOD_AIPW
        return Estimate(est, max(0.0, est - half), min(1.0, est + half), len(values), n_items, method)
    out = aipw_estimate(values, p[seen], p, level)
    return Estimate(est, min(out.low, est), max(out.high, est), out.evaluated, out.items, METHOD_AIPW)


def offset_prior_sd(predictor: Predictor, benchmark: str, proba: np.ndarray) -> float:
    """The k-shot offset's prior sd (logits) from the predictor's calibrated cold-start interval:
    its half-width ``q`` at 90% is ~1.645 sd of the benchmark-level error, and a logit offset
    ``d`` moves the benchmark mean by ~``d * mean(p (1 - p))``."""
    from hub_lineage.benchmarks import benchmark_of_task

    key = benchmark_of_task(benchmark)
    if key not in predictor.benchmarks:
        return 1.0
    q = float(predictor.intervals.quantiles_[predictor.benchmarks.index(key)])
    z = normal_quantile(0.5 + float(predictor.intervals.coverage) / 2)
    slope = float(np.mean(proba * (1 - proba)))
    if not math.isfinite(q) or slope <= 0:
        return 1.0
    return float(min(max(q / z / slope, 0.05), 3.0))


def estimate_from_items(store: Store, model_id: str, benchmark: str, *, predictor: Predictor | None = None,
                        level: float = 0.9, items: int | None = None) -> Estimate:
    """Estimate ``model_id``'s full-``benchmark`` accuracy from its stored item answers.

    ``predictor``: when it knows the benchmark's item set (an instance-level fit), its lineage
    item probabilities (the model's own answers left out) are the AIPW control variate. ``items``:
    the task's total number of docs when the caller knows it and the store may not (a budgeted
    lm-eval run stores only the drawn docs).
    """
    answers = stored_answers(store, model_id, benchmark)
    if answers is None:
        raise InvalidInputError(f"The store holds no item answers of {model_id!r} on {benchmark!r}: "
                                "nothing to estimate from (ingest its lm-eval samples first).")
    n_items = total_items(benchmark, answers, items)
    why = "no fitted predictor to combine them with (hub-lineage fit)"
    if predictor is not None and len(answers.keys) < n_items:
        from hub_lineage.predict.instance import lineage_item_proba

        known = lineage_item_proba(predictor, model_id, answers.item_set, benchmark)
        why = "the predictor knows no other model's answers to this task"
        if known is not None:
            keys, proba = known
            pos = {k: j for j, k in enumerate(keys)}
            seen = [j for j, k in enumerate(answers.keys) if k in pos]
            if len(seen) == len(answers.keys) and len(keys) >= n_items:
                seen_pos = np.array([pos[k] for k in answers.keys], dtype=int)
                return lineage_estimate(answers.values, seen_pos, proba, level=level,
                                        prior_sd=offset_prior_sd(predictor, benchmark, proba))
            why = "the predictor was fitted without some of the evaluated items"
    return sample_estimate(answers.values, n_items, level, why=why)


def model_benchmarks(store: Store, model_id: str) -> list[str]:
    """Benchmarks (keys) on which the store holds item answers of ``model_id``."""
    tasks = [t for (t,) in store.db.execute(
        "SELECT DISTINCT r.task FROM runs r JOIN models m ON m.id = r.model_id "
        "WHERE m.name = ? AND r.task IS NOT NULL", (model_id,))]
    from hub_lineage.benchmarks import benchmark_of_task

    return list(dict.fromkeys(benchmark_of_task(t) for t in tasks))


def own_estimates(store_path: str | None, predictor: Predictor | None, model_id: str,
                  level: float = 0.9) -> dict[str, Estimate]:
    """``{benchmark: Estimate}`` for every benchmark on which the store holds ``model_id``'s item
    answers (``{}`` without a store file). A benchmark whose answers cannot be combined (two item
    sets) is skipped with a one-line warning saying so."""
    from pathlib import Path

    from hub_lineage import paths
    from hub_lineage.predict.loading import holds_item_runs

    path = Path(store_path) if store_path else paths.default_store_path()
    if not path.is_file() or holds_item_runs(path, model_id) is False:
        return {}
    from hub_lineage.data.store.database import Store

    out: dict[str, Estimate] = {}
    with Store(path) as store:
        for bench in model_benchmarks(store, model_id):
            try:
                out[bench] = estimate_from_items(store, model_id, bench, predictor=predictor, level=level)
            except InvalidInputError as exc:
                warnings.warn(f"{bench} skipped: {exc}", UserWarning, stacklevel=2)
    return out


__all__: Sequence[str] = ["own_estimates", "Estimate", "aipw_estimate", "offset_prior_sd", "estimate_from_items", "exact_binomial_interval",
                          "item_set_of", "lineage_estimate", "model_benchmarks", "sample_estimate", "stored_answers"]
