"""Each method's fixed parameters, its tuning grid per setting, and the search that picks a point.

The grids are searched on the training models of each outer fold only (the test fold is in
neither the fit nor the validation): an inner cross-validation over them scores every grid point,
and the winner's held-out residuals calibrate the conformal intervals. The fixed parameters were
chosen once from the method's design, not from tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.evaluation import metrics, splits
from hub_lineage.evaluation.held_out import (
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

# lambda_instance: the item graph's weight when the grid picks one (item_graph; the product's value)
_LRMF_INSTANCE = {"n_factors": 8, "reg": 1e-4, "biases": True, "lambda_lineage": 1e-3, "max_iter": 30, "tol": 1e-4,
                  "lambda_instance": 1e-3}

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


@dataclass
class Selection:
    """What the inner search found: the winning parameters and its validation evidence.

    ``pred``/``actual`` (n_validation, n_benchmarks) are the winner's held-out predictions of the
    validation models ``models`` (each predicted by a fit without it), ``scores`` their
    :func:`metrics.score_table`; ``scored_without[k]`` is the set of training models whose scores
    the fit predicting ``models[k]`` saw (what adaptive intervals read a model's relatives from).
    """

    params: dict[str, Any]
    scores: dict[str, float] = field(default_factory=dict)
    pred: np.ndarray | None = None
    actual: np.ndarray | None = None
    models: list[str] = field(default_factory=list)
    held_out_of: list[int] = field(default_factory=list)
    folds: list[list[str]] = field(default_factory=list)


@dataclass
class Search:
    """An inner search's plan: the candidate parameters and the validation folds of the training models.

    Each candidate is scored on its own (:func:`score_point`, an independent unit of a parallel
    evaluation) and :func:`pick` chooses among the scores; :func:`select_params` does both here.
    """

    points: list[dict[str, Any]]
    train: ObservationMatrix
    folds: list[list[str]]


def plan_search(method: str, kind: str, matrix: ObservationMatrix, graph: LineageGraph,
                test: Sequence[str], seed: int, *, tune: bool = True, validate: bool = True,
                fixed: dict[str, Any] | None = None, n_inner: int | None = None) -> Search | Selection:
    """The candidates and validation folds of :func:`select_params`, or the :class:`Selection`
    itself when nothing is fitted to choose (one point not validated, or under 10 eligible training models)."""
    fixed = dict(fixed or {})
    base = {**SETTING_PARAMS.get(kind, {}).get(method, {}), **fixed}
    grid = SETTING_GRIDS.get(kind, {}).get(method, get_method(method).grid) if tune else ({},)
    points: list[dict[str, Any]] = []
    for point in grid:  # explicit parameters win over the grid's; drop the duplicates they make
        merged = {**base, **point, **fixed}
        if merged not in points:
            points.append(merged)
    train = training_matrix(matrix, test)
    inner = splits.eligible_models(train.models, graph)
    n_inner = n_inner or SETTING_INNER.get(kind, 3)
    if (len(points) < 2 and not validate) or len(inner) < 10:
        return Selection(points[0])
    folds = splits.kfold(inner, 5, seed + 1)[:1] if n_inner == 1 else splits.kfold(inner, min(n_inner, len(inner)), seed + 1)
    return Search(points, train, folds)


def score_point(method: str, params: dict[str, Any], search: Search, matrix: ObservationMatrix,
                graph: LineageGraph, seed: int, instance_graph: Any = None) -> np.ndarray:
    """One candidate's validation predictions (n_validation, n_benchmarks): each validation fold
    predicted by a fit without it, on the training models only."""
    fit_params, fit_graph = method_graph(params, matrix, graph)
    estimator = seeded_estimator(method, fit_params, seed)
    return np.vstack([search.train.benchmark_scores(predict_held_out(estimator, search.train, fit_graph, fold,
                                                                     instance_graph))
                      for fold in search.folds])


def pick(search: Search, preds: Sequence[np.ndarray]) -> Selection:
    """The candidate with the best validation pearson_all (the first of equals) and its evidence."""
    models = [m for fold in search.folds for m in fold]
    held_out_of = [k for k, fold in enumerate(search.folds) for _ in fold]
    actual = search.train.select_models(models).benchmark_scores()
    best: Selection | None = None
    for params, pred in zip(search.points, preds, strict=True):
        scores = metrics.score_table(pred, actual, search.train.benchmarks)
        score = -np.inf if np.isnan(scores["pearson_all"]) else scores["pearson_all"]
        if best is None or score > best.scores["_score"]:
            best = Selection(params, {**scores, "_score": score}, pred, actual, models, held_out_of, search.folds)
    assert best is not None
    best.scores.pop("_score")
    return best


def select_params(method: str, kind: str, matrix: ObservationMatrix, graph: LineageGraph,
                  test: Sequence[str], seed: int, *, tune: bool = True, validate: bool = True,
                  fixed: dict[str, Any] | None = None, n_inner: int | None = None,
                  instance_graph: Any = None) -> Selection:
    """Pick ``method``'s grid point of setting ``kind`` with the best validation pearson_all.

    Only the training models (``matrix`` without ``test``) are fitted and validated on: a validation
    fifth of them (``n_inner`` = 1) or an ``n_inner``-fold cross-validation. ``fixed`` parameters
    override the setting's fixed ones and every grid point (a grid left with one point is not
    searched). Without ``tune`` the first grid point is used; ``validate`` still scores it (for
    calibration). Fewer than 10 eligible training models: no validation (empty ``scores``).
    """
    search = plan_search(method, kind, matrix, graph, test, seed, tune=tune, validate=validate, fixed=fixed,
                         n_inner=n_inner)
    if isinstance(search, Selection):
        return search
    return pick(search, [score_point(method, params, search, matrix, graph, seed, instance_graph)
                         for params in search.points])


def tune_and_calibrate(method: str, task: Task, graph: LineageGraph, test: Sequence[str],
                       seed: int, opts: ProtocolOptions) -> tuple[dict[str, Any], ConformalIntervals | None]:
    """Pick the grid point with the best inner-CV pearson_all; calibrate intervals on its residuals.

    Returns the chosen parameters (``"side"`` included, see :func:`method_graph`) and the
    intervals (None without ``opts.coverage`` or with fewer than 10 training models to validate on).
    """
    sel = select_tuned(method, task, graph, test, seed, opts)
    intervals = None
    if opts.coverage is not None and sel.pred is not None:
        intervals = ConformalIntervals(opts.coverage).fit(sel.pred, sel.actual)
    return sel.params, intervals


def plan_tuned(method: str, task: Task, graph: LineageGraph, test: Sequence[str], seed: int,
               opts: ProtocolOptions) -> Search | Selection:
    """:func:`plan_search` with the protocol's options."""
    return plan_search(method, task.setting.kind, task.matrix, graph, test, seed, **_search_options(method, opts))


