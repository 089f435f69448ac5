"""Thread settings for the blocked numeric passes (LRMF fit, kNN graph).

Both split their work into row blocks run on a few Python threads (BLAS and numpy ufuncs release
the GIL), each with single-threaded BLAS. On a loaded 2-core machine OpenBLAS's own threads spin:
a (3000, 16) @ (16, 16) matmul took 19 ms with 2 BLAS threads and 0.16 ms with one (measured), and
numpy's ufuncs and ``argpartition`` are single-threaded anyway, so threads over blocks are what
uses both cores. Parallel evaluation (:mod:`hub_lineage.evaluation.parallel`) runs several fits at
once and gives each fewer threads with :func:`limited_threads`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar

from threadpoolctl import threadpool_limits

_LIMIT: ContextVar[int | None] = ContextVar("hub_lineage_threads", default=None)


def n_threads(cap: int = 4) -> int:
    """Cores this process may use, at most ``cap`` (and at most a :func:`limited_threads` limit)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    limit = _LIMIT.get()
    return max(1, min(cap, cores, limit if limit is not None else cores))


def single_threaded_blas() -> AbstractContextManager:
    """Context with BLAS limited to one thread."""
    return threadpool_limits(1, user_api="blas")


@contextmanager
def limited_threads(threads: int) -> Iterator[None]:
    """Context with at most ``threads`` BLAS/OpenMP threads and block threads (:func:`n_threads`)."""
    token = _LIMIT.set(max(1, int(threads)))
    try:
        with threadpool_limits(max(1, int(threads))):
            yield
    finally:
        _LIMIT.reset(token)
