"""The protocol's independent units, and how ``evaluate --jobs`` / a Dask cluster maps them.

A unit is one fit whose numbers depend on its arguments only (its seed included), so it gives
the same bits in any process. Two kinds run in two rounds (:func:`mapped_fits`):

1. every candidate of every inner search (:func:`point_fit`: one grid point of one method, outer
   fold and seed, fitted on the fold's training models and scored on their validation folds;
   :func:`instance_point_fit` in the instance setting);
2. every outer fit (:func:`fold_fit`, :func:`instance_fit`), given the winner that
   :func:`~hub_lineage.evaluation.tuning.pick` chose from round 1's scores.

LRMF's searches (12 grid points x 3 inner folds per outer fold in the homogeneous setting) are
the long part of an evaluation; as units of their own they spread over as many workers as there
are grid points, not just over seeds x folds. Splitting costs a barrier between the rounds and
more, smaller tasks (measured with 2 workers: 290 units instead of 50 made a 2-worker Dask run
21 s instead of 16 s, and gained nothing locally), so the searches are split only when the outer
fits alone are too few to keep the runner's workers busy: fewer than ``SPLIT_BELOW`` per worker
(a runner that does not say how many workers it has is split). Run serially (no runner),
:func:`fold_fit` searches inside itself, through the same functions: the numbers are the same
whichever way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from hub_lineage.evaluation import splits
from hub_lineage.evaluation.calibration import FoldPost
from hub_lineage.evaluation.held_out import method_graph, predict_held_out, seeded_estimator
from hub_lineage.evaluation.tuning import (
    Search,
    Selection,
    instance_candidates,
    pick,
    pick_instance,
    plan_tuned,
    score_instance_point,
    score_point,
    select_tuned,
    tune_instance,
)
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.predict.conformal import RelativeIndex

if TYPE_CHECKING:
    from hub_lineage.evaluation.protocol import ProtocolOptions, Task

#: Split the inner searches into grid-point units when there are fewer outer fits than this per worker.
SPLIT_BELOW = 4


def kfold_plan(task: Task, seed: int, opts: ProtocolOptions
               ) -> tuple[LineageGraph, list[str], list[list[str]]]:
    """The seed's graph (noisy under ``opts.noise``), its eligible models and their folds."""
    graph = task.graph
    eligible = task.eligible
    if opts.noise is not None:
        graph = splits.perturb(graph, opts.noise, task.matrix.models, seed)
        still = set(splits.eligible_models(task.matrix.models, graph))
        eligible = [m for m in eligible if m in still]
    if opts.test_fraction is not None:  # one test split: the other models are never predicted
        folds = [splits.holdout(eligible, opts.test_fraction, seed)]
        eligible = folds[0]
    else:
        folds = splits.kfold(eligible, opts.n_folds, seed)
    return graph, eligible, folds


