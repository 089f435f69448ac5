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
import weakref

import numpy as np
import scipy.sparse as sp

from hub_lineage.model.threads import n_threads

_SPLIT_NNZ = 100_000  # Laplacians with fewer non-zeros and rows are multiplied in one piece
_SPLIT_ROWS = 8192    # (many rows: the preconditioner's dense k x k work per row dominates)
_ROW_PARTS = 4        # else in this many row parts, whatever the thread count (fixed: same bits)


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

    with _row_split(lap) as rows:
        def apply(D: np.ndarray) -> np.ndarray:
            out = 2 * rows.product(D) + 2 * reg * D
            out[:n_obs] += np.matmul(blocks, D[:n_obs, :, None])[:, :, 0]
            return out

        return _pcg(apply, precond, -grad, lap, max_cg, rtol)


def solve_shared(scale: np.ndarray, H: np.ndarray, lap: sp.csr_matrix | None, reg: float, grad: np.ndarray,
                 max_cg: int = 200, rtol: float = 1e-2) -> np.ndarray:
    """Solve ``(diag(scale) (x) H + (2 lap + 2 reg I) (x) I) X = -grad`` by PCG.

    Row ``r < len(scale)`` has curvature ``scale[r] * H`` (k, k); later rows have none. With
    ``H = E diag(lam) E^T`` the system is solved for ``Y = X E`` in the eigenbasis, where the
    Laplacian (acting on rows) is unchanged and every row's curvature is the diagonal
    ``scale_r lam``: the operator is one sparse product plus element-wise terms and the
    block-Jacobi preconditioner ``1 / (scale_r lam_j + deg_r)`` is element-wise and exact per row.
    (Working in the original basis cost three dense (n, k) x (k, k) products per CG iteration,
    about half of an iteration's time at the paper's scale; CG's iterates are the same in exact
    arithmetic, since ``E`` is orthogonal.)
    """
    n, k = grad.shape
    n_obs = len(scale)
    lam, E = np.linalg.eigh(H)
    deg = 2 * reg + (2 * lap.diagonal() if lap is not None else np.zeros(n))
    sc = np.zeros(n)
    sc[:n_obs] = scale
    inv = 1.0 / np.maximum(sc[:, None] * np.maximum(lam, 0)[None, :] + deg[:, None], 1e-300)
    diagonal = sc[:, None] * lam[None, :] + 2 * reg  # every row's curvature + L2 term, in the eigenbasis
    b = -(grad @ E)
    # CG in float32 (X = Y E^T in float64): half the memory traffic of its vector updates, which
    # are most of an iteration, and far inside the solve's tolerance (rtol 1e-2)
    inv = np.minimum(inv, np.finfo(np.float32).max).astype(np.float32)
    diagonal, b = diagonal.astype(np.float32), b.astype(np.float32)

    # Both operators work row by row, so their row parts run on threads (with the same bits).
    with _row_split(lap, n) as rows:
        def precond(R: np.ndarray) -> np.ndarray:
            out = np.empty_like(R)

            def part(r: slice, _: sp.csr_matrix | None) -> None:
                np.multiply(R[r], inv[r], out=out[r])
            rows.each(part)
            return out

        # The Laplacian's row parts in float32 too, like the CG's vectors: its products cost 35%
        # less than in float64 (measured). The objective and the gradient keep float64 products.
        lap32 = {r.start: block.astype(np.float32) for r, block in rows.parts if block is not None}

        def apply(D: np.ndarray) -> np.ndarray:
            out = np.empty_like(D)

            def part(r: slice, _: sp.csr_matrix | None) -> None:
                o = diagonal[r] * D[r]
                o += 2 * (lap32[r.start] @ D)
                out[r] = o
            rows.each(part)
            return out

        return _pcg(apply, precond, b, lap, max_cg, rtol, rows).astype(np.float64) @ E.T


def spmm(lap: sp.csr_matrix, D: np.ndarray) -> np.ndarray:
    """``lap @ D`` for one product, rows split over threads as in :func:`_row_split` (same bits)."""
    with _row_split(lap) as rows:
        return rows.product(D)


class _Rows:
    """Row parts ``(rows, lap[rows])`` of a system and the threads that run them."""

    def __init__(self, lap: sp.csr_matrix | None, parts: list[tuple[slice, sp.csr_matrix | None]],
                 pool: ThreadPoolExecutor | None) -> None:
        self.lap, self.parts, self.pool = lap, parts, pool

    def each(self, fn: Callable[[slice, sp.csr_matrix | None], None]) -> None:
        """``fn(rows, lap_rows)`` for every part, on the threads when there are several parts."""
        if self.pool is None:
            for rows, block in self.parts:
                fn(rows, block)
        else:
            list(self.pool.map(lambda part: fn(*part), self.parts))

    def product(self, D: np.ndarray) -> np.ndarray:
        """``lap @ D`` (the same bits in parts: each row's sum is computed as in one product)."""
        if len(self.parts) == 1:
            return self.lap @ D
        out = np.empty((self.lap.shape[0], D.shape[1]), dtype=np.result_type(self.lap.dtype, D.dtype))

        def part(rows: slice, block: sp.csr_matrix | None) -> None:
            out[rows] = block @ D
        self.each(part)
        return out


