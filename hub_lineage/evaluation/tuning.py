"""Each method's fixed parameters, its tuning grid per setting, and the search that picks a point.

The grids are searched on the training models of each outer fold only (the test fold is in
neither the fit nor the validation): an inner cross-validation over them scores every grid point,
and the winner's held-out residuals calibrate the conformal intervals. The fixed parameters were
chosen once from the method's design, not from tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hub_lineage.evaluation import metrics, splits
from hub_lineage.evaluation.held_out import (
    cross_validated_predictions,
    method_graph,
    predict_held_out,
    seeded_estimator,
    training_matrix,
)
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.model.registry import get_method
from hub_lineage.predict.intervals import ConformalIntervals

if TYPE_CHECKING:
    from hub_lineage.evaluation.protocol import ProtocolOptions, Task

# LRMF's loss is a mean over instances while the L2 and Laplacian terms are sums over nodes, so
# useful weights are small (reg ~ 1e-4); aggregate data has 6 items, so few factors suffice.
_LRMF_AGGREGATE = {"n_factors": 8, "reg": 1e-4, "biases": True, "chance": "items", "max_iter": 30, "tol": 1e-4}

_LRMF_INSTANCE = {"n_factors": 8, "reg": 1e-4, "biases": True, "lambda_lineage": 1e-3, "max_iter": 30, "tol": 1e-4}

#: Per-setting fixed parameters and tuning grids. The grids are searched on the training models of
#: each fold only; the fixed parameters were chosen once from the method's design, not from tests.
# Side-information nodes (hub_lineage.lineage.side_info) in LRMF's model graph: one node per (architecture,
# size bucket), per model type and per chat-template flag. Weights chosen on validation splits of
# training models only (docs/results.md lists every variant tried).
_SIDE_HETEROGENEOUS = {"arch_size": 0.03, "type": 0.01, "chat_template": 0.01}
_SIDE_HOMOGENEOUS = {"type": 0.2, "chat_template": 0.2}

SETTING_PARAMS: dict[str, dict[str, dict[str, Any]]] = {
    "heterogeneous": {"lrmf": {**_LRMF_AGGREGATE, "side": _SIDE_HETEROGENEOUS}, "mf": {**_LRMF_AGGREGATE},
                      "mla": {"fallback": "mean"}},
    "homogeneous": {"lrmf": {**_LRMF_AGGREGATE}, "mf": {**_LRMF_AGGREGATE}, "mla": {"fallback": "mean"}},
    "instance": {"lrmf": {**_LRMF_INSTANCE}, "mf": {**_LRMF_INSTANCE}, "mla": {"fallback": "mean"},
                 "parent": {"fallback": "mean"}, "ncf": {"epochs": 3, "batch_size": 4096}},
}
#: Inner folds for tuning and calibration: 1 = a single validation split (large settings).
SETTING_INNER = {"heterogeneous": 1, "homogeneous": 3}
SETTING_GRIDS: dict[str, dict[str, tuple[dict[str, Any], ...]]] = {
    # lineage weight, and the weight of the leaderboard's root edges ("Base Model" = family root)
    "heterogeneous": {"lrmf": tuple({"lambda_lineage": lam, "relation_weights": {"root": root}}
                                    for lam, root in ((0.1, 0.5), (0.1, 1.0), (0.1, 2.0), (0.3, 1.0)))},
    "homogeneous": {"lrmf": tuple({"lambda_lineage": lam, "relation_weights": {"root": root}, "side": side}
                                  for side in ({}, _SIDE_HOMOGENEOUS)
                                  for lam in (1e-3, 1e-2, 1e-1) for root in (0.5, 1.0))},
    # how strongly every factor is pulled to the population mean (splits.with_population; 0 = off)
    "instance": {"lrmf": ({"relation_weights": {"merge": 0.0}}, {"relation_weights": {"merge": 0.3}},
                          {"relation_weights": {"merge": 1.0}})},
}


def tune_and_calibrate(method: str, task: Task, graph: LineageGraph, test: Sequence[str],
                       seed: int, opts: ProtocolOptions) -> tuple[dict[str, Any], ConformalIntervals | None]:
    """Pick the grid point with the best inner-CV pearson_all; calibrate intervals on its residuals.

    Returns the chosen parameters (``"side"`` included, see :func:`method_graph`) and the
    intervals (None without ``opts.coverage`` or with fewer than 10 training models to validate on).
    """
    base = {**SETTING_PARAMS.get(task.setting.kind, {}).get(method, {}), **opts.params.get(method, {})}
    grid = SETTING_GRIDS.get(task.setting.kind, {}).get(method, get_method(method).grid)
    grid = grid if opts.tune and method not in opts.params else ({},)
    need_cv = len(grid) > 1 or opts.coverage is not None
    train = training_matrix(task.matrix, test)
    inner = splits.eligible_models(train.models, graph)
    n_inner = opts.n_inner or SETTING_INNER.get(task.setting.kind, 3)
    if not need_cv or len(inner) < 10:
        return {**base, **grid[0]}, None
    if n_inner == 1:  # one validation split (a fifth of the training models): 1 fit per grid point
        inner = splits.kfold(inner, 5, seed + 1)[0]
    actual = train.select_models(inner).benchmark_scores()
    best: tuple[float, dict[str, Any], np.ndarray] | None = None
    for point in grid:
        params = {**base, **point}
        fit_params, fit_graph = method_graph(params, task.matrix, graph)
        estimator = seeded_estimator(method, fit_params, seed)
        if n_inner == 1:
            pred = train.benchmark_scores(predict_held_out(estimator, train, fit_graph, inner, task.instance_graph))
        else:
            pred = cross_validated_predictions(estimator, train, fit_graph, inner, n_inner, seed + 1,
                                               task.instance_graph)
        score = metrics.score_table(pred, actual, train.benchmarks)["pearson_all"]
        score = -np.inf if np.isnan(score) else score
        if best is None or score > best[0]:
            best = (score, params, pred)
    assert best is not None
    intervals = None
    if opts.coverage is not None:
        intervals = ConformalIntervals(opts.coverage).fit(best[2], actual)
    return best[1], intervals


def tune_instance(method: str, task: Task, held_out: str, seed: int, opts: ProtocolOptions) -> dict[str, Any]:
    """Grid point with the best mean AUC on the OTHER fine-tunes, held out together from a fit that
    also lacks ``held_out`` (the test model is in neither the fit nor the validation)."""
    base = {**SETTING_PARAMS["instance"].get(method, {}), **opts.params.get(method, {})}
    grid = SETTING_GRIDS["instance"].get(method, ({},))
    others = [m for m in task.eligible if m != held_out]
    if not opts.tune or method in opts.params or len(grid) < 2 or not others:
        return {**base, **grid[0]}
    train = training_matrix(task.matrix, [held_out])
    actual = train.select_models(others).values
    best: tuple[float, dict[str, Any]] | None = None
    for point in grid:
        params = {**base, **point}
        pred = predict_held_out(seeded_estimator(method, params, seed), train, task.graph, others,
                                task.instance_graph)
        score = float(np.nanmean([metrics.auc(p, a) for p, a in zip(pred, actual)]))
        if best is None or score > best[0]:
            best = (score, params)
    assert best is not None
    return best[1]
