"""The baselines LRMF is compared against, behind the same estimator interface, and the registry.

Every estimator here follows LRMF's contract: ``fit(matrix, model_graph=None, instance_graph=None)
-> self``; ``predict_proba(models) -> (n, n_items)`` for any model the estimator can place (a
fitted model, a node of the fitted graph, or a model whose factors are in ``matrix.model_meta``);
``fold_in_proba(graph, models, observations=None)`` for new models described by a graph.

- ``mean`` / ``difficulty`` / ``global_mean``: per-benchmark, per-item and global training means.
- ``mla``: Model Lineage Averaging, the mean of the lineage relatives' observed values (multi-hop).
- ``parent``: MLA over direct parents only (the "parent's own answers" reference).
- ``mf``: LRMF with both lambdas at 0 (no lineage, no instance graph).
- ``ncf``: neural collaborative filtering over model factors (architecture, type, parameter count)
  and item embeddings (:mod:`hub_lineage.model.factor_models`; torch is imported inside it only).
- ``linear``: a ridge regression of each item on the same model factors (same module).
"""

from __future__ import annotations

import difflib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hub_lineage.errors import InvalidInputError, NoLineageError, NotFittedError
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.data.matrix import ObservationMatrix


def _check_matrix(matrix: ObservationMatrix) -> None:
    if matrix.shape[0] == 0 or matrix.shape[1] == 0 or matrix.n_observed == 0:
        raise InvalidInputError(
            f"Cannot fit on an empty observation matrix ({matrix.shape[0]} models, "
            f"{matrix.shape[1]} items, {matrix.n_observed} observed cells): at least one observed "
            "cell is needed.")


def _item_means(matrix: ObservationMatrix) -> np.ndarray:
    """Per-item mean over observed models (n_items,); items never observed get the global mean."""
    means = _nanmean_cols(matrix.values.astype(np.float64))
    glob = float(np.nanmean(matrix.values))
    return np.where(np.isnan(means), glob, means)


def _nanmean_cols(values: np.ndarray) -> np.ndarray:
    mask = ~np.isnan(values)
    total = np.where(mask, values, 0.0).sum(axis=0)
    count = mask.sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


