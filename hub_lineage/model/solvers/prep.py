"""The solver's dense inputs from an observation matrix: float32 targets and weights, by row blocks in threads.

At the paper's scale (3,000 x 21,606) each of these whole-matrix passes (NaN mask, column counts,
``y``, ``w``) took a few hundred milliseconds on one core; the blocks run on :func:`n_threads`
threads (numpy's ufuncs and reductions release the GIL). Every value is computed as in one
whole-matrix pass (integer counts, element-wise casts), so the result has the same bits.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from hub_lineage.model.threads import n_threads

_BLOCK_ROWS = 256


def targets_and_weights(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """``(y, w, scale, observed_rows)`` for ``values`` (n, m) with NaN where unobserved.

    ``y`` (n, m) float32: the values, 0 where unobserved; ``w`` (n, m) float32: ``counts / scale``
    on observed cells, else 0; ``scale``: the mean instance count per evaluated model (the sum of
    ``counts`` over observed cells / the number of rows with an observation; NaN without any);
    ``observed_rows`` (n,) bool.
    """
    n, m = values.shape
    y = np.empty((n, m), dtype=np.float32)
    w = np.empty((n, m), dtype=np.float32)
    mask = np.empty((n, m), dtype=bool)
    rows = np.empty(n, dtype=bool)
    starts = range(0, n, _BLOCK_ROWS)

    def first(start: int) -> np.ndarray:
        b = slice(start, min(n, start + _BLOCK_ROWS))
        np.isnan(values[b], out=mask[b])
        np.logical_not(mask[b], out=mask[b])
        y[b] = np.where(mask[b], values[b], np.float32(0))
        rows[b] = mask[b].any(axis=1)
        return mask[b].sum(axis=0)  # int64: exact whatever the blocks

    with ThreadPoolExecutor(n_threads()) as pool:
        per_column = np.zeros(m, dtype=np.int64)
        for part in pool.map(first, starts):
            per_column += part
        evaluated = int(rows.sum())
        scale = float(per_column @ counts.astype(np.float64)) / evaluated if evaluated else float("nan")
        cell = (counts / np.float32(scale)).astype(np.float32)[None, :]

        def second(start: int) -> None:
            b = slice(start, min(n, start + _BLOCK_ROWS))
            np.multiply(mask[b], cell, out=w[b])
        list(pool.map(second, starts))
    return y, w, scale, rows
