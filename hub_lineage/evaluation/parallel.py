"""Run the protocol's independent fits on local processes or a Dask cluster, with serial numbers.

:class:`Runner` is what :class:`~hub_lineage.evaluation.protocol.ProtocolOptions` ``runner``
takes: it maps one unit function (:mod:`hub_lineage.evaluation.units`: one grid point of an inner
search, or one outer fit, of one method, fold and seed) over its argument
tuples through joblib. Locally joblib's ``loky`` backend runs ``jobs`` worker processes; with a
scheduler address joblib's ``dask`` backend sends the same calls to a ``distributed`` cluster
(the ``cluster`` extra). No scheduling of our own: joblib batches and orders, Dask places.

Numbers equal a serial run's: every unit carries its seed in its arguments (no shared random
generator), and each unit runs with ``threads`` BLAS and solver threads, so that ``jobs`` units
fill the cores without oversubscribing them. The LRMF solver's reductions do not depend on the
thread count (:mod:`hub_lineage.model.solvers.gauss_newton`), so neither do its results.
"""

from __future__ import annotations

import importlib
import os
import pickle
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from hub_lineage.errors import HubLineageError, InvalidInputError
from hub_lineage.model.threads import limited_threads, n_threads

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


class _Shared:
    """An argument many units share (the task, a seed's graph): pickled once here and unpickled
    once per worker process, instead of once per unit (1.4 MB and ~0.3 s for the whole
    leaderboard's task, measured)."""

    def __init__(self, value: Any) -> None:
        self.key = uuid.uuid4().hex
        self.payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


_WORKER_CACHE: dict[str, Any] = {}  # in each worker process: key -> unpickled shared argument


def _resolve(arg: Any) -> Any:
    if not isinstance(arg, _Shared):
        return arg
    if arg.key not in _WORKER_CACHE:
        if len(_WORKER_CACHE) >= 16:  # a run shares a few objects (the task, one graph per seed)
            _WORKER_CACHE.pop(next(iter(_WORKER_CACHE)))
        _WORKER_CACHE[arg.key] = pickle.loads(arg.payload)
    return _WORKER_CACHE[arg.key]


def _run_unit(fn: Callable[..., Any], threads: int, *args: Any) -> Any:
    """One unit inside a worker, with at most ``threads`` BLAS and solver threads."""
    with limited_threads(threads):
        return fn(*(_resolve(arg) for arg in args))


