"""The fast LRMF solver: alternating Gauss-Newton half-steps over blocked float32 passes.

Each half-step (model side, then item side) makes ONE pass over the dense observations in tiles
of ~128K cells spread over a few threads (single-threaded BLAS each; :mod:`hub_lineage.model.threads`):
logits by a float32 matmul, the per-cell loss, gradient and curvature by in-place ufuncs (no
temporaries beyond three tile buffers per thread), and the gradient by a second matmul. The fit
starts from :func:`~hub_lineage.model.solvers.init.spectral_init` (a randomized SVD of the
centred observations), past the ``U = V = 0`` saddle where small random starts stall.
The Newton system of the side being updated couples its rows through the Laplacian::

    (blockdiag(H_r) + 2 L + 2 reg I) delta = -grad

and is solved by preconditioned conjugate gradients over all rows at once
(:mod:`hub_lineage.model.solvers.linear`), so unevaluated lineage nodes (pure Laplacian + L2 rows)
move together with their evaluated relatives in the same step.

Curvature ``H_r = F^T diag(h_r) F`` (``h`` = weighted Fisher information per cell, ``F`` = the
other side's factors) comes in two forms, chosen by size:

- ``exact``: every row's own ``k x k`` block (small problems: true Newton, few iterations);
- ``shared``: the rank-one model ``h[r, c] ~ a_r b_c`` (``a``, ``b`` = row and column sums of ``h``
  over its total), so ``H_r = a_r F^T diag(b) F``: one ``k x k`` matrix for the whole side, built
  from the pass's row/column sums at no extra cost. Diagonalising it makes the block-Jacobi
  preconditioner exact per row at O(n k) cost. At the paper's scale the exact blocks would cost
  ~68 GFLOP per pass (``h @ (F (x) F)``); the shared form costs nothing extra.

Either way steps that increase the exact objective are rejected and damped (Levenberg-Marquardt),
so the objective never goes up; the objective of a step is computed by the next pass anyway, so a
rejection costs one pass. See docs/performance.md for the measurements behind these choices.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from hub_lineage.errors import ModelFitError
from hub_lineage.model.solvers.linear import solve_blocks, solve_shared, spmm
from hub_lineage.model.solvers.reference import Problem, cell_terms
from hub_lineage.model.threads import n_threads, single_threaded_blas

_TILE_CELLS = 1 << 17       # cells per tile of a pass
_TILE_COLS = 4096            # columns per tile
_EXACT_FLOPS = 2e7          # per-pass budget for exact per-row curvature blocks (else shared)
_CLIP = np.float32(80.0)    # exp(80) is finite in float32; |logit| > 80 never happens in a fit
_PARTS = 4                  # row-block partitions per pass, summed in order whatever the thread count

logger = logging.getLogger(__name__)


class FastSolver:
    """Alternating damped Gauss-Newton for an LRMF :class:`Problem`; see the module docstring.

    Parameters
    ----------
    problem : Problem
    verbose : bool
        Log the objective per iteration at INFO (else at DEBUG).
    curvature : {"auto", "exact", "shared"}
    """

    def __init__(self, problem: Problem, verbose: bool = False, curvature: str = "auto") -> None:
        self.p = problem
        self.verbose = verbose
        k = problem.width
        if curvature == "auto":
            size = problem.n_rows * problem.n_items * k * (k + 1)
            curvature = "exact" if size <= _EXACT_FLOPS else "shared"
        self.curvature = curvature
        self.kappa32 = None if problem.kappa is None else problem.kappa.astype(np.float32)
        self.n_passes = 0
        self._products: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    # -- the pass --------------------------------------------------------------------------

    def lap_product(self, side: str, A: np.ndarray) -> np.ndarray:
        """``lap @ A`` for ``side`` ("model" or "item"), kept for the last ``A`` seen: a pass needs it
        for the objective and the step after it for the gradient, and the other side's parameters
        do not change in a half-step (a sparse product each, 2-3% of a paper-scale fit)."""
        held = self._products.get(side)
        if held is not None and held[0] is A:  # parameters are never changed in place
            return held[1]
        out = spmm(self.p.lap_model if side == "model" else self.p.lap_item, A)
        self._products[side] = (A, out)
        return out

    def reg_value(self, P: np.ndarray, Q: np.ndarray) -> float:
        p = self.p
        value = float((P * self.lap_product("model", P)).sum()) + p.reg * float((P * P).sum() + (Q * Q).sum())
        if p.lap_item is not None:
            value += float((Q * self.lap_product("item", Q)).sum())
        return value

    def features(self, A: np.ndarray) -> np.ndarray:
        """The other side's parameters as float32 features: the bias column becomes a constant 1."""
        F = A.astype(np.float32)
        if self.p.biases:
            F[:, -1] = 1.0
        return F

    def evaluate(self, P: np.ndarray, Q: np.ndarray, side: str | None):
        """One pass at ``(P, Q)``: ``(J, grad, curvature)`` for ``side`` ("model", "item" or None).

        ``grad`` is the likelihood gradient of the side's observed rows (n_rows or n_items, k);
        ``curvature`` is ``(blocks (n, k, k), None)`` in exact mode or ``(scale (n,), H (k, k))``
        in shared mode, so that row r's curvature is ``scale[r] * H``. ``side="both"`` returns
        ``(J, {"model": (grad, curvature), "item": (grad, curvature)})`` from the same pass.
        """
        p = self.p
        n, n_items, d, k = p.n_rows, p.n_items, p.n_factors, p.width
        FP, FQ = self.features(P[:n]), self.features(Q)
        want_p, want_q = side in ("model", "both"), side in ("item", "both")
        exact = self.curvature == "exact"
        # Tiles of ~128K cells (rows x column chunk): the few float32 buffers of a tile stay in
        # L2, which halved the per-cell cost of the ufunc chain (measured 21 -> 11 ms per M cells).
        width = min(n_items, _TILE_COLS)
        block = max(1, min(n, _TILE_CELLS // width))
        starts = list(range(0, n, block))
        chunks = [slice(c, min(n_items, c + width)) for c in range(0, n_items, width)]
        # A fixed partition of the blocks, whatever the thread count, so the sums (and the fit)
        # are the same on 1 core, 2 cores or inside a parallel evaluation's worker.
        n_parts = min(_PARTS, len(starts))
        threads = min(n_threads(), n_parts)
        grad_p = np.zeros((n, k)) if want_p else None
        blocks_p = np.zeros((n, k, k)) if exact and want_p else None
        rows_h = np.zeros(n)
        self.n_passes += 1
        bias_p = P[:n, d].astype(np.float32) if p.biases else None
        bias_q = Q[:, d].astype(np.float32) if p.biases else None

        def work(part: int) -> tuple[float, np.ndarray | None, np.ndarray, np.ndarray | None]:
            # Each thread owns its tile buffers and its item-side sums; model-side rows are disjoint.
            buf = [np.empty((block, width), dtype=np.float32) for _ in range(3)]
            ones = np.ones(max(block, width), dtype=np.float32)
            loss, cols = 0.0, np.zeros(n_items)
            g_items = np.zeros((n_items, k)) if want_q else None
            h_items = np.zeros((n_items, k, k)) if exact and want_q else None
            for start in starts[part::n_parts]:
                b = slice(start, min(n, start + block))
                g_rows = np.zeros((b.stop - b.start, k), dtype=np.float32)
                h_rows = np.zeros(b.stop - b.start)
                for c in chunks:
                    x, g, h = (a[:b.stop - b.start, :c.stop - c.start] for a in buf)
                    np.matmul(FP[b, :d], FQ[c, :d].T, out=x)
                    if p.biases:
                        x += bias_p[b, None]
                        x += bias_q[None, c]
                    y, w = p.y[b, c], p.w[b, c]
                    if self.kappa32 is None:
                        loss += _binary_terms(x, y, w, g, h)
                    else:
                        ell, g, h = cell_terms(x, y, self.kappa32)
                        loss += float(np.einsum("ij,ij->", w, ell, dtype=np.float64))
                        g *= w
                        h *= w
                    if side is None:
                        continue
                    h_rows += h @ ones[:h.shape[1]]      # BLAS gemv: 3x faster than sum(axis)
                    cols[c] += ones[:h.shape[0]] @ h
                    if want_p:
                        g_rows += g @ FQ[c]
                        if exact:
                            blocks_p[b] += np.einsum("rc,ci,cj->rij", h, FQ[c], FQ[c], dtype=np.float64, optimize=True)
                    if want_q:
                        g_items[c] += g.T @ FP[b]
                        if exact:
                            h_items[c] += np.einsum("rc,ri,rj->cij", h, FP[b], FP[b], dtype=np.float64, optimize=True)
                rows_h[b] = h_rows
                if want_p:
                    grad_p[b] = g_rows
            return loss, g_items, cols, h_items

        if threads == 1:
            parts = [work(part) for part in range(n_parts)]
        else:
            with ThreadPoolExecutor(threads) as pool:
                parts = list(pool.map(work, range(n_parts)))
        J = sum(part[0] for part in parts) + self.reg_value(P, Q)
        if side is None:
            return J, None, None
        cols_h = sum(part[2] for part in parts)
        out = {}
        total = max(float(rows_h.sum()), 1e-300)
        if want_p:  # shared: H_r = (a_r / total) F^T diag(b) F with F the items' features
            F = FQ.astype(np.float64)
            out["model"] = (grad_p, (blocks_p, None) if exact else (rows_h / total, (F * cols_h[:, None]).T @ F))
        if want_q:
            grad_q = sum(part[1] for part in parts)
            F = FP.astype(np.float64)
            out["item"] = (grad_q, (sum(part[3] for part in parts), None) if exact
                           else (cols_h / total, (F * rows_h[:, None]).T @ F))
        return (J, out) if side == "both" else (J, *out[side])

    # -- the Newton step -------------------------------------------------------------------

    def step(self, side: str, A: np.ndarray, grad: np.ndarray, curv, mu: float) -> np.ndarray:
        """The damped Newton step for ``side`` whose parameters are ``A`` (n, k)."""
        p = self.p
        lap = p.lap_model if side == "model" else p.lap_item
        full = 2 * p.reg * A
        full[:grad.shape[0]] += grad
        if lap is not None:
            full += 2 * self.lap_product(side, A)
        first, H = curv
        if H is None:
            blocks = first.copy()
            trace = np.trace(blocks, axis1=1, axis2=2) / blocks.shape[1]
            blocks += (mu * trace + 1e-12)[:, None, None] * np.eye(blocks.shape[1])
            return solve_blocks(blocks, lap, p.reg, full)
        H = H + (mu * np.trace(H) / H.shape[0] + 1e-12) * np.eye(H.shape[0])
        return solve_shared(first, H, lap, p.reg, full)

    def run(self, P, Q, max_iter, tol, callback):
        """Alternate model and item half-steps; returns ``(P, Q, curve, n_iter, converged)``."""
        with single_threaded_blas():
            return self._run(P, Q, max_iter, tol, callback)

    def _run(self, P, Q, max_iter, tol, callback):
        sides = ("model", "item")
        mu = {"model": 1e-3, "item": 1e-3}
        curve: list[float] = []
        accepted = np.inf
        pending = None  # (side, old params, grad, curvature) of the step being tried
        half = 0
        converged = False
        while True:
            side = sides[half % 2]
            J, grad, curv = self.evaluate(P, Q, side)
            if not np.isfinite(J):
                raise ModelFitError(f"The LRMF objective became {J} at iteration {len(curve)}: "
                                    "increase reg or lower the lambdas.")
            if pending is not None and J > accepted:
                p_side, old, p_grad, p_curv = pending
                mu[p_side] = max(mu[p_side] * 10.0, 1e-2)
                if p_side == "model":
                    P = old
                else:
                    Q = old
                if mu[p_side] > 1e8:  # no descent direction left: at a (numerical) optimum
                    converged = True
                    break
                A = P if p_side == "model" else Q
                new = A + self.step(p_side, A, p_grad, p_curv, mu[p_side])
                P, Q = (new, Q) if p_side == "model" else (P, new)
                continue
            if pending is not None:
                mu[pending[0]] = max(mu[pending[0]] / 10.0, 1e-6)
            accepted = J
            if half % 2 == 0:
                curve.append(J)
                logger.log(logging.INFO if self.verbose else logging.DEBUG,
                           "LRMF iteration %d: objective %.8g (%d passes)", len(curve) - 1, J, self.n_passes)
                if callback is not None:
                    callback(len(curve) - 1, J)
                if len(curve) >= 2 and curve[-2] - curve[-1] <= tol * abs(curve[-1]):
                    converged = True
                    break
                if len(curve) > max_iter:
                    break
            A = P if side == "model" else Q
            new = A + self.step(side, A, grad, curv, mu[side])
            pending = (side, A, grad, curv)
            P, Q = (new, Q) if side == "model" else (P, new)
            half += 1
        return P, Q, curve, len(curve) - 1, converged


def _binary_terms(x: np.ndarray, y: np.ndarray, w: np.ndarray, t: np.ndarray, u: np.ndarray) -> float:
    """Weighted BCE of the block (returned); gradient ``w (s - y)`` into ``t``, Fisher ``w s (1 - s)`` into ``u``.

    All in place on float32 buffers: ``x`` (logits, clobbered), ``y`` targets, ``w`` weights.
    ``BCE = softplus(-x) + (1 - y) x`` with ``softplus(-x) = log(1 + e^-x)``; ``-x`` is clipped at
    80 so ``e^-x`` stays finite (the loss of a logit below -80 is then off by < e^-80).
    """
    np.negative(x, out=t)
    np.minimum(t, _CLIP, out=t)
    np.exp(t, out=t)
    t += 1.0                       # t = 1 + e^-x
    np.log(t, out=u)               # u = softplus(-x)
    u += x
    x *= y
    u -= x                         # u = BCE
    loss = float(np.einsum("ij,ij->i", u, w).sum(dtype=np.float64))  # 2x faster than u *= w; sum
    np.reciprocal(t, out=t)        # t = s = sigmoid(x)
    np.subtract(1.0, t, out=u)
    u *= t
    u *= w                         # u = w s (1 - s)
    t -= y
    t *= w                         # t = w (s - y)
    return loss
