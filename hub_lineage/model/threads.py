"""Thread settings for the blocked numeric passes (LRMF fit, kNN graph).

Both split their work into row blocks run on a few Python threads (BLAS and numpy ufuncs release
the GIL), each with single-threaded BLAS. On a loaded 2-core machine OpenBLAS's own threads spin:
a (3000, 16) @ (16, 16) matmul took 19 ms with 2 BLAS threads and 0.16 ms with one (measured), and
numpy's ufuncs and ``argpartition`` are single-threaded anyway, so threads over blocks are what
uses both cores.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager

from threadpoolctl import threadpool_limits


def n_threads(cap: int = 4) -> int:
    """Cores this process may use, at most ``cap``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cap, cores))


def single_threaded_blas() -> AbstractContextManager:
    """Context with BLAS limited to one thread."""
    return threadpool_limits(1, user_api="blas")
