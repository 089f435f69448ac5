"""The saved predictor read and asked without numpy: :class:`LightPredictor` makes the predictions
:class:`~hub_lineage.predict.predictor.Predictor` makes, in pure Python, or raises :class:`HandBack`.

Why: importing numpy is 0.15-0.19 s of a 0.4 s ``predict`` process on the 2-core machine, while
one prediction is a walk of a few hundred lineage nodes and a sparse solve of that size
(docs/performance.md). ``hub-lineage predict`` (offline, or a planned model) and
``mergekit-preflight`` ask this path first (:func:`answer`) and :class:`Predictor` when it hands back.

Shared with :class:`Predictor`, not rewritten: the walk (:func:`~hub_lineage.predict.neighbourhood.local_system`),
the local graph and its adjacency (:class:`~hub_lineage.lineage.graph.LineageGraph`), the drivers,
the edge lookups, the relatives rings (:func:`~hub_lineage.lineage.walk.nearest_rings`), lineage
averaging's walk and the name and metadata features (:func:`~hub_lineage.model.features.feature_row`).
Written again for one model, the arithmetic numpy does for many:

- the fold-in's harmonic extension ``(L_NN + reg I) P_N = A_NB P_B`` (``foldin._solve_dense``),
  solved by symmetric elimination in minimum-degree order (lineage is nearly a forest: little fill);
- item probabilities and benchmark scores (``FittedFactors.proba``, ``Predictor._benchmark_scores``);
- the shipped correction (:mod:`hub_lineage.predict.light_correction`) and the conformal interval.

``tests/hub_lineage/predict/test_light.py`` checks that both give the same numbers (within 1e-9)
on tiny, planted and real predictors. Handed back: online lineage, a model off the stored graph, a
format-1 or instance-level predictor, and every error (the numpy path words it).
"""

from __future__ import annotations

import heapq
import json
import math
import os
import struct
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from hub_lineage import paths
from hub_lineage.errors import HubLineageError
from hub_lineage.ids import check_repo_id
from hub_lineage.lineage.edges import Edge
from hub_lineage.lineage.walk import breadth_first
from hub_lineage.predict.light_correction import LightCorrection, clip
from hub_lineage.predict.light_files import LightFactors, LightGraph, LightObserved, Unreadable
from hub_lineage.predict.neighbourhood import Lineage, LocalSystem, local_system, planned_lineage
from hub_lineage.predict.prediction import Driver, Interval, Prediction

T = TypeVar("T")

#: Predictor formats read here (``predictor.FORMAT``; format 1 keeps names as JSON: the numpy path).
FORMATS = (2,)
#: Most items scored here: an instance-level predictor's thousands of items are numpy's job.
MAX_ITEMS = 512


class HandBack(Exception):
    """This path does not answer exactly as :class:`Predictor` would (an error to word, a case it
    does not handle): the caller asks the numpy predictor instead."""


def load_light(predictor_dir: str | os.PathLike[str] | None = None) -> LightPredictor | None:
    """The saved predictor read without numpy, or None (missing: fitted on first run; another
    format; damaged: the numpy path reads it, fits it or says what is wrong)."""
    directory = Path(predictor_dir) if predictor_dir is not None else paths.default_predictor_dir()
    try:
        return LightPredictor(directory)
    except (Unreadable, OSError, ValueError, KeyError, TypeError, IndexError, struct.error):
        return None


def answer(ask: Callable[[LightPredictor], T], predictor_dir: str | os.PathLike[str] | None = None,
           store_path: str | os.PathLike[str] | None = None) -> T | None:
    """``ask(predictor)`` with the predictor read without numpy, or None when the numpy path must
    answer (no readable predictor, or :class:`HandBack`): the caller then asks :class:`Predictor`.

    As :func:`~hub_lineage.predict.loading.load_predictor` does, warns when the store changed after
    the fit. Warnings raised while asking are shown only when this path answers (the numpy path
    raises them again otherwise); any other error is the user's, raised as the numpy path would.
    """
    predictor = load_light(predictor_dir)
    if predictor is None:
        return None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                out = ask(predictor)
            except HandBack:
                return None
    except BaseException:
        predictor.say_if_stale(predictor_dir, store_path)  # the numpy path warned before failing
        raise
    predictor.say_if_stale(predictor_dir, store_path)
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return out