class _Estimator:
    """Shared plumbing: fitted-state checks and fold-in through a refit-free graph update."""

    items_: list[str]

    def _check_fitted(self) -> None:
        if not hasattr(self, "items_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit(matrix, graph) first.")

    def predict_proba(self, models: Sequence[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def fold_in_proba(self, graph: LineageGraph, models: Sequence[str],
                      observations: ObservationMatrix | None = None) -> np.ndarray:
        """Predictions for new ``models`` placed by ``graph`` (baselines ignore ``observations``)."""
        self._check_fitted()
        return self.predict_proba(models)


class MeanBaseline(_Estimator):
    """Predict the training mean: per item (``by="item"``), per benchmark, or one global mean.

    On leaderboard aggregates (one item per benchmark) ``item`` and ``benchmark`` coincide; on
    instance-level data ``item`` is the item difficulty across the training models.
    """

    def __init__(self, by: str = "benchmark") -> None:
        if by not in ("item", "benchmark", "global"):
            raise InvalidInputError(f"MeanBaseline(by={by!r}): 'by' must be 'item', 'benchmark' or 'global'.")
        self.by = by

    def fit(self, matrix: ObservationMatrix, model_graph: LineageGraph | None = None,
            instance_graph: Any = None) -> MeanBaseline:
        _check_matrix(matrix)
        if self.by == "global":
            mean = np.full(len(matrix.items), float(np.nanmean(matrix.values)))
        elif self.by == "item":
            mean = _item_means(matrix)
        else:
            scores = np.nanmean(matrix.benchmark_scores(), axis=0)
            pos = {b: k for k, b in enumerate(matrix.benchmarks)}
            mean = np.array([scores[pos[b]] for b in matrix.item_benchmarks])
        self.items_ = list(matrix.items)
        self.mean_ = mean.astype(np.float64)
        return self

    def predict_proba(self, models: Sequence[str]) -> np.ndarray:
        self._check_fitted()
        return np.tile(self.mean_, (len(models), 1))


class MLA(_Estimator):
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
        if decay is not None and not 0.0 < decay <= 1.0:
            raise InvalidInputError(f"MLA(decay={decay!r}): decay must be None or in (0, 1].")
        if direction not in ("both", "parents"):
            raise InvalidInputError(f"MLA(direction={direction!r}): expected 'both' or 'parents'.")
        if fallback not in ("raise", "mean"):
            raise InvalidInputError(f"MLA(fallback={fallback!r}): expected 'raise' or 'mean'.")
        self.decay, self.max_hops, self.direction, self.fallback = decay, max_hops, direction, fallback

    def fit(self, matrix: ObservationMatrix, model_graph: LineageGraph | None = None,
            instance_graph: Any = None) -> MLA:
        _check_matrix(matrix)
        self.items_ = list(matrix.items)
        self.values_ = matrix.values.astype(np.float64)
        self.row_ = dict(matrix.model_index)
        self.graph_ = model_graph if model_graph is not None else LineageGraph()
        self.mean_ = _item_means(matrix)
        self.n_fallback_ = 0
        return self

    def _neighbours(self, graph: LineageGraph, node: str) -> list[str]:
        out = [e.parent for e in graph.parents(node)]
        if self.direction == "both":
            out += [e.child for e in graph.children(node)]
        return out

    def _relatives(self, graph: LineageGraph, model: str) -> dict[str, int]:
        """Scored relatives of ``model`` (itself excluded) with their hop distance."""
        depth = {model: 0}
        queue = deque([model])
        found: dict[str, int] = {}
        nearest: int | None = None
        while queue:
            node = queue.popleft()
            hops = depth[node]
            if nearest is not None and self.decay is None and hops >= nearest:
                break
            if self.max_hops is not None and hops >= self.max_hops:
                continue
            for nxt in self._neighbours(graph, node):
                if nxt in depth:
                    continue
                depth[nxt] = hops + 1
                queue.append(nxt)
                if nxt in self.row_:
                    found[nxt] = hops + 1
                    nearest = hops + 1 if nearest is None else nearest
        return found

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
        self._check_fitted()
        return np.vstack([self._predict_one(self.graph_, m) for m in models]) if len(models) \
            else np.empty((0, len(self.items_)))

    def fold_in_proba(self, graph: LineageGraph, models: Sequence[str],
                      observations: ObservationMatrix | None = None) -> np.ndarray:
        self._check_fitted()
        merged = LineageGraph()
        merged.update(self.graph_)
        merged.update(graph)
        return np.vstack([self._predict_one(merged, m) for m in models])


class MF(_Estimator):
    """Matrix factorization without lineage: LRMF with both lambdas at 0 (and biases on).

    A model without observations has no factors to learn, so it gets the prior (zero model
    factors and bias): ``kappa_i + (1 - kappa_i) sigmoid(c_i)``, the item bias alone. That is MF's
    honest cold start; it never looks at lineage.
    """

    def __init__(self, **params: Any) -> None:
        self.params = {"biases": True, **params, "lambda_lineage": 0.0, "lambda_instance": 0.0}

    @property
    def random_state(self) -> Any:
        return self.params.get("random_state")

    @random_state.setter
    def random_state(self, value: Any) -> None:
        self.params["random_state"] = value

    def fit(self, matrix: ObservationMatrix, model_graph: LineageGraph | None = None,
            instance_graph: Any = None) -> MF:
        from hub_lineage.model.lrmf import LRMF

        _check_matrix(matrix)
        self.lrmf_ = LRMF(**self.params).fit(matrix)
        bias = getattr(self.lrmf_, "item_bias_", None)
        x = np.zeros(len(matrix.items)) if bias is None or not self.params["biases"] else np.asarray(bias)
        prior = 1.0 / (1.0 + np.exp(-x))
        if self.params.get("chance") == "items":
            from hub_lineage.benchmarks import BY_KEY

            kappa = np.array([BY_KEY[b].chance if b in BY_KEY else 0.0 for b in matrix.item_benchmarks])
            prior = kappa + (1 - kappa) * prior
        self.prior_ = prior
        self.items_ = list(matrix.items)
        return self

    def predict_proba(self, models: Sequence[str]) -> np.ndarray:
        self._check_fitted()
        known = self.lrmf_.node_index_
        out = np.tile(self.prior_, (len(models), 1))
        rows = [k for k, m in enumerate(models) if m in known]
        if rows:
            out[rows] = self.lrmf_.predict_proba([models[k] for k in rows])
        return out


# -- the registry -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Method:
    """A named estimator: ``make(**params)`` builds it; ``grid`` is what the protocol may tune."""

    name: str
    make: Callable[..., Any]
    description: str
    grid: tuple[dict[str, Any], ...] = ({},)


def _lrmf(**params: Any) -> Any:
    from hub_lineage.model.lrmf import LRMF

    return LRMF(**params)


def _factor(name: str, params: dict[str, Any]) -> Any:
    from hub_lineage.model import factor_models

    return getattr(factor_models, name)(**params)


def _mf(**params: Any) -> Any:
    return MF(**params)


METHODS: dict[str, Method] = {
    "lrmf": Method("lrmf", _lrmf, "lineage-regularized matrix factorization"),
    "mla": Method("mla", lambda **p: MLA(**p), "mean of the nearest scored lineage relatives",
                  ({}, {"decay": 0.5, "max_hops": 4})),
    "parent": Method("parent", lambda **p: MLA(direction="parents", **p), "the direct parents' own values"),
    "ncf": Method("ncf", lambda **p: _factor("NCF", p), "neural CF over architecture, type and parameter count"),
    "mf": Method("mf", _mf, "matrix factorization without lineage (LRMF with both lambdas 0)"),
    "linear": Method("linear", lambda **p: _factor("LinearFactors", p), "ridge regression on model factors"),
    "mean": Method("mean", lambda **p: MeanBaseline("benchmark", **p), "per-benchmark training mean"),
    "difficulty": Method("difficulty", lambda **p: MeanBaseline("item", **p),
                         "per-item training mean (item difficulty across the other models)"),
    "global_mean": Method("global_mean", lambda **p: MeanBaseline("global", **p), "one global training mean"),
}


def get_method(name: str) -> Method:
    """The registered method called ``name``; an unknown name lists the valid ones."""
    method = METHODS.get(name.strip().lower())
    if method is None:
        close = difflib.get_close_matches(name.strip().lower(), METHODS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InvalidInputError(f"Unknown method {name!r}.{hint} Valid methods: {', '.join(METHODS)}.")
    return method


def make_estimator(name: str, **params: Any) -> Any:
    """An unfitted estimator for the method ``name`` with ``params``."""
    return get_method(name).make(**params)
