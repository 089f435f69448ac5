"""The ``budget:K`` setting: estimate a held-out model's full-benchmark accuracy from K of its items.

One seed: the eligible models (item answers on the item benchmarks and a scored lineage
relative) are shuffled into folds; a held-out model contributes nothing to the fit (neither its
items nor its aggregate scores). Each fold fits LRMF once (items + aggregates, lineage Laplacian,
co-response item graph) and 1PL + 2PL IRT models once, on training models only; then for each held-out
model and item benchmark a random permutation of its items (per seed) reveals the first K, for
every K asked (nested draws), and each method estimates the full-benchmark accuracy. The lrmf
method's offset prior and interval scales come from an inner split of the fold's training models
(:mod:`hub_lineage.evaluation.budget_inner`).

``frontier``: the held-out models are the strongest fifth (mean accuracy over the item
benchmarks) of the models with item answers, all in one fold; the rest trains.

Metrics per method and K (over held-out model x benchmark): ``mae_all``, ``mae_<bench>``,
``coverage`` and ``interval_width`` of the ``level`` intervals.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.errors import InvalidInputError
from hub_lineage.evaluation import splits
from hub_lineage.evaluation.budget_inner import (
    OFFSET_PRIOR_SD,
    Calibration,
    inner_split,
    interval_scales,
    offset_prior_sd,
)
from hub_lineage.evaluation.budget_methods import (
    IRT_METHODS,
    aipw_offset_estimate,
    irt_estimate,
    lrmf_estimate,
    random_estimate,
)
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.predict.instance import as_mixed, item_columns

BUDGET_METHODS = ("lrmf", "random", "irt", "aipw")
#: Methods ``--methods`` may also name: ``irt1pl`` (the 1PL variant of ``irt``, which is 2PL).
EXTRA_METHODS = ("irt1pl",)


@dataclass
class BudgetTask:
    matrix: ObservationMatrix  # items + aggregates (weighted as one item answer each)
    graph: LineageGraph
    test: list[str]
    benches: list[str]  # benchmarks with item answers
    frontier: bool = False


def prepare_budget(matrix: ObservationMatrix | None, graph: LineageGraph, *, frontier: bool = False) -> BudgetTask:
    """Find the item benchmarks and the held-out candidates."""
    if matrix is None or not item_columns(matrix).any():
        raise InvalidInputError("The budget setting needs instance-level answers (e.g. --data musr_correctness.csv.gz); "
                                "the data holds only aggregates.")
    matrix = as_mixed(matrix)
    item_cols = item_columns(matrix)
    benches = list(dict.fromkeys(b for b, c in zip(matrix.item_benchmarks, item_cols) if c))
    with_items = [m for m, row in zip(matrix.models, ~np.isnan(matrix.values[:, item_cols])) if row.any()]
    scored = [m for m, row in zip(matrix.models, matrix.mask) if row.any()]
    graph = splits.relevant_graph(graph, scored)
    if frontier:
        acc = matrix.select_models(with_items).benchmark_scores()
        cols = [matrix.benchmarks.index(b) for b in benches]
        strength = np.nanmean(acc[:, cols], axis=1)
        order = np.argsort(-strength, kind="stable")
        test = [with_items[i] for i in order[:max(1, len(with_items) // 5)]]
    else:
        eligible = set(splits.eligible_models(scored, graph))
        test = [m for m in with_items if m in eligible]
    if len(test) < (1 if frontier else 2):
        raise InvalidInputError("No model with item answers has a scored lineage relative: nothing to hold out.")
    return BudgetTask(matrix, graph, test, benches, frontier)


def parse_budget(text: str) -> int:
    """``budget:K`` -> K (a whole number >= 0)."""
    _, _, k = text.partition(":")
    try:
        value = int(k)
    except ValueError:
        raise InvalidInputError(f"--setting {text!r}: the budget must be a whole number of items, e.g. budget:50.") from None
    if value < 0:
        raise InvalidInputError(f"--setting {text!r}: the budget must be >= 0 items (0 = cold start).")
    return value


def _lrmf_proba(task: BudgetTask, train: ObservationMatrix, test: Sequence[str], seed: int) -> np.ndarray:
    """Cold-start item probabilities (n_test, n_items) of ``test`` from an LRMF fitted on ``train``
    (the protocol's held-out fit: models without lineage left in training get the item means)."""
    from hub_lineage.evaluation.held_out import method_graph, predict_held_out
    from hub_lineage.model.lrmf import LRMF
    from hub_lineage.predict.fit_params import instance_params
    from hub_lineage.predict.instance import co_response_graph

    params, fit_graph = method_graph(instance_params(seed), task.matrix, task.graph)
    return predict_held_out(LRMF(**params), train, fit_graph, test, co_response_graph(train))


def _inner_calibration(task: BudgetTask, train: ObservationMatrix, seed: int, bench_cols: dict[str, np.ndarray],
                       ks: Sequence[int], level: float) -> dict[str, Calibration]:
    """Per benchmark, the lrmf estimator's offset prior and interval scales per K, measured on an
    inner split of the training models only (one extra fit; :mod:`budget_inner`)."""
    from hub_lineage.evaluation.held_out import training_matrix

    item_rows = ~np.isnan(train.values[:, item_columns(train)]).all(axis=1)
    candidates = [m for m, has in zip(train.models, item_rows) if has and m in task.graph]
    if len(candidates) < 10:
        return {b: Calibration() for b in task.benches}
    strength = None
    if task.frontier:  # mirror the outer split: the strongest fifth of the training models
        acc = train.select_models(candidates).benchmark_scores()
        strength = np.nanmean(acc[:, [train.benchmarks.index(b) for b in task.benches]], axis=1)
    inner = inner_split(candidates, strength, seed)
    proba = _lrmf_proba(task, training_matrix(train, inner), inner, seed)
    out = {}
    for b in task.benches:
        rows = []
        for r, model in enumerate(inner):
            row = train.values[train.model_index[model], bench_cols[b]]
            seen = ~np.isnan(row)
            if seen.sum() >= 20:
                rows.append((model, row[seen].astype(np.float64), proba[r, bench_cols[b][seen]]))
        prior = offset_prior_sd([(y, p) for _, y, p in rows])
        out[b] = Calibration(prior, interval_scales(rows, ks, prior, level, seed, b))
    return out


def _fit_fold(task: BudgetTask, fold: Sequence[str], seed: int, bench_cols: dict[str, np.ndarray],
              ks: Sequence[int], level: float
              ) -> tuple[np.ndarray, np.ndarray, dict[str, Calibration], float, dict[str, Any]]:
    """Cold-start item probabilities of ``fold`` (n_fold, n_items) from LRMF, the lrmf estimator's
    inner calibration per benchmark, and the 1PL fit: item difficulties (n_items,; NaN off the
    item columns) and the abilities' spread; and the IRT item parameters of ``irt`` (2PL) and
    ``irt1pl`` (n_items,)."""
    from hub_lineage.evaluation.held_out import training_matrix
    from hub_lineage.model.irt import fit_1pl, fit_2pl, item_params_1pl

    train = training_matrix(task.matrix, fold)
    proba = _lrmf_proba(task, train, fold, seed)
    prior = _inner_calibration(task, train, seed, bench_cols, ks, level)
    items = np.flatnonzero(item_columns(train))
    block = train.values[:, items]
    answered = ~np.isnan(block).all(axis=1)
    theta, b = fit_1pl(block[answered])
    difficulty = np.full(len(train.items), np.nan)
    difficulty[items] = b
    irt = {"irt": _full(fit_2pl(block[answered])[1], items, len(train.items)),
           "irt1pl": _full(item_params_1pl(block[answered]), items, len(train.items))}
    return proba, difficulty, prior, float(max(theta.std(), 0.3)), irt


def _full(params: Any, items: np.ndarray, n: int) -> Any:
    """Item parameters of the item columns spread over all ``n`` columns (NaN elsewhere)."""
    from hub_lineage.model.irt import ItemParams

    diff, disc = np.full(n, np.nan), np.full(n, np.nan)
    diff[items], disc[items] = params.difficulty, params.discrimination
    return ItemParams(diff, disc, params.theta_sd, params.kind)


def run_budget(task: BudgetTask, ks: Sequence[int], methods: Sequence[str] = BUDGET_METHODS, seeds: int = 1,
               *, level: float = 0.9, n_folds: int = 5, seed_start: int = 0,
               progress: Callable[[str], None] | None = None) -> dict[int, dict[str, list[dict[str, float]]]]:
    """Per K, per method: one metrics dict per seed."""
    for m in methods:
        if m not in BUDGET_METHODS + EXTRA_METHODS:
            raise InvalidInputError(f"Unknown budget method {m!r}: expected one of "
                                    f"{', '.join(BUDGET_METHODS + EXTRA_METHODS)}.")
    out: dict[int, dict[str, list[dict[str, float]]]] = {k: {m: [] for m in methods} for k in ks}
    is_item = item_columns(task.matrix)
    bench_cols = {b: np.flatnonzero((np.asarray(task.matrix.item_benchmarks) == b) & is_item)
                  for b in task.benches}
    for seed in range(seed_start, seed_start + seeds):
        folds = [list(task.test)] if task.frontier else splits.kfold(task.test, n_folds, seed)
        # records[k][method] -> list of (bench, estimate, low, high, actual)
        records: dict[int, dict[str, list[tuple[str, float, float, float, float]]]] = {
            k: {m: [] for m in methods} for k in ks}
        for f, fold in enumerate(folds):
            if progress:
                progress(f"seed {seed} fold {f + 1}/{len(folds)}: fitting on {len(task.matrix.models) - len(fold)} models")
            proba, difficulty, prior, theta_sd, irt = _fit_fold(task, fold, seed, bench_cols, ks, level)
            if progress:
                progress("lrmf inner calibration: " + "; ".join(
                    f"{b} prior sd {c.prior_sd:.3f}, scale " + ", ".join(f"K={k}: {s:.3f}" for k, s in c.scales.items())
                    for b, c in prior.items()))
            for r, model in enumerate(fold):
                row = task.matrix.values[task.matrix.model_index[model]]
                for b in task.benches:
                    cols = bench_cols[b][~np.isnan(row[bench_cols[b]])]
                    if cols.size == 0:
                        continue
                    y_all = row[cols].astype(np.float64)
                    actual = float(y_all.mean())
                    rng = np.random.default_rng([seed, zlib.crc32(f"{model}\0{b}".encode())])
                    order = rng.permutation(cols.size)
                    for k in ks:
                        seen = np.sort(order[:min(k, cols.size)])
                        y = y_all[seen]
                        for m in methods:
                            if m == "random":
                                e = random_estimate(y, cols.size, level)
                            elif m in IRT_METHODS:
                                e = irt_estimate(y, seen, irt[m].take(cols), level)
                            elif m == "aipw":
                                e = aipw_offset_estimate(y, seen, difficulty[cols], theta_sd, level)
                            else:
                                e = lrmf_estimate(y, seen, proba[r, cols], prior[b].prior_sd, level,
                                                  prior[b].scales.get(k))
                            records[k][m].append((b, *e, actual))
        for k in ks:
            for m in methods:
                out[k][m].append(_metrics(records[k][m], task.benches))
    return out


def _metrics(rows: list[tuple[str, float, float, float, float]], benches: Sequence[str]) -> dict[str, float]:
    if not rows:
        return {}
    bench = np.array([r[0] for r in rows])
    est, low, high, actual = (np.array([r[i] for r in rows], dtype=np.float64) for i in range(1, 5))
    if np.isnan(est).all():
        return {}
    err = np.abs(est - actual)
    out = {"mae_all": float(np.nanmean(err))}
    for b in benches:
        sel = bench == b
        if sel.any():
            out[f"mae_{b}"] = float(np.nanmean(err[sel]))
    if not np.isnan(low).all():
        out["coverage"] = float(np.nanmean((low <= actual + 1e-12) & (actual <= high + 1e-12)))
        out["interval_width"] = float(np.nanmean(high - low))
    return out


def evaluate_budget(matrix: ObservationMatrix | None, graph: LineageGraph, setting: str, *,
                    methods: Sequence[str] | None = None, seeds: int = 1, frontier: bool = False,
                    level: float = 0.9, n_folds: int = 5, seed_start: int = 0, limit: int | None = None,
                    progress: Callable[[str], None] | None = None) -> Any:
    """``--setting budget:K``: an :class:`~hub_lineage.evaluation.protocol.EvaluationResult` whose
    per-seed metrics are those of K revealed items per benchmark."""
    from hub_lineage.evaluation.protocol import EvaluationResult

    k = parse_budget(setting)
    if seeds < 1:
        raise InvalidInputError(f"seeds={seeds}: run at least one seed.")
    task = prepare_budget(matrix, graph, frontier=frontier)
    if limit is not None:
        task.test = task.test[:limit]
    per_k = run_budget(task, [k], list(methods or BUDGET_METHODS), seeds, level=level, n_folds=n_folds,
                       seed_start=seed_start, progress=progress)
    name = f"budget:{k}" + (" frontier" if frontier else "")
    return EvaluationResult(name, seeds, per_k[k], len(task.test))


def describe_methods(methods: Sequence[str] | None = None) -> dict[str, str]:
    """What each budget method of a run is (``evaluate --json``'s ``methods`` block), e.g. that ``irt`` is 2PL."""
    text = {"lrmf": "lineage item probabilities + per-model logit offset on the K items (AIPW interval)",
            "random": "sample mean of the K items, Wilson interval (finite-population corrected)",
            "aipw": "AIPW with a 1PL difficulty + per-model offset control variate (no lineage)", **IRT_METHODS}
    return {m: text[m] for m in (methods or BUDGET_METHODS) if m in text}


def lineage_worth(table: dict[int, dict[str, dict[str, Any]]]) -> float | None:
    """The K at which ``random`` matches ``lrmf`` at K=0 (linear between measured Ks; None if never)."""
    target = table.get(0, {}).get("lrmf", {}).get("mae_all")
    points = sorted((k, v["random"]["mae_all"]) for k, v in table.items()
                    if k > 0 and "random" in v and v["random"].get("mae_all") is not None)
    if target is None or not points:
        return None
    prev = None
    for k, mae in points:
        if mae <= target:
            if prev is None:
                return float(k)
            (k0, m0) = prev
            return float(k0 + (k - k0) * (m0 - target) / (m0 - mae)) if m0 != mae else float(k)
        prev = (k, mae)
    return None


__all__ = ["BUDGET_METHODS", "EXTRA_METHODS", "OFFSET_PRIOR_SD", "BudgetTask", "describe_methods", "evaluate_budget",
           "lineage_worth", "parse_budget",
           "prepare_budget", "run_budget"]
