"""Lineage-Regularized Matrix Factorization (LRMF): the estimator.

``p[m, i] = kappa_i + (1 - kappa_i) * sigmoid(u_m . v_i (+ b_m + c_i))``, fitted by minimising the
objective defined in :mod:`hub_lineage.lrmf_reference` (mean BCE per instance over observed cells,
plus the lineage Laplacian, the instance Laplacian and L2). Every lineage node gets a factor row,
also models without observations, so relatives several hops apart pull on each other through
unevaluated intermediate models; a model with no observations ends up at the harmonic extension of
its neighbours, which is what :meth:`LRMF.fold_in` computes in closed form for new nodes.

Solver (``solver="fast"``): alternating damped Newton (Fisher scoring) on the model side and the
item side. Each half-step makes one blocked pass over the dense observations (float32 BLAS
matmuls: logits, gradient, curvature on a subsample of the other side when the matrix is large),
then solves the coupled Newton system ``(blockdiag(H) + 2 L + 2 reg I) delta = -grad`` with
block-Jacobi preconditioned conjugate gradients, so unevaluated nodes move together with their
evaluated relatives. Steps that increase the exact objective are rejected and damped
(Levenberg-Marquardt), so the objective never goes up. ``solver="reference"`` minimises the same
objective with plain L-BFGS (small problems, tests). See docs/performance.md for why.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from hub_lineage.benchmarks import BY_KEY
from hub_lineage.errors import InvalidInputError, ModelFitError, NoLineageError, NotFittedError
from hub_lineage.graph import LineageGraph
from hub_lineage.lrmf_reference import Problem, cell_terms, fit_reference
from hub_lineage.matrix import ObservationMatrix

_BLOCK_CELLS = 1 << 20   # cells per row block of a pass: temporaries stay in cache
_HESS_CELLS = 1 << 23    # cells behind the curvature of one pass (subsampled beyond)
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
            Symmetric non-negative item adjacency (e.g. :func:`hub_lineage.embed.knn_graph`).
        callback : callable(iteration: int, loss: float) or None
            Called after every iteration.
        """
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
        scale = float((mask * counts[None, :].astype(np.float64)).sum()) / int(mask.any(axis=1).sum())
        w = np.where(mask, counts[None, :] / np.float32(scale), np.float32(0)).astype(np.float32)
        y = np.where(mask, values, np.float32(0)).astype(np.float32)
        kappa = _chance_levels(self.chance, matrix.item_benchmarks)
        problem = Problem(y, w, kappa, lap_model.tocsr(), None if lap_item is None else lap_item.tocsr(),
                          float(self.reg), int(self.n_factors), bool(self.biases))
        P, Q = self._init_params(problem, len(nodes))
        if self.solver == "reference":
            P, Q, curve, n_iter, converged = fit_reference(problem, P, Q, self.max_iter, self.tol, callback)
        else:
            P, Q, curve, n_iter, converged = _FastSolver(problem, self.verbose).run(
                P, Q, self.max_iter, self.tol, callback, np.random.default_rng(self.random_state))
        if not (np.isfinite(P).all() and np.isfinite(Q).all()):
            raise ModelFitError(f"LRMF factors went NaN/inf (reg={self.reg}, lambda_lineage="
                                f"{self.lambda_lineage}): increase reg or lower the lambdas.")
        if not converged:
            warnings.warn(
                f"LRMF stopped after max_iter={self.max_iter} iterations before the objective's "
                f"relative change fell below tol={self.tol}: increase max_iter (or tol).",
                ConvergenceWarning, stacklevel=2)
        supported = _supported(lap_graph, mask.any(axis=1), len(nodes))
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
        # Only evaluated models get random rows (drawn after the items'), so adding unevaluated
        # nodes to the graph does not change the starting point of everything else.
        rng = np.random.default_rng(self.random_state)
        k = problem.width
        Q = rng.normal(0.0, 0.1, (problem.n_items, k))
        P = np.zeros((n_nodes, k))
        P[:problem.n_rows] = rng.normal(0.0, 0.1, (problem.n_rows, k))
        if problem.biases:
            Q[:, -1] = 0.0
            P[:, -1] = 0.0
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
        return _fold_in_params(self, graph, list(models), observations)

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
    observed = np.concatenate([observed, np.zeros(n_nodes - len(observed), dtype=bool)])
    if lap.nnz == 0:
        return observed
    _, labels = connected_components(lap, directed=False)
    return np.isin(labels, np.unique(labels[observed]))