@contextmanager
def _row_split(lap: sp.csr_matrix | None, n: int | None = None) -> Iterator[_Rows]:
    """``lap``'s rows (``n`` of them) split into ``_ROW_PARTS`` parts of about equal work, run
    on up to :func:`n_threads` threads; one part when ``lap`` is small (few non-zeros and rows) or absent.

    scipy's sparse products release the GIL; the PCG's sparse products (the item side's kNN
    Laplacian: 21,606 rows, 730K non-zeros, 33 columns) were its largest single-threaded cost
    (docs/performance.md). The parts do not depend on the thread count, so neither do the bits
    (a row-part matrix product may round differently from the whole one: the split is fixed).
    """
    n = lap.shape[0] if lap is not None else int(n or 0)
    if lap is None or getattr(lap, "format", None) != "csr" or (lap.nnz < _SPLIT_NNZ and n < _SPLIT_ROWS):
        yield _Rows(lap, [(slice(0, n), lap)], None)
        return
    parts = _parts(lap)
    threads = min(n_threads(), len(parts))
    if threads <= 1:
        yield _Rows(lap, parts, None)
        return
    with ThreadPoolExecutor(threads) as pool:
        yield _Rows(lap, parts, pool)


_PARTS_HELD: dict[int, tuple[weakref.ref, list[tuple[slice, sp.csr_matrix]]]] = {}


def _parts(lap: sp.csr_matrix) -> list[tuple[slice, sp.csr_matrix]]:
    """``lap``'s row parts, cut once per Laplacian: a fit multiplies by the same two Laplacians
    ~100 times, and cutting them each time cost 1-2% of a paper-scale fit. (No Laplacian is
    changed in place once built.)"""
    held = _PARTS_HELD.get(id(lap))
    if held is not None and held[0]() is lap:
        return held[1]
    n = lap.shape[0]
    # parts of about equal work: a row costs its non-zeros plus ~32 for its dense k x k products
    work = lap.indptr + 32 * np.arange(n + 1)
    cuts = np.searchsorted(work, np.linspace(0, work[-1], _ROW_PARTS + 1)[1:-1])
    bounds = sorted({0, n, *(int(c) for c in cuts if 0 < c < n)})
    parts = [(slice(a, b), lap[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    for key in [key for key, (ref, _) in list(_PARTS_HELD.items()) if ref() is None]:
        del _PARTS_HELD[key]  # Laplacians of finished fits
    _PARTS_HELD[id(lap)] = (weakref.ref(lap), parts)
    return parts


def _pcg(apply: Callable[[np.ndarray], np.ndarray], precond: Callable[[np.ndarray], np.ndarray], b: np.ndarray,
         lap: sp.csr_matrix | None, max_cg: int, rtol: float, rows: _Rows | None = None) -> np.ndarray:
    """Preconditioned CG on the (n, k) system; one preconditioner solve when there is no coupling.

    With ``rows``, the element-wise updates run on its row parts (the same bits); the dot products
    stay whole, so their sums do not depend on the parts.
    """
    if lap is None or lap.nnz == 0:
        return precond(b)
    X = np.zeros_like(b)
    R = b.copy()
    Z = precond(R)
    D = Z.copy()
    rz = float(np.vdot(R, Z))
    stop = rtol * float(np.sqrt(np.vdot(b, b)))
    threaded = rows is not None and rows.pool is not None
    for _ in range(max_cg):
        AD = apply(D)
        alpha = rz / float(np.vdot(D, AD))
        if threaded:
            def update(r: slice, _: sp.csr_matrix | None) -> None:
                X[r] += alpha * D[r]
                R[r] -= alpha * AD[r]
            rows.each(update)
        else:
            X += alpha * D
            R -= alpha * AD
        if float(np.sqrt(np.vdot(R, R))) <= stop:
            break
        Z = precond(R)
        rz_new = float(np.vdot(R, Z))
        beta = rz_new / rz
        if threaded:
            D_next = np.empty_like(D)

            def direction(r: slice, _: sp.csr_matrix | None) -> None:
                D_next[r] = Z[r] + beta * D[r]
            rows.each(direction)
            D = D_next
        else:
            D = Z + beta * D
        rz = rz_new
    return X
