"""The baselines LRMF is compared against, behind the same estimator contract.

Every estimator here follows :mod:`hub_lineage.model.base`: ``fit(matrix, model_graph=None,
instance_graph=None) -> self``; ``predict_proba(models) -> (n, n_items)`` for any model the estimator
can place (a fitted model, a node of the fitted graph, or a model whose factors are in
``matrix.model_meta``); ``fold_in_proba(graph, models, observations=None)`` for new models
described by a graph. The names ``hub-lineage evaluate`` knows them by live in
:mod:`hub_lineage.model.registry`.

- :class:`MeanBaseline`: per-benchmark, per-item and global training means.
- :class:`MLA`: Model Lineage Averaging, the mean of the lineage relatives' observed values
  (multi-hop); over direct parents only, the "parent's own answers" reference.
- :class:`MF`: LRMF with both lambdas at 0 (no lineage, no instance graph).
- NCF and a ridge regression over model factors live in :mod:`hub_lineage.model.factor_models`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from hub_lineage.benchmarks import BY_KEY
from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.errors import InvalidInputError, NoLineageError
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.lineage.walk import breadth_first, stop_past_first_ring
from hub_lineage.model.base import Estimator, check_is_fitted
from hub_lineage.model.lrmf import LRMF


def check_matrix(matrix: ObservationMatrix) -> None:
    """Refuse a matrix without any observed cell (:class:`InvalidInputError`)."""
    if matrix.shape[0] == 0 or matrix.shape[1] == 0 or matrix.n_observed == 0:
        raise InvalidInputError(
            f"Cannot fit on an empty observation matrix ({matrix.shape[0]} models, "
            f"{matrix.shape[1]} items, {matrix.n_observed} observed cells): at least one observed "
            "cell is needed.")


def item_means(matrix: ObservationMatrix) -> np.ndarray:
    """Per-item mean over observed models (n_items,); items never observed get the global mean."""
    means = _nanmean_cols(matrix.values.astype(np.float64))
    glob = float(np.nanmean(matrix.values))
    return np.where(np.isnan(means), glob, means)


def _nanmean_cols(values: np.ndarray) -> np.ndarray:
    mask = ~np.isnan(values)
    total = np.where(mask, values, 0.0).sum(axis=0)
    count = mask.sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _check_choice(owner: str, name: str, value: Any, valid: Iterable[Any]) -> None:
    valid = tuple(valid)
    if value not in valid:
        raise InvalidInputError(f"{owner}({name}={value!r}): expected one of {', '.join(map(repr, valid))}.")


class MeanBaseline(Estimator):
    """Predict the training mean: per item (``by="item"``), per benchmark, or one global mean.

    On leaderboard aggregates (one item per benchmark) ``item`` and ``benchmark`` coincide; on
    instance-level data ``item`` is the item difficulty across the training models.
    """

    def __init__(self, by: str = "benchmark") -> None:
        self.by = by

    def fit(self, matrix: ObservationMatrix, model_graph: LineageGraph | None = None,
            instance_graph: Any = None) -> MeanBaseline:
        _check_choice("MeanBaseline", "by", self.by, ("item", "benchmark", "global"))
        check_matrix(matrix)
        if self.by == "global":
            mean = np.full(len(matrix.items), float(np.nanmean(matrix.values)))
        elif self.by == "item":
            mean = item_means(matrix)
        else:
            scores = np.nanmean(matrix.benchmark_scores(), axis=0)
            pos = {b: k for k, b in enumerate(matrix.benchmarks)}
            mean = np.array([scores[pos[b]] for b in matrix.item_benchmarks])
        self.items_ = list(matrix.items)
        self.mean_ = mean.astype(np.float64)
        return self

    def predict_proba(self, models: Sequence[str]) -> np.ndarray:
        check_is_fitted(self, "mean_")
        return np.tile(self.mean_, (len(models), 1))


class MLA(Estimator):
    """Model Lineage Averaging: a model's prediction is the mean of its scored relatives' values.

    Parameters
    ----------
    decay : float or None
        None: use the nearest ring of scored relatives only (all at the smallest hop distance).
        A float in (0, 1]: use every scored relative within ``max_hops``, weighted
        ``decay ** (hops - 1)``.
    max_hops : int or None
        Farthest relative considered (None = the whole connected lineage).
    direction : {"both", "parents"}
        Walk parents and children (relatives) or ancestors only.
    fallback : {"raise", "mean"}
        A model without any scored relative raises :class:`NoLineageError`, or gets the training
        per-item mean (the evaluation protocol uses "mean" so one orphaned model does not stop a fold).
    """

    def __init__(self, decay: float | None = None, *, max_hops: int | None = None,
                 direction: str = "both", fallback: str = "raise") -> None:
        self.decay = decay
        self.max_hops = max_hops
        self.direction = direction
        self.fallback = fallback

    def fit(self, matrix: ObservationMatrix, model_graph: LineageGraph | None = None,
            instance_graph: Any = None) -> MLA:
        if self.decay is not None and not 0.0 < self.decay <= 1.0:
            raise InvalidInputError(f"MLA(decay={self.decay!r}): decay must be None or in (0, 1].")
        _check_choice("MLA", "direction", self.direction, ("both", "parents"))
        _check_choice("MLA", "fallback", self.fallback, ("raise", "mean"))
        check_matrix(matrix)
        self.items_ = list(matrix.items)
        self.values_ = matrix.values.astype(np.float64)
        self.row_ = dict(matrix.model_index)
        self.graph_ = model_graph if model_graph is not None else LineageGraph()
        self.mean_ = item_means(matrix)
        self.n_fallback_ = 0
        return self

    def _neighbours(self, graph: LineageGraph, node: str) -> list[str]:
        out = [e.parent for e in graph.parents(node)]
        if self.direction == "both":
            out += [e.child for e in graph.children(node)]
        return out

    def _relatives(self, graph: LineageGraph, model: str) -> dict[str, int]:
        """Scored relatives of ``model`` (itself excluded) with their hop distance, nearest first."""
        def neighbours(node: str) -> list[str]:
            return self._neighbours(graph, node)

        # with decay=None only the nearest ring counts: stop walking past it
        step = neighbours if self.decay is not None else stop_past_first_ring(model, neighbours, self.row_)
        hops = breadth_first(model, step, max_depth=self.max_hops)
        return {node: h for node, h in hops.items() if node in self.row_ and node != model}

    def _predict_one(self, graph: LineageGraph, model: str) -> np.ndarray:
        relatives = self._relatives(graph, model)
        if not relatives:
            if self.fallback == "mean":
                self.n_fallback_ += 1
                return self.mean_.copy()
            raise NoLineageError(
                f"MLA cannot predict {model!r}: it has no scored relative in the lineage graph "
                "(give its parents, or pick a method that does not need lineage).")
        rows = np.array([self.row_[r] for r in relatives])
        hops = np.array(list(relatives.values()), dtype=np.float64)
        w = np.ones_like(hops) if self.decay is None else self.decay ** (hops - 1.0)
        block = self.values_[rows]
        weight = np.where(np.isnan(block), 0.0, w[:, None])
        total = weight.sum(axis=0)
        pred = np.nansum(np.nan_to_num(block) * weight, axis=0) / np.maximum(total, 1e-12)
        return np.where(total > 0, pred, self.mean_)

    def predict_proba(self, models: Sequence[str]) -> np.ndarray:
        check_is_fitted(self, "values_")
        return np.vstack([self._predict_one(self.graph_, m) for m in models]) if len(models) \
            else np.empty((0, len(self.items_)))

    def predict_on(self, graph: Any, models: Sequence[str]) -> np.ndarray:
        """Predictions (n_models, n_items) walking ``graph`` (anything with ``parents(node)`` and
        ``children(node)`` giving edges, e.g. the predictor's stored-graph overlay) instead of the fit's."""
        check_is_fitted(self, "values_")
        return np.vstack([self._predict_one(graph, m) for m in models])

    def fold_in_proba(self, graph: LineageGraph, models: Sequence[str],
                      observations: ObservationMatrix | None = None) -> np.ndarray:
        check_is_fitted(self, "values_")
        merged = LineageGraph()
        merged.update(self.graph_)
        merged.update(graph)
        return np.vstack([self._predict_one(merged, m) for m in models])


class MF(Estimator):
    """Matrix factorization without lineage: LRMF with both lambdas at 0 (and biases on).

    Parameters are LRMF's (see :class:`~hub_lineage.model.lrmf.LRMF`) without the lineage ones;
    ``lambda_lineage`` and ``lambda_instance`` are accepted, so that one parameter set serves LRMF
    and MF, and ignored: they are 0 in the fit. A model without observations has no factors to
    learn, so it gets the prior (zero model factors and bias): ``kappa_i + (1 - kappa_i) sigmoid(c_i)``,
    the item bias alone. That is MF's honest cold start; it never looks at lineage.
    """

    def __init__(self, n_factors: int = 32, *, reg: float = 1e-2, biases: bool = True, chance: str | None = None,
                 max_iter: int = 100, tol: float = 1e-5, random_state: int | None = None, solver: str = "fast",
                 lambda_lineage: float = 0.0, lambda_instance: float = 0.0) -> None:
        self.n_factors, self.reg, self.biases, self.chance = n_factors, reg, biases, chance
        self.max_iter, self.tol, self.random_state, self.solver = max_iter, tol, random_state, solver
        self.lambda_lineage, self.lambda_instance = lambda_lineage, lambda_instance

    def fit(self, matrix: ObservationMatrix, model_graph: LineageGraph | None = None,
            instance_graph: Any = None) -> MF:
        check_matrix(matrix)
        params = {**self.get_params(), "lambda_lineage": 0.0, "lambda_instance": 0.0}
        self.lrmf_ = LRMF(**params).fit(matrix)
        x = np.asarray(self.lrmf_.item_bias_) if self.biases else np.zeros(len(matrix.items))
        prior = 1.0 / (1.0 + np.exp(-x))
        if self.chance == "items":
            kappa = np.array([BY_KEY[b].chance if b in BY_KEY else 0.0 for b in matrix.item_benchmarks])
            prior = kappa + (1 - kappa) * prior
        self.prior_ = prior
        self.items_ = list(matrix.items)
        return self

    def predict_proba(self, models: Sequence[str]) -> np.ndarray:
        check_is_fitted(self, "lrmf_")
        known = self.lrmf_.node_index_
        out = np.tile(self.prior_, (len(models), 1))
        rows = [k for k, m in enumerate(models) if m in known]
        if rows:
            out[rows] = self.lrmf_.predict_proba([models[k] for k in rows])
        return out


__all__ = ["MF", "MLA", "MeanBaseline", "check_matrix", "item_means"]