def fold_fit(task: Task, graph: LineageGraph, method: str, fold: list[str], seed: int, opts: ProtocolOptions,
             index: RelativeIndex | None = None, selection: Selection | None = None
             ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """One outer fit: tune ``method`` on the training models (unless ``selection`` gives round 1's
    winner), fit, predict ``fold``, correct the predictions and give their intervals (:class:`FoldPost`).

    Returns benchmark predictions (len(fold), n_benchmarks) and the interval bounds (or None).
    ``index`` (the graph's relatives, deterministic) is shared between the folds of a seed when given.
    """
    if selection is None:
        selection = select_tuned(method, task, graph, fold, seed, opts)
    post = None
    if selection.pred is not None:
        post = FoldPost(selection, task.matrix, index or RelativeIndex(graph), fold, opts.coverage,
                        stack=method in opts.stack, adaptive=opts.intervals != "constant" and method != "mean",
                        scaled=opts.intervals in ("adaptive", "metadata"),
                        static=opts.intervals == "metadata", seed=seed,
                        mla_graph=graph if opts.stack_mla else None)
    fit_params, fit_graph = method_graph(selection.params, task.matrix, graph)
    items = predict_held_out(seeded_estimator(method, fit_params, seed), task.matrix, fit_graph, fold)
    pred = task.matrix.benchmark_scores(items)
    if post is None:
        return pred, None, None
    pred = post.correct(pred, fold)
    if opts.coverage is None:
        return pred, None, None
    low, high = post.interval(pred, fold)
    return pred, low, high


def point_fit(task: Task, graph: LineageGraph, method: str, fold: list[str], seed: int, opts: ProtocolOptions,
              point: int) -> np.ndarray:
    """One candidate of one outer fold's inner search: its validation predictions (n_validation, n_benchmarks)."""
    search = plan_tuned(method, task, graph, fold, seed, opts)
    assert isinstance(search, Search)
    return score_point(method, search.points[point], search, task.matrix, graph, seed, task.instance_graph)


def instance_fit(task: Task, method: str, model: str, seed: int, opts: ProtocolOptions,
                 params: dict[str, Any] | None = None) -> np.ndarray:
    """One outer fit of the instance setting: predictions (n_items,) for held-out ``model``
    (``params``: round 1's winner; else the search runs here)."""
    from hub_lineage.predict.item_graph import split_item_graph

    chosen = params if params is not None else tune_instance(method, task, model, seed, opts)
    fit_params, item_graph = split_item_graph(chosen, task.instance_graph)
    estimator = seeded_estimator(method, fit_params, seed)
    return predict_held_out(estimator, task.matrix, task.graph, [model], item_graph)[0]


def instance_point_fit(task: Task, method: str, model: str, seed: int, opts: ProtocolOptions, point: int) -> float:
    """One candidate of held-out ``model``'s search: its mean AUC on the other fine-tunes."""
    candidates = instance_candidates(method, task, model, opts)
    assert isinstance(candidates, list)
    return score_instance_point(method, task, model, seed, candidates[point])


def mapped_fits(task: Task, methods: Sequence[str], seeds: int, opts: ProtocolOptions
                ) -> dict[int, dict[tuple[str, int], Any]]:
    """Every unit of the run through ``opts.runner``, in the two rounds of the module docstring;
    keyed ``{seed: {(method, fold or model index): outer fit's result}}``."""
    assert opts.runner is not None
    plain = replace(opts, progress=None, runner=None, record=None)  # what a worker needs: no callbacks
    seed_list = range(opts.seed_start, opts.seed_start + seeds)
    instance = task.setting.kind == "instance"
    plans = {seed: kfold_plan(task, seed, opts) for seed in seed_list} if not instance else {}
    keys: list[tuple[int, str, int]] = []
    calls: list[tuple] = []
    for m in methods:  # method-major: the slow methods (LRMF first) start first, so none trails at the end
        for seed in seed_list:
            if instance:
                for k, model in enumerate(task.eligible):
                    keys.append((seed, m, k))
                    calls.append((task, m, model, seed, plain))
            else:
                graph, _, folds = plans[seed]
                for k, fold in enumerate(folds):
                    keys.append((seed, m, k))
                    calls.append((task, graph, m, fold, seed, plain))
    # per outer fit: its Search / candidate list, what needs no search, or None (not split: it searches itself)
    workers = getattr(opts.runner, "workers", None)
    searches: list[Any] = [None] * len(calls)
    if workers is None or len(calls) < SPLIT_BELOW * workers:
        searches = [instance_candidates(c[1], task, c[2], plain) if instance
                    else plan_tuned(c[2], task, c[1], c[3], c[4], plain) for c in calls]
    owners, point_calls = [], []
    for i, (call, search) in enumerate(zip(calls, searches)):
        n_points = len(search) if isinstance(search, list) else len(search.points) if isinstance(search, Search) else 0
        owners += [i] * n_points
        point_calls += [call + (j,) for j in range(n_points)]
    scores = opts.runner(instance_point_fit if instance else point_fit, point_calls) if point_calls else []
    by_owner: dict[int, list[Any]] = {}
    for i, score in zip(owners, scores):
        by_owner.setdefault(i, []).append(score)  # in point order: the runner keeps the calls' order
    finals = []
    for i, (call, search) in enumerate(zip(calls, searches)):
        if search is None:  # not split: the outer fit searches itself
            finals.append(call)
        elif instance:
            finals.append(call + (search if isinstance(search, dict) else pick_instance(search, by_owner[i]),))
        else:
            finals.append(call + (None, search if isinstance(search, Selection) else pick(search, by_owner[i])))
    values = opts.runner(instance_fit if instance else fold_fit, finals)
    out: dict[int, dict[tuple[str, int], Any]] = {seed: {} for seed in seed_list}
    for (seed, method, k), value in zip(keys, values):
        out[seed][method, k] = value
    return out