def has_own_answers(store_path: str | os.PathLike[str] | None, repo_id: str) -> bool:
    """Whether the store may hold ``repo_id``'s item answers (``partial.own_estimates`` combines
    them with the prediction: the numpy path's job)."""
    from hub_lineage.predict.loading import holds_item_runs

    store = Path(store_path) if store_path else paths.default_store_path()
    return store.is_file() and holds_item_runs(store, repo_id) is not False


def predict_offline(repo_id: str, predictor_dir: str | os.PathLike[str] | None = None,
                    store_path: str | os.PathLike[str] | None = None, *, lineage_only: bool = False
                    ) -> Prediction | None:
    """``Predictor.predict(repo_id, offline=True)`` without numpy, or None where the numpy path must
    answer (unless ``lineage_only``, a model with item answers in the store is one)."""
    if not lineage_only and has_own_answers(store_path, repo_id):
        return None
    return answer(lambda p: p.predict(repo_id, offline=True), predictor_dir, store_path)


class LightPredictor:
    """A saved predictor directory (format 2) read without numpy.

    It has the methods of :class:`Predictor` that predicting reads (``predict`` offline,
    ``predict_edges``, ``knows``, ``observed``, ``benchmarks``, ``version``, ``meta``, ``path``), and
    either answers as :class:`Predictor` would, or raises :class:`HandBack`.
    """

    def __init__(self, directory: Path) -> None:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") not in FORMATS or not (directory / "observed_rows.npy").is_file():
            raise Unreadable(f"predictor format {meta.get('format')!r}")
        self.path, self.meta = directory, meta
        self.version: str = meta["version"]
        self.benchmarks: list[str] = list(meta["benchmarks"])
        self.graph = LightGraph(directory)
        self.scores = LightObserved(directory, self.graph.nodes, self.benchmarks)
        self.factors = LightFactors(directory / "lrmf")
        if len(self.factors.items) > MAX_ITEMS:
            raise Unreadable(f"{len(self.factors.items)} items")
        counts = [float(c) for c in meta["item_counts"]]
        mask = meta.get("score_mask", 1.0)
        mask = [float(m) for m in mask] if isinstance(mask, list) else [float(mask)] * len(counts)
        self._weights = [c * m for c, m in zip(counts, mask)]
        self._item_benchmarks = list(meta["item_benchmarks"])
        intervals = meta["intervals"]
        self.coverage = float(intervals["coverage"])
        self.quantiles = [math.inf if q is None else float(q) for q in intervals["quantiles"]]
        self.correction = LightCorrection.load(directory, self.scores)

    def say_if_stale(self, predictor_dir: str | os.PathLike[str] | None,
                     store_path: str | os.PathLike[str] | None) -> None:
        """:func:`~hub_lineage.predict.loading.load_predictor`'s warning when the store changed after the fit."""
        from hub_lineage.predict.loading import _say_if_stale

        if predictor_dir is None or store_path is not None:
            _say_if_stale(self, store_path)  # type: ignore[arg-type]  # reads .path and .meta only

    def observed(self, model: str) -> dict[str, float] | None:
        """``Predictor.observed``: the model's actual scores, or None when unscored."""
        return self.scores.get(model) or None

    def knows(self, model: str) -> bool:
        """``Predictor.knows``: scored or in the lineage graph."""
        return model in self.scores or model in self.graph

    def predict(self, repo_id: str, hub: Any = None, *, offline: bool | None = None) -> Prediction:
        """``Predictor.predict`` offline, for a model of the stored graph."""
        offline = paths.env_offline() if offline is None else offline
        if hub is not None or not offline:
            raise HandBack("lineage from the Hub")
        try:
            check_repo_id(repo_id, namespace=True)
        except HubLineageError:
            raise HandBack("the numpy path words the error") from None
        if repo_id not in self.graph:  # the Hub cache may know its card: huggingface_hub's job
            raise HandBack("not in the stored graph")
        lineage = Lineage(self.graph)  # type: ignore[arg-type]  # the CompactGraph interface
        if not lineage.parents(repo_id) and not lineage.children(repo_id):
            raise HandBack("no lineage")
        return self._predict(repo_id, lineage, [])

    def predict_edges(self, model: str, edges: Sequence[Edge]) -> Prediction:
        """``Predictor.predict_edges``: a hypothetical ``model`` made from the given parents."""
        try:
            lineage, unknown, widen = planned_lineage(model, edges, self.graph, self.knows)
        except HubLineageError:
            raise HandBack("the numpy path words the error") from None
        return self._predict(model, lineage, unknown, widen)

    def _predict(self, model: str, lineage: Lineage, unknown: list[str], widen: float = 1.0) -> Prediction:
        """``Predictor._predict``."""
        factors = self.factors
        try:
            local = local_system(model, lineage, self.scores, factors.node_index)
            solved = _fold_in(factors, local)
            if solved is None:
                raise HandBack("nothing supported to fold in from")
            row, influence = solved
            mean = self._benchmark_scores(factors.proba(row))
            if self.correction is not None:
                mean = self.correction.correct(model, mean, lineage)
        except (HubLineageError, Unreadable, ArithmeticError) as exc:
            raise HandBack(str(exc)) from None
        predicted = {}
        for k, b in enumerate(self.benchmarks):
            half = widen * self.quantiles[k]  # unknown parents widen the interval
            predicted[b] = Interval(mean[k], clip(mean[k] - half), clip(mean[k] + half))
        drivers = [Driver(m, rel, hops, w, self.observed(m)) for m, rel, hops, w in local.drivers(influence)]
        return Prediction(model, predicted, self.observed(model), drivers, unknown, self.coverage)

    def _benchmark_scores(self, proba: list[float]) -> list[float]:
        out = []
        for b in self.benchmarks:
            cols = [j for j, ib in enumerate(self._item_benchmarks) if ib == b]
            total = sum(self._weights[j] for j in cols)
            if not total:
                raise ZeroDivisionError(f"no item weight for {b}")
            out.append(sum(proba[j] * self._weights[j] for j in cols) / total)
        return out