def select_tuned(method: str, task: Task, graph: LineageGraph, test: Sequence[str], seed: int,
                 opts: ProtocolOptions) -> Selection:
    """:func:`select_params` with the protocol's options."""
    return select_params(method, task.setting.kind, task.matrix, graph, test, seed,
                         instance_graph=task.instance_graph, **_search_options(method, opts))


def _search_options(method: str, opts: ProtocolOptions) -> dict[str, Any]:
    """The search's keyword options from the protocol's (``opts.params`` fix a method's parameters)."""
    fixed = opts.params.get(method)
    return {"tune": opts.tune and fixed is None, "validate": opts.coverage is not None, "fixed": fixed,
            "n_inner": opts.n_inner}


#: Eligible models from which ``Predictor.fit`` validates on one held-out fifth (as evaluate does on
#: the leaderboard); below it, an ``n_folds`` cross-validation so every model calibrates the intervals.
FIT_SINGLE_SPLIT = 500


def select_for_fit(matrix: ObservationMatrix, graph: LineageGraph, seed: int, fixed: dict[str, Any] | None = None,
                   *, tune: bool = True, validate: bool = True, n_folds: int = 5) -> Selection:
    """LRMF's parameters for a saved predictor: the heterogeneous setting's search over all of
    ``matrix``'s models (no test fold: every scored model is a training model)."""
    n_eligible = len(splits.eligible_models(matrix.models, graph))
    n_inner = 1 if n_eligible >= FIT_SINGLE_SPLIT else n_folds
    return select_params("lrmf", "heterogeneous", matrix, graph, [], seed, tune=tune, validate=validate,
                         fixed=fixed, n_inner=n_inner)


def instance_candidates(method: str, task: Task, held_out: str, opts: ProtocolOptions
                        ) -> dict[str, Any] | list[dict[str, Any]]:
    """The parameters to try for held-out ``held_out`` (a list), or the parameters themselves (a
    dict) when nothing is searched (no tuning, fixed parameters, one point, no other fine-tune)."""
    from hub_lineage.predict.item_graph import ItemGraphs

    base = {**SETTING_PARAMS["instance"].get(method, {}), **opts.params.get(method, {})}
    grid = SETTING_GRIDS["instance"].get(method, ({},))
    if method == "lrmf" and isinstance(task.instance_graph, ItemGraphs):  # which item graph, if any
        grid = tuple({**point, "item_graph": kind} for kind in task.instance_graph.kinds() for point in grid)
    if not opts.tune or method in opts.params or len(grid) < 2 or not any(m != held_out for m in task.eligible):
        return {**base, **grid[0], **opts.params.get(method, {})}  # fixed parameters win
    return [{**base, **point} for point in grid]


def score_instance_point(method: str, task: Task, held_out: str, seed: int, params: dict[str, Any]) -> float:
    """Mean AUC of one candidate on the OTHER fine-tunes, held out together from a fit that also
    lacks ``held_out`` (the test model is in neither the fit nor the validation)."""
    from hub_lineage.predict.item_graph import split_item_graph

    others = [m for m in task.eligible if m != held_out]
    train = training_matrix(task.matrix, [held_out])
    actual = train.select_models(others).values
    fit_params, item_graph = split_item_graph(params, task.instance_graph)
    pred = predict_held_out(seeded_estimator(method, fit_params, seed), train, task.graph, others, item_graph)
    return float(np.nanmean([metrics.auc(p, a) for p, a in zip(pred, actual)]))


def pick_instance(candidates: Sequence[dict[str, Any]], scores: Sequence[float]) -> dict[str, Any]:
    """The candidate with the best mean AUC (the first of equals; a NaN first score is kept)."""
    best: tuple[float, dict[str, Any]] | None = None
    for params, score in zip(candidates, scores, strict=True):
        if best is None or score > best[0]:
            best = (score, params)
    assert best is not None
    return best[1]


def tune_instance(method: str, task: Task, held_out: str, seed: int, opts: ProtocolOptions) -> dict[str, Any]:
    """Grid point with the best mean AUC on the OTHER fine-tunes, held out together from a fit that
    also lacks ``held_out`` (the test model is in neither the fit nor the validation)."""
    candidates = instance_candidates(method, task, held_out, opts)
    if isinstance(candidates, dict):
        return candidates
    return pick_instance(candidates, [score_instance_point(method, task, held_out, seed, params)
                                      for params in candidates])