def _packed_outer(F: np.ndarray) -> np.ndarray:
    """Row-wise upper triangle of ``f f^T``: (n, k) -> (n, k (k + 1) / 2)."""
    iu, ju = np.triu_indices(F.shape[1])
    return F[:, iu] * F[:, ju]


def _unpack(H: np.ndarray, k: int) -> np.ndarray:
    iu, ju = np.triu_indices(k)
    out = np.empty((H.shape[0], k, k))
    out[:, iu, ju] = H
    out[:, ju, iu] = H
    return out


def solve_newton(blocks: np.ndarray, lap: sp.csr_matrix | None, reg: float, grad: np.ndarray,
                 max_cg: int = 200, rtol: float = 1e-5) -> np.ndarray:
    """Solve ``(blockdiag(blocks) + 2 lap + 2 reg I) X = -grad`` by block-Jacobi PCG.

    ``blocks`` (n_obs, k, k) are the curvature blocks of the first ``n_obs`` rows of ``grad``
    (n, k); the other rows only have the quadratic terms.
    """
    n, k = grad.shape
    n_obs = blocks.shape[0]
    deg = 2 * reg + (2 * lap.diagonal() if lap is not None else np.zeros(n))
    pre = blocks + deg[:n_obs, None, None] * np.eye(k)
    pre_inv = np.linalg.inv(pre)
    scalar = 1.0 / np.maximum(deg, 1e-300)

    def precond(R: np.ndarray) -> np.ndarray:
        Z = R * scalar[:, None]
        Z[:n_obs] = np.matmul(pre_inv, R[:n_obs, :, None])[:, :, 0]
        return Z

    if lap is None or lap.nnz == 0:
        return precond(-grad)

    def apply(D: np.ndarray) -> np.ndarray:
        out = 2 * (lap @ D) + 2 * reg * D
        out[:n_obs] += np.matmul(blocks, D[:n_obs, :, None])[:, :, 0]
        return out

    b = -grad
    X = np.zeros_like(b)
    R = b.copy()
    Z = precond(R)
    D = Z.copy()
    rz = float((R * Z).sum())
    stop = rtol * float(np.sqrt((b * b).sum()))
    for _ in range(max_cg):
        AD = apply(D)
        alpha = rz / float((D * AD).sum())
        X += alpha * D
        R -= alpha * AD
        if float(np.sqrt((R * R).sum())) <= stop:
            break
        Z = precond(R)
        rz_new = float((R * Z).sum())
        D = Z + (rz_new / rz) * D
        rz = rz_new
    return X


