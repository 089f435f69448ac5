"""The linear systems of LRMF's Newton steps, solved by preconditioned conjugate gradients.

A Newton step of one side couples its rows through the Laplacian::

    (curvature + 2 L + 2 reg I) X = -grad

with the curvature either one ``k x k`` block per row (:func:`solve_blocks`, also the k-shot
fold-in's step) or one shared ``k x k`` matrix scaled per row (:func:`solve_shared`). Both run the
same PCG (:func:`_pcg`) with a block-Jacobi preconditioner that is exact per row.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp


def solve_blocks(blocks: np.ndarray, lap: sp.csr_matrix | None, reg: float, grad: np.ndarray,
                 max_cg: int = 200, rtol: float = 1e-5) -> np.ndarray:
    """Solve ``(blockdiag(blocks) + 2 lap + 2 reg I) X = -grad`` by block-Jacobi PCG.

    ``blocks`` (n_obs, k, k) are the curvature blocks of the first ``n_obs`` rows of ``grad``
    (n, k); the other rows only have the quadratic terms.
    """
    n, k = grad.shape
    n_obs = blocks.shape[0]
    deg = 2 * reg + (2 * lap.diagonal() if lap is not None else np.zeros(n))
    pre_inv = np.linalg.inv(blocks + deg[:n_obs, None, None] * np.eye(k))
    scalar = 1.0 / np.maximum(deg, 1e-300)

    def precond(R: np.ndarray) -> np.ndarray:
        Z = R * scalar[:, None]
        Z[:n_obs] = np.matmul(pre_inv, R[:n_obs, :, None])[:, :, 0]
        return Z

    def apply(D: np.ndarray) -> np.ndarray:
        out = 2 * (lap @ D) + 2 * reg * D
        out[:n_obs] += np.matmul(blocks, D[:n_obs, :, None])[:, :, 0]
        return out

    return _pcg(apply, precond, -grad, lap, max_cg, rtol)


def solve_shared(scale: np.ndarray, H: np.ndarray, lap: sp.csr_matrix | None, reg: float, grad: np.ndarray,
                 max_cg: int = 200, rtol: float = 1e-2) -> np.ndarray:
    """Solve ``(diag(scale) (x) H + (2 lap + 2 reg I) (x) I) X = -grad`` by PCG.

    Row ``r < len(scale)`` has curvature ``scale[r] * H`` (k, k); later rows have none. With
    ``H = E diag(lam) E^T`` the block-Jacobi preconditioner is ``1 / (scale_r lam_j + deg_r)`` in
    the eigenbasis: exact per row, O(n k^2) per application.
    """
    n, k = grad.shape
    n_obs = len(scale)
    lam, E = np.linalg.eigh(H)
    deg = 2 * reg + (2 * lap.diagonal() if lap is not None else np.zeros(n))
    sc = np.zeros(n)
    sc[:n_obs] = scale
    inv = 1.0 / np.maximum(sc[:, None] * np.maximum(lam, 0)[None, :] + deg[:, None], 1e-300)

    def precond(R: np.ndarray) -> np.ndarray:
        return ((R @ E) * inv) @ E.T

    def apply(D: np.ndarray) -> np.ndarray:
        out = 2 * (lap @ D) + 2 * reg * D
        out[:n_obs] += scale[:, None] * (D[:n_obs] @ H)
        return out

    return _pcg(apply, precond, -grad, lap, max_cg, rtol)


def _pcg(apply: Callable[[np.ndarray], np.ndarray], precond: Callable[[np.ndarray], np.ndarray], b: np.ndarray,
         lap: sp.csr_matrix | None, max_cg: int, rtol: float) -> np.ndarray:
    """Preconditioned CG on the (n, k) system; one preconditioner solve when there is no coupling."""
    if lap is None or lap.nnz == 0:
        return precond(b)
    X = np.zeros_like(b)
    R = b.copy()
    Z = precond(R)
    D = Z.copy()
    rz = float(np.vdot(R, Z))
    stop = rtol * float(np.sqrt(np.vdot(b, b)))
    for _ in range(max_cg):
        AD = apply(D)
        alpha = rz / float(np.vdot(D, AD))
        X += alpha * D
        R -= alpha * AD
        if float(np.sqrt(np.vdot(R, R))) <= stop:
            break
        Z = precond(R)
        rz_new = float(np.vdot(R, Z))
        D = Z + (rz_new / rz) * D
        rz = rz_new
    return X