# -- the fold-in -----------------------------------------------------------------------------------


def _fold_in(factors: LightFactors, local: LocalSystem) -> tuple[list[float], dict[str, float]] | None:
    """``fold_in(factors, local.graph, [local.target], component=..., explain=local.target)`` without
    observations: the target's parameter row and each anchor's weight in it; None when unsupported."""
    index, graph, m = factors.node_index, local.graph, local.target
    target = graph.canonical(m) if m in graph else m
    if m in index:
        target = m
    elif target != m and target not in index and target not in graph:
        target = m
    new, boundary = local.component
    if target not in index and target not in new:
        return None
    n = len(new)
    order = new + boundary
    rows, cols, vals = ([], [], []) if factors.lambda_lineage <= 0 else graph.subgraph(
        [o for o in order if o in graph]).adjacency_lists(order, relation_weights=factors.relation_weights,
                                                         collapse_quantized=True)
    lam = float(factors.lambda_lineage)
    degree = [0.0] * n
    off: list[dict[int, float]] = [{} for _ in range(n)]  # -A_NN
    pull = [[0.0] * factors.width for _ in range(n)]
    edges_nb: list[tuple[int, int, float]] = []
    P_b = [factors.rows(factors.node_index[b]) for b in boundary]
    kept = 0
    for i, j, v in zip(rows, cols, vals):
        if i >= n:
            continue
        kept += 1
        v *= lam
        degree[i] += v
        if j < n:
            off[i][j] = off[i].get(j, 0.0) - v
        else:
            edges_nb.append((i, j - n, v))
            p, acc = P_b[j - n], pull[i]
            for c in range(len(acc)):
                acc[c] += v * p[c]
    reg = float(factors.reg)
    at = new.index(m) if m in new else None
    rhs = [row + ([1.0 if i == at else 0.0] if at is not None else []) for i, row in enumerate(pull)]
    if reg > 0 or kept:
        X = _solve_spd([d + reg for d in degree], off, rhs)
        if X is None:
            return None
    else:
        X = [[0.0] * len(r) for r in rhs]
    influence: dict[str, float] = {}
    if at is not None:
        weights = [0.0] * len(boundary)
        for i, b, v in edges_nb:
            weights[b] += v * X[i][-1]
        influence = dict(zip(boundary, weights))
    if target in index:
        t = index[target]
        return (factors.rows(t), influence) if factors.supported[t] else None
    t = new.index(target)
    if not _reaches_support(t, off, edges_nb, [bool(factors.supported[factors.node_index[b]]) for b in boundary]):
        return None
    return X[t][:factors.width], influence


