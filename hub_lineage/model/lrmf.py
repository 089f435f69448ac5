"""Lineage-Regularized Matrix Factorization (LRMF): the estimator.

``p[m, i] = kappa_i + (1 - kappa_i) * sigmoid(u_m . v_i (+ b_m + c_i))``, fitted by minimising the
objective defined in :mod:`hub_lineage.model.solvers.reference` (mean BCE per instance over observed cells,
plus the lineage Laplacian, the instance Laplacian and L2). Every lineage node gets a factor row,
also models without observations, so relatives several hops apart pull on each other through
unevaluated intermediate models; a model with no observations ends up at the harmonic extension of
its neighbours, which is what :meth:`LRMF.fold_in` computes in closed form for new nodes.

``solver="fast"`` (:mod:`hub_lineage.model.solvers.gauss_newton`): alternating damped Gauss-Newton half-steps,
one blocked float32 pass over the observations each, with the Laplacian coupling solved by PCG;
the objective never goes up. ``solver="reference"`` (:mod:`hub_lineage.model.solvers.reference`) minimises
the same objective with plain float64 L-BFGS (small problems, tests). Fold-in lives in
:mod:`hub_lineage.model.foldin`. See docs/performance.md for the measurements.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hub_lineage.benchmarks import BY_KEY
from hub_lineage.errors import InvalidInputError, ModelFitError, NoLineageError, NotFittedError
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.model.foldin import fold_in_params
from hub_lineage.data.matrix import ObservationMatrix

if TYPE_CHECKING:  # scipy and the solvers load in fit() only: predicting never needs them
    import scipy.sparse as sp

    from hub_lineage.model.solvers.reference import Problem

_FORMAT = "hub-lineage-lrmf/1"


class ConvergenceWarning(UserWarning):
    """The fit stopped at ``max_iter`` before the objective settled."""


class LRMF:
    """Lineage-Regularized Matrix Factorization, scikit-learn style.

    Parameters
    ----------
    n_factors : int
        Latent dimension ``d``.
    lambda_lineage, lambda_instance : float
        Weights of ``tr(U^T L_M U)`` (lineage graph) and ``tr(V^T L_X V)`` (instance kNN graph;
        used only when ``fit`` gets an ``instance_graph``).
    reg : float
        L2 weight on all factors (and biases).
    biases : bool
        Add a bias per model and per item (the paper's formula has none).
    relation_weights : mapping or None
        Edge weight per relation (``finetune, merge, adapter, quantized, root``), passed to
        :meth:`LineageGraph.laplacian`.
    chance : {None, "items"}
        ``"items"``: ``p = c + (1 - c) sigmoid(x)`` with ``c`` the chance level of the item's
        benchmark (:mod:`hub_lineage.benchmarks`; 0 for unknown benchmarks).
    max_iter, tol : int, float
        Outer iterations (one model-side and one item-side step each); stop when the objective's
        relative decrease over an iteration falls below ``tol``.
    random_state : int or None
    solver : {"fast", "reference"}
    verbose : bool
        Print the objective per iteration to stderr.
    """

    def __init__(self, n_factors: int = 32, *, lambda_lineage: float = 1.0, lambda_instance: float = 0.0,
                 reg: float = 1e-2, biases: bool = False, relation_weights: Mapping[str, float] | None = None,
                 chance: str | None = None, max_iter: int = 100, tol: float = 1e-5,
                 random_state: int | None = None, solver: str = "fast", verbose: bool = False) -> None:
        self.n_factors = n_factors
        self.lambda_lineage = lambda_lineage
        self.lambda_instance = lambda_instance
        self.reg = reg
        self.biases = biases
        self.relation_weights = relation_weights
        self.chance = chance
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.solver = solver
        self.verbose = verbose

    def get_params(self) -> dict[str, Any]:
        keys = ("n_factors", "lambda_lineage", "lambda_instance", "reg", "biases", "relation_weights",
                "chance", "max_iter", "tol", "random_state", "solver", "verbose")
        return {k: getattr(self, k) for k in keys}

    # -- fitting ------------------------------------------------------------------------------

    def fit(self, matrix: ObservationMatrix, model_graph: LineageGraph | None = None,
            instance_graph: sp.spmatrix | None = None, callback=None) -> LRMF:
        """Fit factors for every model of ``matrix`` and every node of ``model_graph``.

        Parameters
        ----------
        matrix : ObservationMatrix (n_models, n_items)
        model_graph : LineageGraph or None
            Lineage over models; its nodes without observations get factor rows too.
        instance_graph : sparse (n_items, n_items) or None
            Symmetric non-negative item adjacency (e.g. :func:`hub_lineage.model.embeddings.knn_graph`).
        callback : callable(iteration: int, loss: float) or None
            Called after every iteration.
        """
        import scipy.sparse as sp

        from hub_lineage.model.solvers.reference import Problem, fit_reference
        from hub_lineage.model.solvers.gauss_newton import FastSolver

        self._check_params()
        values = matrix.values
        n_models, n_items = values.shape
        mask = ~np.isnan(values)
        if n_models == 0 or n_items == 0 or not mask.any():
            raise InvalidInputError(f"Cannot fit LRMF on {matrix!r}: it has no observed cell.")
        nodes = list(matrix.models)
        if model_graph is not None:
            known = set(nodes)
            nodes += [n for n in model_graph.nodes if n not in known]
        index = {n: i for i, n in enumerate(nodes)}
        if model_graph is not None:
            lap_graph = model_graph.laplacian(nodes, relation_weights=self.relation_weights,
                                              collapse_quantized=True)
        else:
            lap_graph = sp.csr_matrix((len(nodes), len(nodes)))
        lap_model = lap_graph * float(self.lambda_lineage)
        lap_item = None
        if instance_graph is not None and self.lambda_instance > 0:
            lap_item = _item_laplacian(instance_graph, n_items) * float(self.lambda_instance)
        counts = matrix.item_counts.astype(np.float32)
        # Normalise by the mean count per evaluated model: each model's likelihood weighs as its
        # mean BCE per instance, so lambdas and reg mean the same whatever the data set's size.
        scale = float(mask.sum(axis=0) @ counts.astype(np.float64)) / int(mask.any(axis=1).sum())
        # One float32 copy each (no float64 or broadcast temporaries: 260 MB each at 65M cells).
        w = np.empty(values.shape, dtype=np.float32)
        np.multiply(mask, (counts / np.float32(scale)).astype(np.float32)[None, :], out=w)
        y = np.where(mask, values, np.float32(0)).astype(np.float32, copy=False)  # one pass (nan_to_num: 3)
        observed_rows = mask.any(axis=1)
        del mask
        kappa = _chance_levels(self.chance, matrix.item_benchmarks)
        problem = Problem(y, w, kappa, lap_model.tocsr(), None if lap_item is None else lap_item.tocsr(),
                          float(self.reg), int(self.n_factors), bool(self.biases))
        P, Q = self._init_params(problem, len(nodes))
        if self.solver == "reference":
            P, Q, curve, n_iter, converged = fit_reference(problem, P, Q, self.max_iter, self.tol, callback)
        else:
            solver = FastSolver(problem, self.verbose)
            P, Q, curve, n_iter, converged = solver.run(P, Q, self.max_iter, self.tol, callback)
            self._n_passes = solver.n_passes  # for scripts/bench_fit.py
        if not (np.isfinite(P).all() and np.isfinite(Q).all()):
            raise ModelFitError(f"LRMF factors went NaN/inf (reg={self.reg}, lambda_lineage="
                                f"{self.lambda_lineage}): increase reg or lower the lambdas.")
        if not converged:
            warnings.warn(
                f"LRMF stopped after max_iter={self.max_iter} iterations before the objective's "
                f"relative change fell below tol={self.tol}: increase max_iter (or tol).",
                ConvergenceWarning, stacklevel=2)
        supported = _supported(lap_graph, observed_rows, len(nodes))
        if model_graph is not None:  # quantized copies carry their parent's weights
            for i in range(n_models, len(nodes)):
                target = model_graph.canonical(nodes[i])
                if target != nodes[i] and target in index:
                    P[i] = P[index[target]]
                    supported[i] = supported[index[target]]
        self._set_fitted(nodes, matrix.items, matrix.item_benchmarks, counts, P, Q, kappa, supported)
        self.loss_curve_ = [float(v) for v in curve]
        self.n_iter_ = int(n_iter)
        self._count_scale = scale
        return self

    def _check_params(self) -> None:
        if not (isinstance(self.n_factors, (int, np.integer)) and self.n_factors >= 1):
            raise InvalidInputError(f"n_factors must be a positive integer, got {self.n_factors!r}.")
        for name in ("lambda_lineage", "lambda_instance", "reg"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise InvalidInputError(f"{name} must be a finite number >= 0, got {getattr(self, name)!r}.")
        if self.solver not in ("fast", "reference"):
            raise InvalidInputError(f"Unknown solver {self.solver!r}: expected 'fast' or 'reference'.")
        if self.chance not in (None, "items"):
            raise InvalidInputError(f"Unknown chance {self.chance!r}: expected None or 'items'.")
        if self.max_iter < 1 or not self.tol >= 0:
            raise InvalidInputError(f"max_iter must be >= 1 and tol >= 0, got {self.max_iter!r}, {self.tol!r}.")

    def _init_params(self, problem: Problem, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
        # Spectral start for the evaluated rows; unevaluated nodes start at 0, so adding them to
        # the graph does not change the starting point of everything else.
        from hub_lineage.model.solvers.gauss_newton import spectral_init

        P_obs, Q = spectral_init(problem, np.random.default_rng(self.random_state))
        P = np.zeros((n_nodes, problem.width))
        P[:problem.n_rows] = P_obs
        return P, Q

    def _set_fitted(self, nodes, items, item_benchmarks, counts, P, Q, kappa, supported) -> None:
        d = self.n_factors
        self.nodes_ = list(nodes)
        self.node_index_ = {n: i for i, n in enumerate(self.nodes_)}
        self.items_ = list(items)
        self.item_benchmarks_ = list(item_benchmarks)
        self.item_counts_ = np.asarray(counts, dtype=np.float32)
        self.model_factors_ = np.ascontiguousarray(P[:, :d])
        self.instance_factors_ = np.ascontiguousarray(Q[:, :d])
        self.model_bias_ = P[:, d].copy() if self.biases else np.zeros(len(nodes))
        self.item_bias_ = Q[:, d].copy() if self.biases else np.zeros(len(items))
        self._kappa = kappa
        self._supported = np.asarray(supported, dtype=bool)

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_factors_"):
            raise NotFittedError("This LRMF is not fitted yet: call fit(matrix, model_graph) first.")

    def _params(self, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        P = self.model_factors_ if rows is None else self.model_factors_[rows]
        bias = self.model_bias_ if rows is None else self.model_bias_[rows]
        if self.biases:
            return np.column_stack([P, bias]), np.column_stack([self.instance_factors_, self.item_bias_])
        return np.array(P, dtype=np.float64), self.instance_factors_

    def _proba(self, P: np.ndarray) -> np.ndarray:
        d = self.n_factors
        x = P[:, :d] @ self.instance_factors_.T
        if self.biases:
            x = x + P[:, d][:, None] + self.item_bias_[None, :]
        s = 1.0 / (1.0 + np.exp(-x))
        return s if self._kappa is None else self._kappa + (1 - self._kappa) * s

    # -- prediction ---------------------------------------------------------------------------

    def predict_proba(self, models: Sequence[str]) -> np.ndarray:
        """Probability of a correct answer, shape (len(models), n_items), for fitted nodes."""
        self._check_fitted()
        rows = []
        for m in models:
            i = self.node_index_.get(m)
            if i is None:
                raise InvalidInputError(
                    f"Model {m!r} is not a node of this fit ({len(self.nodes_)} nodes): score a new "
                    f"model with fold_in_proba(graph, [{m!r}]) and its lineage.")
            if not self._supported[i]:
                raise NoLineageError(
                    f"Model {m!r} has no observations and no path to any evaluated model in the "
                    f"lineage graph, so nothing can be predicted for it.")
            rows.append(i)
        return self._proba(self._params(np.asarray(rows, dtype=int))[0])

    def fold_in(self, graph: LineageGraph, models: Sequence[str],
                observations: ObservationMatrix | None = None) -> np.ndarray:
        """Factors (len(models), n_factors) of new models, without refitting.

        Every node of ``graph`` outside ``nodes_`` is new; its links to fitted nodes and to other
        new nodes come from ``graph`` (same ``relation_weights`` as the fit). Without observations
        the result is the harmonic extension of the fitted neighbours (the optimum of the fit's
        objective with everything fitted held fixed); with ``observations`` (k-shot) their
        likelihood, weighted per instance as in the fit, is added and solved by Newton steps.
        Fitted models in ``models`` return their fitted factors.
        """
        return self._fold_in(graph, models, observations)[:, :self.n_factors]

    def fold_in_proba(self, graph: LineageGraph, models: Sequence[str],
                      observations: ObservationMatrix | None = None) -> np.ndarray:
        """Predicted probabilities (len(models), n_items) of new models; see :meth:`fold_in`."""
        return self._proba(self._fold_in(graph, models, observations))

    def _fold_in(self, graph, models, observations) -> np.ndarray:
        self._check_fitted()
        return fold_in_params(self, graph, list(models), observations)

    # -- persistence --------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the fitted model to the directory ``path`` (``lrmf.json`` + ``lrmf.npz``)."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = {"format": _FORMAT, "params": self.get_params(), "nodes": self.nodes_, "items": self.items_,
                "item_benchmarks": self.item_benchmarks_, "n_iter": self.n_iter_,
                "loss_curve": self.loss_curve_, "count_scale": self._count_scale}
        arrays = {"model_factors": self.model_factors_, "instance_factors": self.instance_factors_,
                  "model_bias": self.model_bias_, "item_bias": self.item_bias_,
                  "item_counts": self.item_counts_, "supported": self._supported}
        if self._kappa is not None:
            arrays["kappa"] = self._kappa
        tmp_npz, tmp_json = path / "lrmf.npz.tmp", path / "lrmf.json.tmp"
        with open(tmp_npz, "wb") as fh:
            np.savez(fh, **arrays)
        tmp_json.write_text(json.dumps(meta))
        tmp_npz.replace(path / "lrmf.npz")
        tmp_json.replace(path / "lrmf.json")

    @classmethod
    def load(cls, path: str | Path) -> LRMF:
        """Read a model written by :meth:`save` (no pickle)."""
        path = Path(path)
        if not (path / "lrmf.json").is_file() or not (path / "lrmf.npz").is_file():
            raise NotFittedError(f"No saved LRMF in {str(path)!r}: expected lrmf.json and lrmf.npz there.")
        meta = json.loads((path / "lrmf.json").read_text())
        if meta.get("format") != _FORMAT:
            raise InvalidInputError(f"{str(path)!r} holds format {meta.get('format')!r}, not {_FORMAT!r}.")
        model = cls(**meta["params"])
        with np.load(path / "lrmf.npz", allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        d = model.n_factors
        P = np.column_stack([arrays["model_factors"], arrays["model_bias"]])
        Q = np.column_stack([arrays["instance_factors"], arrays["item_bias"]])
        model._set_fitted(meta["nodes"], meta["items"], meta["item_benchmarks"], arrays["item_counts"],
                          P if model.biases else P[:, :d], Q if model.biases else Q[:, :d],
                          arrays.get("kappa"), arrays["supported"])
        model.loss_curve_ = meta["loss_curve"]
        model.n_iter_ = meta["n_iter"]
        model._count_scale = meta["count_scale"]
        return model


# -- problem pieces ---------------------------------------------------------------------------

def _chance_levels(chance: str | None, item_benchmarks: Sequence[str]) -> np.ndarray | None:
    if chance is None:
        return None
    levels = {b: (BY_KEY[b].chance if b in BY_KEY else 0.0) for b in set(item_benchmarks)}
    return np.array([levels[b] for b in item_benchmarks], dtype=np.float64)


def _item_laplacian(graph: sp.spmatrix, n_items: int) -> sp.csr_matrix:
    import scipy.sparse as sp

    adjacency = sp.csr_matrix(graph, dtype=np.float64)
    if adjacency.shape != (n_items, n_items):
        raise InvalidInputError(f"instance_graph has shape {adjacency.shape}, but the matrix has "
                                f"{n_items} items: it must be (n_items, n_items).")
    if adjacency.nnz and (adjacency.data < 0).any():
        raise InvalidInputError("instance_graph has negative weights: an adjacency must be >= 0.")
    adjacency = adjacency.maximum(adjacency.T)
    adjacency.setdiag(0)
    adjacency.eliminate_zeros()
    return (sp.diags(np.asarray(adjacency.sum(axis=1)).ravel()) - adjacency).tocsr()


def _supported(lap: sp.csr_matrix, observed: np.ndarray, n_nodes: int) -> np.ndarray:
    """Nodes that are observed or connected to an observed node."""
    from scipy.sparse.csgraph import connected_components

    observed = np.concatenate([observed, np.zeros(n_nodes - len(observed), dtype=bool)])
    if lap.nnz == 0:
        return observed
    _, labels = connected_components(lap, directed=False)
    return np.isin(labels, np.unique(labels[observed]))
