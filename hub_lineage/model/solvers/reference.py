"""The LRMF objective written the plain way, and a reference solver over it.

This module is the definition the fast solver in :mod:`hub_lineage.model.solvers.gauss_newton` is tested
against: the exact loss and its full-batch gradient in float64 NumPy, minimised with L-BFGS. It is simple on
purpose and only meant for small problems (tests, a few hundred models).

The objective (``n_i`` = instances behind item ``i``, ``N`` = sum of ``n_i`` over observed cells,
``R`` = number of evaluated models)::

    J = (R/N) sum_{(m,i) observed} n_i * BCE(y_mi, p_mi)          (R x mean BCE per instance)
        + tr(P^T L_M P) + tr(Q^T L_X Q)                           (Laplacians pre-scaled by lambdas)
        + reg * (||P||^2 + ||Q||^2)

    p_mi = kappa_i + (1 - kappa_i) * sigmoid(x_mi),   x_mi = u_m . v_i (+ b_m + c_i)

``P = [U | b]`` (one row per lineage node) and ``Q = [V | c]`` (one row per item); the bias
columns exist only with ``biases=True`` and are regularised like the factors (so a cold-start node
inherits its neighbours' bias too). ``kappa_i`` is the chance level of the item's benchmark
(``chance="items"``) or 0. Dividing by ``N`` makes the lambdas mean the same on any data set: a
binary cell and an aggregate cell over ``n`` instances both count per instance.

Why ``R/N`` rather than the plain mean ``1/N``: with it each model's likelihood weighs as its own
mean BCE, so ``lambda_lineage = 1`` means "one lineage edge pulls as hard as one model's data" and
``reg`` keeps its meaning whether there are 30 models or 3,000 (with ``1/N`` every regulariser
would have to shrink with the number of models). It is the DESIGN's "mean BCE over observed
cells" scaled by the constant ``R``, so the minimiser for given lambdas scaled by ``1/R`` is the
same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class Problem:
    """One LRMF fitting problem, ready for a solver.

    Attributes
    ----------
    y : ndarray (n_rows, n_items), float32
        Observed fractions, 0 where missing (rows = the first ``n_rows`` lineage nodes).
    w : ndarray (n_rows, n_items), float32
        Cell weights ``n_i R / N`` where observed, 0 where missing.
    kappa : ndarray (n_items,) or None
        Chance level per item (None = plain sigmoid).
    lap_model : csr_matrix (n_nodes, n_nodes)
        ``lambda_lineage * L_M``.
    lap_item : csr_matrix (n_items, n_items) or None
        ``lambda_instance * L_X``.
    reg : float
        L2 weight on every parameter.
    n_factors : int
        ``d``; parameters have ``d + 1`` columns when ``biases``.
    biases : bool
    """

    y: np.ndarray
    w: np.ndarray
    kappa: np.ndarray | None
    lap_model: sp.csr_matrix
    lap_item: sp.csr_matrix | None
    reg: float
    n_factors: int
    biases: bool

    @property
    def n_rows(self) -> int:
        return self.y.shape[0]

    @property
    def n_nodes(self) -> int:
        return self.lap_model.shape[0]

    @property
    def n_items(self) -> int:
        return self.y.shape[1]

    @property
    def width(self) -> int:
        """Columns of ``P`` and ``Q``: ``d`` (+1 for the bias)."""
        return self.n_factors + int(self.biases)


def logits(problem: Problem, P: np.ndarray, Q: np.ndarray, rows: slice | np.ndarray = slice(None)) -> np.ndarray:
    """``x = u . v (+ b + c)`` for the given model rows of ``P``: shape (len(rows), n_items)."""
    d = problem.n_factors
    x = P[rows, :d] @ Q[:, :d].T
    if problem.biases:
        x = x + P[rows, d][:, None] + Q[:, d][None, :]
    return x


def cell_terms(x: np.ndarray, y: np.ndarray, kappa: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-cell BCE, its derivative in ``x`` and the Fisher information, in ``x``'s dtype.

    With chance ``kappa`` the loss is not convex in ``x`` (a correct answer may be a lucky guess),
    so solvers use the Fisher information ``(dp/dx)^2 / (p (1 - p))`` as curvature, which equals
    the exact second derivative when ``kappa = 0``.
    """
    e = np.exp(-np.abs(x))
    softplus = np.log1p(e) + np.maximum(x, 0)  # log(1 + exp(x)), overflow-free
    s = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    if kappa is None:
        return softplus - y * x, s - y, s * (1 - s)
    k = kappa.astype(x.dtype)
    with np.errstate(divide="ignore"):
        log_k = np.log(k)
    log_1mk = np.log1p(-k)
    log_p = np.logaddexp(log_k, log_1mk - (softplus - x))
    loss = -y * log_p - (1 - y) * (log_1mk - softplus)
    p = k + (1 - k) * s
    return loss, (p - y) * s / p, (1 - k) * s * s * (1 - s) / p


def objective(problem: Problem, P: np.ndarray, Q: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """The exact objective ``J`` and its gradients ``(dJ/dP, dJ/dQ)``, all in float64."""
    P = np.asarray(P, dtype=np.float64)
    Q = np.asarray(Q, dtype=np.float64)
    n = problem.n_rows
    d = problem.n_factors
    x = logits(problem, P, Q, slice(0, n))
    w = problem.w.astype(np.float64)
    loss, g, _ = cell_terms(x, problem.y.astype(np.float64), problem.kappa)
    g = w * g
    gP = np.zeros_like(P)
    gQ = np.zeros_like(Q)
    gP[:n, :d] = g @ Q[:, :d]
    gQ[:, :d] = g.T @ P[:n, :d]
    if problem.biases:
        gP[:n, d] = g.sum(axis=1)
        gQ[:, d] = g.sum(axis=0)
    value = float((w * loss).sum())
    LP = problem.lap_model @ P
    value += float((P * LP).sum()) + problem.reg * float((P * P).sum() + (Q * Q).sum())
    gP += 2 * LP + 2 * problem.reg * P
    gQ += 2 * problem.reg * Q
    if problem.lap_item is not None:
        LQ = problem.lap_item @ Q
        value += float((Q * LQ).sum())
        gQ += 2 * LQ
    return value, gP, gQ


def fit_reference(problem: Problem, P0: np.ndarray, Q0: np.ndarray, max_iter: int, tol: float,
                  callback=None) -> tuple[np.ndarray, np.ndarray, list[float], int, bool]:
    """Minimise :func:`objective` with L-BFGS from ``(P0, Q0)``.

    Returns ``(P, Q, loss_curve, n_iter, converged)``.
    """
    import scipy.optimize  # 0.6 s of imports: only the reference fit needs it, never predict

    shape_p, shape_q = P0.shape, Q0.shape
    split = P0.size

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, gP, gQ = objective(problem, theta[:split].reshape(shape_p), theta[split:].reshape(shape_q))
        return value, np.concatenate([gP.ravel(), gQ.ravel()])

    curve: list[float] = []

    def record(intermediate_result: scipy.optimize.OptimizeResult) -> None:
        curve.append(float(intermediate_result.fun))
        if callback is not None:
            callback(len(curve), curve[-1])

    theta0 = np.concatenate([P0.ravel(), Q0.ravel()]).astype(np.float64)
    result = scipy.optimize.minimize(fun, theta0, jac=True, method="L-BFGS-B", callback=record,
                                     options={"maxiter": max_iter, "ftol": tol, "gtol": 1e-10})
    theta = result.x
    return (theta[:split].reshape(shape_p), theta[split:].reshape(shape_q), curve, int(result.nit),
            bool(result.success))