def _reaches_support(start: int, off: Sequence[Mapping[int, float]], edges_nb: list[tuple[int, int, float]],
                     supported_b: list[bool]) -> bool:
    """Whether new node ``start``'s component links, with positive weight, to a supported fitted node."""
    linked: dict[tuple[int, int], float] = {}
    for i, b, v in edges_nb:
        linked[i, b] = linked.get((i, b), 0.0) + v
    anchored = {i for (i, b), v in linked.items() if v > 0 and supported_b[b]}
    component = breadth_first(start, lambda i: off[i].keys())
    return any(i in anchored for i in component)


def _solve_spd(diag: list[float], off: list[dict[int, float]], rhs: list[list[float]]) -> list[list[float]] | None:
    """``X`` with ``(diag(diag) + off) X = rhs``: a symmetric positive definite sparse matrix (``off``:
    each row's off-diagonal entries), eliminated in minimum-degree order without pivoting (a
    diagonally dominant Laplacian plus ``reg I`` needs none). None for a zero pivot."""
    n = len(diag)
    d, links, b = list(diag), [dict(r) for r in off], [list(r) for r in rhs]
    done = [False] * n
    heap = [(len(links[i]), i) for i in range(n)]
    heapq.heapify(heap)
    steps: list[tuple[int, dict[int, float], float]] = []
    while heap:
        degree, p = heapq.heappop(heap)
        if done[p]:
            continue
        if degree != len(links[p]):  # its degree changed since it was queued
            heapq.heappush(heap, (len(links[p]), p))
            continue
        done[p] = True
        pivot, row_p, b_p = d[p], links[p], b[p]
        if pivot == 0.0:
            return None
        for i, a_ip in row_p.items():
            f = a_ip / pivot
            d[i] -= f * a_ip
            row_i = links[i]
            del row_i[p]
            for j, a_pj in row_p.items():
                if j != i:
                    row_i[j] = row_i.get(j, 0.0) - f * a_pj
            b_i = b[i]
            for c, value in enumerate(b_p):
                b_i[c] -= f * value
        steps.append((p, row_p, pivot))
    x: list[list[float]] = [[] for _ in range(n)]
    for p, row_p, pivot in reversed(steps):
        acc = list(b[p])
        for j, a_pj in row_p.items():
            xj = x[j]
            for c in range(len(acc)):
                acc[c] -= a_pj * xj[c]
        x[p] = [v / pivot for v in acc]
    return x


__all__ = ["LightPredictor", "predict_offline"]
