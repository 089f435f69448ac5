"""Fits that never see their test models: the cold-start building block of every protocol.

A test model contributes no observation to the fit that predicts it; it stays a node of the
lineage graph (its factors come from its relatives) and its model metadata stays too (known
before a model is evaluated). Each fit is a :func:`~hub_lineage.model.base.clone` of one unfitted
estimator, so a method's parameters are set once and every fold starts from the same state.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.errors import NoLineageError
from hub_lineage.evaluation import splits
from hub_lineage.lineage import side_info
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.model.base import Estimator, clone
from hub_lineage.model.baselines import MeanBaseline
from hub_lineage.model.registry import make_estimator


def training_matrix(matrix: ObservationMatrix, test: Sequence[str]) -> ObservationMatrix:
    """``matrix`` without the observations of ``test`` models.

    Model factors (architecture, size: what NCF and the linear baseline read) of all models stay,
    because they are known for a new model before it is evaluated; its scores are not.
    """
    train = matrix.without_models(test)
    train.model_meta = dict(matrix.model_meta)
    return train


def seeded_estimator(method: str, params: dict[str, Any], seed: int) -> Estimator:
    """The unfitted estimator of ``method`` with ``params`` and ``random_state=seed`` where it has one."""
    estimator = make_estimator(method, **params)
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=seed)
    return estimator


def method_graph(params: dict[str, Any], matrix: ObservationMatrix, graph: LineageGraph
                 ) -> tuple[dict[str, Any], LineageGraph]:
    """Split a method's ``params`` into estimator parameters and the graph it fits on.

    A ``"side"`` entry (side key -> weight, :mod:`hub_lineage.lineage.side_info`) adds the metadata
    nodes of every model of ``matrix`` (test models too: metadata is not a score) to ``graph``.
    """
    params = dict(params)
    side = params.pop("side", None)
    return params, side_info.augment(graph, matrix.model_meta, matrix.models, side)


def predict_held_out(estimator: Estimator, matrix: ObservationMatrix, graph: LineageGraph,
                     test: Sequence[str], instance_graph: Any = None, **fit_kwargs: Any) -> np.ndarray:
    """Fit a clone of ``estimator`` on ``matrix`` without ``test``; predictions (n_test, n_items).

    ``instance_graph``: an item graph, or a function of the training matrix that builds one (a
    co-response graph must not see the test models' answers). ``fit_kwargs`` go to its ``fit``
    (e.g. LRMF's warm start ``init``).
    """
    est = clone(estimator)
    train = training_matrix(matrix, test)
    if callable(instance_graph):
        instance_graph = instance_graph(train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of 100s of fits; metrics tell the story
        est.fit(train, graph, instance_graph, **fit_kwargs)
        try:
            return np.asarray(est.predict_proba(list(test)), dtype=np.float64)
        except NoLineageError:
            pass
        # A test model whose only scored relatives are in the same fold has no lineage left in
        # training: it gets the training item means, as any method without lineage would.
        fallback = MeanBaseline("item").fit(train).mean_
        rows = []
        for model in test:
            try:
                rows.append(np.asarray(est.predict_proba([model]), dtype=np.float64)[0])
            except NoLineageError:
                rows.append(fallback)
        return np.vstack(rows)


def cross_validated_predictions(estimator: Estimator, matrix: ObservationMatrix, graph: LineageGraph | None,
                                models: Sequence[str], n_folds: int = 5, seed: int = 0,
                                instance_graph: Any = None, **fit_kwargs: Any) -> np.ndarray:
    """Held-out benchmark predictions for ``models`` (n_models, n_benchmarks).

    ``models`` are shuffled with ``seed`` into ``n_folds`` folds; each fold is predicted by a clone
    of ``estimator`` fitted on ``matrix`` without that fold's observations (cold start). Use the
    result with the models' actual ``matrix.benchmark_scores()`` to calibrate
    :class:`~hub_lineage.predict.intervals.ConformalIntervals`.
    """
    graph = graph if graph is not None else LineageGraph()
    pred = np.full((len(models), len(matrix.items)), np.nan)
    pos = {m: k for k, m in enumerate(models)}
    for fold in splits.kfold(list(models), min(n_folds, len(models)), seed):
        pred[[pos[m] for m in fold]] = predict_held_out(estimator, matrix, graph, fold, instance_graph, **fit_kwargs)
    return matrix.benchmark_scores(pred)