class _FastSolver:
    """Alternating damped Newton over blocked float32 passes; see the module docstring."""

    def __init__(self, problem: Problem, verbose: bool = False) -> None:
        self.p = problem
        self.verbose = verbose

    def reg_value(self, P: np.ndarray, Q: np.ndarray) -> float:
        p = self.p
        value = float((P * (p.lap_model @ P)).sum()) + p.reg * float((P * P).sum() + (Q * Q).sum())
        if p.lap_item is not None:
            value += float((Q * (p.lap_item @ Q)).sum())
        return value

    def features(self, A: np.ndarray) -> np.ndarray:
        """The other side's parameters as features: the bias column becomes a constant 1."""
        F = A.astype(np.float32)
        if self.p.biases:
            F[:, -1] = 1.0
        return F

    def evaluate(self, P: np.ndarray, Q: np.ndarray, side: str | None, rng: np.random.Generator):
        """One pass: ``(J, grad, curvature blocks)`` for ``side`` ("model", "item" or None)."""
        p = self.p
        n, n_items, d, k = p.n_rows, p.n_items, p.n_factors, p.width
        P32, Q32 = P[:n].astype(np.float32), Q.astype(np.float32)
        kappa = None if p.kappa is None else p.kappa.astype(np.float32)
        block = max(1, _BLOCK_CELLS // n_items)
        grad = hess = None
        if side == "model":
            F = self.features(Q)
            cols = None if n * n_items <= _HESS_CELLS else np.sort(
                rng.choice(n_items, max(4 * k, _HESS_CELLS // n), replace=False))
            FF = _packed_outer(F if cols is None else F[cols])
            grad = np.zeros((n, k))
            hess = np.zeros((n, FF.shape[1]))
        elif side == "item":
            F = self.features(P[:n])
            sample = (np.ones(n, bool) if n * n_items <= _HESS_CELLS
                      else np.isin(np.arange(n), rng.choice(n, max(4 * k, _HESS_CELLS // n_items), replace=False)))
            grad = np.zeros((n_items, k))
            h_rows: list[np.ndarray] = []
            h_total = np.zeros(n_items)
        loss = 0.0
        for start in range(0, n, block):
            b = slice(start, min(n, start + block))
            x = P32[b, :d] @ Q32[:, :d].T
            if p.biases:
                x += P32[b, d][:, None]
                x += Q32[:, d][None, :]
            w = p.w[b]
            ell, g, h = cell_terms(x, p.y[b], kappa)
            loss += float(np.einsum("ij,ij->", w, ell, dtype=np.float64))
            if side is None:
                continue
            g *= w
            h *= w
            if side == "model":
                grad[b] = g @ F
                if cols is None:
                    hess[b] = h @ FF
                else:
                    hs = h[:, cols]
                    ratio = h.sum(axis=1) / np.maximum(hs.sum(axis=1), 1e-30)
                    hess[b] = (hs @ FF) * ratio[:, None]
            else:
                grad += g.T @ F[b]
                h_total += h.sum(axis=0)
                h_rows.append(h[sample[b]])
        if side == "item":
            hs = np.concatenate(h_rows)
            hess = hs.T @ _packed_outer(F[sample])
            hess = hess * (h_total / np.maximum(hs.sum(axis=0), 1e-30))[:, None]
        return loss + self.reg_value(P, Q), grad, hess

    def step(self, side: str, A: np.ndarray, grad: np.ndarray, hess: np.ndarray, mu: float) -> np.ndarray:
        """The damped Newton step for side ``side`` whose parameters are ``A``."""
        p = self.p
        k = p.width
        lap = p.lap_model if side == "model" else p.lap_item
        full = 2 * p.reg * A
        full[:grad.shape[0]] += grad
        if lap is not None:
            full += 2 * (lap @ A)
        blocks = _unpack(hess, k)
        trace = np.trace(blocks, axis1=1, axis2=2) / k
        blocks += (mu * trace + 1e-12)[:, None, None] * np.eye(k)
        return solve_newton(blocks, lap, p.reg, full)

    def run(self, P, Q, max_iter, tol, callback, rng):
        sides = ("model", "item")
        mu = {"model": 1e-2, "item": 1e-2}
        curve: list[float] = []
        accepted = np.inf
        pending = None  # (side, old params, grad, hess) of the step being tried
        half = 0
        converged = False
        while True:
            side = sides[half % 2]
            J, grad, hess = self.evaluate(P, Q, side, rng)
            if not np.isfinite(J):
                raise ModelFitError(f"The LRMF objective became {J} at iteration {len(curve)}: "
                                    "increase reg or lower the lambdas.")
            if pending is not None and J > accepted:
                p_side, old, p_grad, p_hess = pending
                mu[p_side] *= 10.0
                if p_side == "model":
                    P = old
                else:
                    Q = old
                if mu[p_side] > 1e8:  # no descent direction left: at a (numerical) optimum
                    converged = True
                    break
                A = P if p_side == "model" else Q
                new = A + self.step(p_side, A, p_grad, p_hess, mu[p_side])
                P, Q = (new, Q) if p_side == "model" else (P, new)
                pending = (p_side, old, p_grad, p_hess)
                continue
            if pending is not None:
                mu[pending[0]] = max(mu[pending[0]] / 3.0, 1e-6)
            accepted = J
            if half % 2 == 0:
                curve.append(J)
                if self.verbose:
                    print(f"LRMF iteration {len(curve) - 1}: objective {J:.6g}", file=sys.stderr)
                if callback is not None:
                    callback(len(curve) - 1, J)
                if len(curve) >= 2 and curve[-2] - curve[-1] <= tol * abs(curve[-1]):
                    converged = True
                    break
                if len(curve) > max_iter:
                    break
            A = P if side == "model" else Q
            new = A + self.step(side, A, grad, hess, mu[side])
            pending = (side, A, grad, hess)
            P, Q = (new, Q) if side == "model" else (P, new)
            half += 1
        return P, Q, curve, len(curve) - 1, converged


# -- fold-in ----------------------------------------------------------------------------------

def _fold_in_params(model: LRMF, graph: LineageGraph, models: list[str],
                    observations: ObservationMatrix | None) -> np.ndarray:
    """Parameter rows (len(models), width) of ``models``; new nodes solved with the fit held fixed."""
    index = model.node_index_
    P_fit, Q = model._params()
    observed: dict[str, int] = {}
    if observations is not None:
        for r, m in enumerate(observations.models):
            if m in index:
                raise InvalidInputError(f"Model {m!r} is already fitted: refit to use its new observations.")
            observed[m] = r
    source: dict[str, str] = {}  # requested model -> the node whose row it takes
    seeds: list[str] = list(observed)
    for m in models:
        target = graph.canonical(m) if m in graph and m not in observed else m
        if m in index:
            target = m
        elif target != m and target not in index and target not in graph:
            target = m
        source[m] = target
        if target not in index:
            seeds.append(target)
    new, boundary = _new_component(graph, seeds, index)
    rows = _solve_new(model, graph, new, boundary, observed, observations, P_fit, Q)
    out = np.empty((len(models), P_fit.shape[1]))
    for j, m in enumerate(models):
        target = source[m]
        if target in index:
            if not model._supported[index[target]]:
                raise NoLineageError(f"Model {m!r} has no observations and no path to any evaluated model.")
            out[j] = P_fit[index[target]]
        else:
            row, ok = rows[target]
            if not ok:
                raise NoLineageError(
                    f"Model {m!r} has no observations and no lineage path to any fitted model, so "
                    f"nothing can be predicted for it (never a silent 0.5): give its parents in the graph.")
            out[j] = row
    return out


def _new_component(graph: LineageGraph, seeds: list[str], index: Mapping[str, int]) -> tuple[list[str], list[str]]:
    """New nodes reachable from ``seeds`` through new nodes, and the fitted nodes bordering them."""
    new = dict.fromkeys(seeds)
    boundary: dict[str, None] = {}
    queue = deque(seeds)
    while queue:
        node = queue.popleft()
        for edge in [*graph.parents(node), *graph.children(node)]:
            other = edge.parent if edge.child == node else edge.child
            if other in index:
                boundary[other] = None
            elif other not in new:
                new[other] = None
                queue.append(other)
    return list(new), list(boundary)


def _solve_new(model: LRMF, graph: LineageGraph, new: list[str], boundary: list[str],
               observed: Mapping[str, int], observations: ObservationMatrix | None,
               P_fit: np.ndarray, Q: np.ndarray) -> dict[str, tuple[np.ndarray, bool]]:
    if not new:
        return {}
    new = [n for n in new if n in observed] + [n for n in new if n not in observed]
    n_obs = sum(n in observed for n in new)
    order = new + boundary
    n = len(new)
    if model.lambda_lineage > 0:
        A = graph.subgraph([o for o in order if o in graph]).adjacency(
            order, relation_weights=model.relation_weights, collapse_quantized=True) * float(model.lambda_lineage)
    else:
        A = sp.csr_matrix((len(order), len(order)))
    A = A.tocsr()
    A_nn, A_nb = A[:n, :n], A[:n, n:]
    lap = (sp.diags(np.asarray(A[:n].sum(axis=1)).ravel()) - A_nn).tocsr()
    P_b = P_fit[[model.node_index_[b] for b in boundary]] if boundary else np.zeros((0, P_fit.shape[1]))
    pull = A_nb @ P_b
    reg = float(model.reg)
    # Harmonic extension: (L_NN + reg I) P_N = A_NB P_B (the fit's optimality condition).
    system = (lap + reg * sp.identity(n)).tocsc()
    if n <= 400:
        P_new = np.linalg.solve(system.toarray(), pull) if reg > 0 or lap.nnz else np.zeros_like(pull)
    else:
        P_new = sp.linalg.spsolve(system, pull).reshape(pull.shape)
    supported_b = np.array([model._supported[model.node_index_[b]] for b in boundary], dtype=bool)
    ok = np.zeros(n, dtype=bool)
    ok[:n_obs] = True
    if boundary:
        ok |= np.asarray((A_nb[:, supported_b] > 0).sum(axis=1)).ravel() > 0
    if n > 1:
        _, labels = connected_components(A_nn, directed=False)
        ok = np.isin(labels, np.unique(labels[ok]))
    if n_obs:
        P_new = _newton_observed(model, new[:n_obs], observations, observed, Q, lap, pull, P_new)
    return {node: (P_new[i], bool(ok[i])) for i, node in enumerate(new)}


def _newton_observed(model: LRMF, obs_nodes: list[str], observations: ObservationMatrix,
                     observed: Mapping[str, int], Q: np.ndarray, lap: sp.csr_matrix, pull: np.ndarray,
                     P_new: np.ndarray, steps: int = 20) -> np.ndarray:
    """Newton steps (Fisher scoring, halving) on the new nodes' objective with their observations."""
    item_pos = {it: j for j, it in enumerate(model.items_)}
    cols = np.array([item_pos.get(it, -1) for it in observations.items])
    keep = cols >= 0
    if not keep.any():
        raise InvalidInputError("None of the observations' items are items of this fit: nothing to fold in.")
    values = observations.values[[observed[m] for m in obs_nodes]][:, keep].astype(np.float64)
    cols = cols[keep]
    mask = ~np.isnan(values)
    w = np.where(mask, model.item_counts_[cols][None, :] / model._count_scale, 0.0)
    y = np.where(mask, values, 0.0)
    kappa = None if model._kappa is None else model._kappa[cols]
    d, k, reg, n_obs = model.n_factors, P_new.shape[1], float(model.reg), len(obs_nodes)
    F = np.array(Q[cols], dtype=np.float64)
    c = F[:, d].copy() if model.biases else 0.0
    if model.biases:
        F[:, d] = 1.0

    def objective(P: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        x = P[:n_obs] @ F.T + c
        ell, g, h = cell_terms(x, y, kappa)
        value = float((w * ell).sum() + (P * (lap @ P)).sum() - 2 * (P * pull).sum() + reg * (P * P).sum())
        grad = 2 * (lap @ P) - 2 * pull + 2 * reg * P
        grad[:n_obs] += (w * g) @ F
        return value, grad, (w * h)

    value, grad, h = objective(P_new)
    for _ in range(steps):
        blocks = np.einsum("ni,ij,ik->njk", h, F, F)
        delta = solve_newton(blocks, lap, reg, grad)
        t = 1.0
        while t > 1e-4:
            cand = P_new + t * delta
            new_value, new_grad, new_h = objective(cand)
            if new_value <= value:
                break
            t /= 2
        else:
            break
        converged = value - new_value <= 1e-10 * max(abs(value), 1e-12)
        P_new, value, grad, h = cand, new_value, new_grad, new_h
        if converged:
            break
    return P_new
