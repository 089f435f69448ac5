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

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hub_lineage.benchmarks import BY_KEY
from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.errors import InvalidInputError, ModelFitError, NoLineageError
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.model.base import ConvergenceWarning, Estimator, check_is_fitted
from hub_lineage.model.factors import FittedFactors
from hub_lineage.model.foldin import fold_in

if TYPE_CHECKING:  # scipy and the solvers load in fit() only: predicting never needs them
    import scipy.sparse as sp

    from hub_lineage.model.solvers.reference import Problem

logger = logging.getLogger(__name__)


class LRMF(Estimator):
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
    solver : {"fast", "reference", "torch"}
        ``"torch"`` (optional, :mod:`hub_lineage.model.solvers.torch_solver`): L-BFGS in PyTorch, on
        CUDA when available (``"torch:cpu"``, ``"torch:cuda"`` choose).
    verbose : bool
        Log the objective per iteration (logger ``hub_lineage.model.solvers.gauss_newton``, INFO).

    Attributes
    ----------
    factors_ : FittedFactors
        The whole fitted state (what :meth:`save` writes and fold-in reads).
    model_factors_ : ndarray (n_nodes, n_factors)
    instance_factors_ : ndarray (n_items, n_factors)
    model_bias_, item_bias_ : ndarray (n_nodes,), (n_items,)
        Zeros without ``biases``.
    nodes_, node_index_, items_, item_benchmarks_, item_counts_
        Row and column names of the fit.
    loss_curve_ : list of float
        Objective after each iteration.
    n_iter_ : int
    """

    def __init__(self, n_factors: int = 32, *, lambda_lineage: float = 1.0, lambda_instance: float = 0.0,
                 reg: float = 1e-2, biases: bool = False, relation_weights: Mapping[str, float] | None = None,
                 chance: str | None = None, max_iter: int = 100, tol: float = 1e-5,
                 random_state: int | None = None, solver: str = "fast", verbose: bool = False) -> None:
        # Only stored (the estimator contract): fit validates them, get_params reads them back.
        # The objective: factors, graph penalties, L2; then the model's shape beyond the paper's formula.
        self.n_factors = n_factors
        self.lambda_lineage = lambda_lineage
        self.lambda_instance = lambda_instance
        self.relation_weights = relation_weights
        self.reg = reg
        self.biases, self.chance = biases, chance
        # The solver.
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    # -- fitting ------------------------------------------------------------------------------

    def fit(self, matrix: ObservationMatrix, model_graph: LineageGraph | None = None,
            instance_graph: sp.spmatrix | None = None,
            callback: Callable[[int, float], None] | None = None) -> LRMF:
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

        from hub_lineage.model.solvers.gauss_newton import FastSolver
        from hub_lineage.model.solvers.prep import targets_and_weights
        from hub_lineage.model.solvers.reference import Problem, fit_reference

        self._check_params()
        values = matrix.values
        n_models, n_items = values.shape
        if n_models == 0 or n_items == 0:
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
        # One float32 copy each (no float64 or broadcast temporaries: 260 MB each at 65M cells).
        y, w, scale, observed_rows = targets_and_weights(values, counts)
        if not observed_rows.any():
            raise InvalidInputError(f"Cannot fit LRMF on {matrix!r}: it has no observed cell.")
        kappa = _chance_levels(self.chance, matrix.item_benchmarks)
        problem = Problem(y, w, kappa, lap_model.tocsr(), None if lap_item is None else lap_item.tocsr(),
                          float(self.reg), int(self.n_factors), bool(self.biases))
        P, Q = self._init_params(problem, len(nodes))
        if self.solver == "reference":
            P, Q, curve, n_iter, converged = fit_reference(problem, P, Q, self.max_iter, self.tol, callback)
        elif self.solver.startswith("torch"):  # optional: torch loads only here
            from hub_lineage.model.solvers.torch_solver import fit_torch

            device = self.solver.partition(":")[2] or None
            P, Q, curve, n_iter, converged = fit_torch(problem, P, Q, self.max_iter, self.tol, callback, device)
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
        self._set_fitted(FittedFactors.from_params(
            P, Q, n_factors=int(self.n_factors), biases=bool(self.biases), nodes=nodes,
            items=list(matrix.items), item_benchmarks=list(matrix.item_benchmarks), item_counts=counts,
            kappa=kappa, supported=np.asarray(supported, dtype=bool), count_scale=scale,
            lambda_lineage=float(self.lambda_lineage), reg=float(self.reg), relation_weights=self.relation_weights))
        self.loss_curve_ = [float(v) for v in curve]
        self.n_iter_ = int(n_iter)
        logger.debug("LRMF fitted %d nodes x %d items in %d iterations (objective %.6g)",
                     len(nodes), n_items, self.n_iter_, self.loss_curve_[-1] if self.loss_curve_ else float("nan"))
        return self

    def _check_params(self) -> None:
        if not (isinstance(self.n_factors, (int, np.integer)) and self.n_factors >= 1):
            raise InvalidInputError(f"n_factors must be a positive integer, got {self.n_factors!r}.")
        for name in ("lambda_lineage", "lambda_instance", "reg"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise InvalidInputError(f"{name} must be a finite number >= 0, got {getattr(self, name)!r}.")
        if not (self.solver in ("fast", "reference", "torch")
                or (isinstance(self.solver, str) and self.solver.startswith(("torch:cpu", "torch:cuda")))):
            raise InvalidInputError(f"Unknown solver {self.solver!r}: expected 'fast', 'reference' or 'torch' "
                                    "('torch:cpu', 'torch:cuda[:N]' to choose the device).")
        if self.chance not in (None, "items"):
            raise InvalidInputError(f"Unknown chance {self.chance!r}: expected None or 'items'.")
        if self.max_iter < 1 or not self.tol >= 0:
            raise InvalidInputError(f"max_iter must be >= 1 and tol >= 0, got {self.max_iter!r}, {self.tol!r}.")

    def _init_params(self, problem: Problem, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
        # Spectral start for the evaluated rows; unevaluated nodes start at 0, so adding them to
        # the graph does not change the starting point of everything else.
        from hub_lineage.model.solvers.init import spectral_init

        P_obs, Q = spectral_init(problem, np.random.default_rng(self.random_state))
        P = np.zeros((n_nodes, problem.width))
        P[:problem.n_rows] = P_obs
        return P, Q

    def _set_fitted(self, factors: FittedFactors) -> None:
        """Set the fitted state and its scikit-learn style views (shared arrays, no copies)."""
        self.factors_ = factors
        self.nodes_ = factors.nodes
        self.node_index_ = factors.node_index
        self.items_ = factors.items
        self.item_benchmarks_ = factors.item_benchmarks
        self.item_counts_ = factors.item_counts
        self.model_factors_ = factors.model_factors
        self.instance_factors_ = factors.instance_factors
        self.model_bias_ = factors.model_bias
        self.item_bias_ = factors.item_bias

    # -- prediction ---------------------------------------------------------------------------

    def predict_proba(self, models: Sequence[str]) -> np.ndarray:
        """Probability of a correct answer, shape (len(models), n_items), for fitted nodes."""
        check_is_fitted(self, "factors_")
        factors = self.factors_
        rows = []
        for m in models:
            i = factors.node_index.get(m)
            if i is None:
                raise InvalidInputError(
                    f"Model {m!r} is not a node of this fit ({len(factors.nodes)} nodes): score a new "
                    f"model with fold_in_proba(graph, [{m!r}]) and its lineage.")
            if not factors.supported[i]:
                raise NoLineageError(
                    f"Model {m!r} has no observations and no path to any evaluated model in the "
                    f"lineage graph, so nothing can be predicted for it.")
            rows.append(i)
        return factors.proba(factors.rows(np.asarray(rows, dtype=int)))

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
        check_is_fitted(self, "factors_")
        return fold_in(self.factors_, graph, list(models), observations).rows[:, :self.n_factors]

    def fold_in_proba(self, graph: LineageGraph, models: Sequence[str],
                      observations: ObservationMatrix | None = None) -> np.ndarray:
        """Predicted probabilities (len(models), n_items) of new models; see :meth:`fold_in`."""
        check_is_fitted(self, "factors_")
        return self.factors_.proba(fold_in(self.factors_, graph, list(models), observations).rows)

    # -- persistence --------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the fitted model to the directory ``path`` (``lrmf.json`` + ``lrmf.npz``)."""
        check_is_fitted(self, "factors_")
        self.factors_.save(path, params=self.get_params(), n_iter=self.n_iter_, loss_curve=self.loss_curve_)

    @classmethod
    def load(cls, path: str | Path) -> LRMF:
        """Read a model written by :meth:`save` (no pickle)."""
        factors, meta = FittedFactors.load(path)
        model = cls(**meta["params"])
        model._set_fitted(factors)
        model.loss_curve_ = meta["loss_curve"]
        model.n_iter_ = meta["n_iter"]
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