def _preload(modules: tuple[str, ...]) -> int:
    """Import ``modules`` in a worker (those that are installed); returns the worker's pid."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    return os.getpid()


def _shared_args(calls: Sequence[tuple]) -> list[Any]:
    """Objects that several calls pass (by identity), other than plain scalars and strings."""
    counts = Counter(id(arg) for call in calls for arg in call)
    seen: dict[int, Any] = {}
    for call in calls:
        for arg in call:
            if counts[id(arg)] > 1 and not isinstance(arg, (str, int, float, bool, type(None))):
                seen.setdefault(id(arg), arg)
    return list(seen.values())


class Runner:
    """Map units over joblib workers: ``runner(fn, calls) == [fn(*c) for c in calls]``.

    Parameters
    ----------
    jobs : int
        Local worker processes (loky); ignored with ``scheduler`` (the cluster's workers decide).
    scheduler : str or None
        ``tcp://HOST:PORT`` of a Dask scheduler: run on that cluster instead.
    threads : int or None
        BLAS/solver threads per unit (default: this machine's cores // jobs, at least 1; 1 on a cluster).
    progress : callable(str) or None
        Called as units finish ("fits 12/50").
    connect_timeout : float
        Seconds to wait for the scheduler to answer.
    preload : sequence of str
        Modules the local workers import as soon as the runner is made, in the background, so
        their start (numpy, scipy, torch for NCF: ~3.5 CPU-s per worker, measured) overlaps
        whatever the caller does before the first map (``evaluate`` loads its data files then).
    """

    def __init__(self, jobs: int = 1, scheduler: str | None = None, threads: int | None = None,
                 progress: Callable[[str], None] | None = None, connect_timeout: float = 10.0,
                 preload: Sequence[str] = ()) -> None:
        if jobs < 1:
            raise InvalidInputError(f"--jobs {jobs}: give at least 1 worker process.")
        if scheduler is not None and not scheduler.strip():
            scheduler = None
        self.jobs = jobs
        self.scheduler = scheduler
        default = 1 if scheduler else max(1, n_threads(cap=os.cpu_count() or 1) // jobs)
        self.threads = threads or default
        self.progress = progress
        self.connect_timeout = connect_timeout
        self._warming: threading.Thread | None = None
        self._workers: int | None = None
        if preload and scheduler is None and jobs > 1:
            self._warming = threading.Thread(target=self._warm, args=(tuple(preload),), daemon=True)
            self._warming.start()

    @property
    def workers(self) -> int:
        """How many units run at once: ``jobs`` locally, the cluster's worker threads on Dask
        (asked once, when first needed)."""
        if self.scheduler is None:
            return self.jobs
        if self._workers is None:
            client = _connect(self.scheduler, self.connect_timeout)
            try:
                self._workers = max(1, sum(client.nthreads().values()))
            finally:
                client.close()
        return self._workers

    def _warm(self, modules: tuple[str, ...]) -> None:
        from joblib import Parallel, delayed

        try:  # the same reusable loky executor that __call__ uses, started and warmed now
            Parallel(n_jobs=self.jobs, backend="loky")(delayed(_preload)(modules) for _ in range(self.jobs))
        except Exception:  # noqa: BLE001 -- a failed warm-up only costs the time it would have saved
            pass

    def __call__(self, fn: Callable[..., Any], calls: Sequence[tuple]) -> list[Any]:
        from joblib import Parallel, delayed, parallel_config

        shared = _shared_args(calls)
        if self._warming is not None:
            self._warming.join()
        if self.scheduler is None:
            wrapped = {id(obj): _Shared(obj) for obj in shared}
            units = [delayed(_run_unit)(fn, self.threads, *(wrapped.get(id(a), a) for a in call)) for call in calls]
            parallel = Parallel(n_jobs=self.jobs, backend="loky", return_as="generator")
            return self._collect(parallel(units), len(units))
        client = _connect(self.scheduler, self.connect_timeout)
        try:  # joblib's dask backend sends the shared objects to the workers once (scatter)
            units = [delayed(_run_unit)(fn, self.threads, *call) for call in calls]
            with parallel_config(backend="dask", scatter=shared or None):
                return self._collect(Parallel(return_as="generator")(units), len(units))
        finally:
            client.close()

    def _collect(self, results: Any, total: int) -> list[Any]:
        out = []
        for value in results:
            out.append(value)
            if self.progress and (len(out) == total or len(out) % max(1, total // 20) == 0):
                self.progress(f"fits {len(out)}/{total}")
        return out


def _connect(address: str, timeout: float) -> Any:
    """A ``distributed.Client`` on ``address`` (registers joblib's ``dask`` backend)."""
    try:
        from distributed import Client
    except ImportError as exc:
        raise HubLineageError(
            f"--scheduler {address}: running on a Dask cluster needs the 'distributed' package: "
            "pip install 'hub-lineage[cluster]'.") from exc
    try:
        return Client(address, timeout=f"{timeout}s")
    except (OSError, TimeoutError) as exc:
        raise HubLineageError(f"--scheduler {address}: no Dask scheduler answered there ({exc}).") from exc


#: What every evaluation worker imports (the protocol and the solvers' scipy); torch only for NCF.
EVALUATION_MODULES = ("hub_lineage.evaluation.protocol", "hub_lineage.model.solvers.gauss_newton",
                      "scipy.sparse", "scipy.sparse.linalg")


def make_runner(jobs: int = 1, scheduler: str | None = None, progress: Callable[[str], None] | None = None,
                methods: Sequence[str] | None = None) -> Runner | None:
    """The runner for ``--jobs``/``--scheduler`` (``DASK_SCHEDULER_ADDRESS`` when no scheduler is
    given); None for a plain serial run (1 job, no scheduler). Local workers start at once and
    import what ``methods`` need (None = the default methods, which include NCF: torch)."""
    scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
    if jobs == 1 and scheduler is None:
        return None
    preload = EVALUATION_MODULES + (("torch",) if methods is None or "ncf" in methods else ())
    return Runner(jobs, scheduler, progress=progress, preload=preload)
