"""The linear systems of LRMF's Newton steps, solved by preconditioned conjugate gradients.

A Newton step of one side couples its rows through the Laplacian::

    (curvature + 2 L + 2 reg I) X = -grad

with the curvature either one ``k x k`` block per row (:func:`solve_blocks`, also the k-shot
fold-in's step) or one shared ``k x k`` matrix scaled per row (:func:`solve_shared`). Both run the
same PCG (:func:`_pcg`) with a block-Jacobi preconditioner that is exact per row.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import scipy.sparse as sp

from hub_lineage.model.threads import n_threads

_SPLIT_NNZ = 100_000  # Laplacians with fewer non-zeros are multiplied in one piece


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

    with _row_split(lap) as op:
        def apply(D: np.ndarray) -> np.ndarray:
            out = 2 * (op(D)) + 2 * reg * D
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

    with _row_split(lap) as op:
        def apply(D: np.ndarray) -> np.ndarray:
            out = 2 * (op(D)) + 2 * reg * D
            out[:n_obs] += scale[:, None] * (D[:n_obs] @ H)
            return out

        return _pcg(apply, precond, -grad, lap, max_cg, rtol)


def spmm(lap: sp.csr_matrix, D: np.ndarray) -> np.ndarray:
    """``lap @ D`` for one product, rows split over threads as in :func:`_row_split` (same bits)."""
    with _row_split(lap) as op:
        return op(D)


@contextmanager
def _row_split(lap: sp.csr_matrix | None) -> Iterator[Callable[[np.ndarray], np.ndarray]]:
    """``D -> lap @ D`` with ``lap``'s rows split over threads by non-zeros.

    scipy's sparse products release the GIL, and each row's sum is computed as in one product, so
    the result has the same bits; the PCG's sparse products (the item side's kNN Laplacian: 21,606
    rows, 730K non-zeros, 33 columns) were its largest single-threaded cost (docs/performance.md).
    """
    threads = n_threads()
    if lap is None or threads <= 1 or lap.nnz < _SPLIT_NNZ or getattr(lap, "format", None) != "csr":
        yield lambda D: lap @ D
        return
    n = lap.shape[0]
    cuts = np.unique(np.searchsorted(lap.indptr, np.linspace(0, lap.nnz, threads + 1)[1:-1]))
    bounds = [0, *[int(c) for c in cuts if 0 < c < n], n]
    parts = [(slice(a, b), lap[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    with ThreadPoolExecutor(len(parts)) as pool:
        def product(D: np.ndarray) -> np.ndarray:
            out = np.empty((n, D.shape[1]), dtype=np.result_type(lap.dtype, D.dtype))

            def work(part: tuple[slice, sp.csr_matrix]) -> None:
                rows, block = part
                out[rows] = block @ D
            list(pool.map(work, parts))
            return out

        yield product


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
