"""The paper's evaluation protocol: cold-start cross-validation over models with known lineage.

One seed: the eligible models (those with a scored lineage relative) are shuffled into 5 folds;
each fold in turn is the test set and contributes no observations; everything else trains. Every
eligible model thus gets exactly one prediction per seed and the seed's metrics are computed over
all of them. Test models stay nodes of the lineage graph passed to ``fit`` (unevaluated nodes
whose factors come from the Laplacian), and their prediction is ``predict_proba`` on them, which
is LRMF's fold-in (harmonic extension) computed inside the same fit.

Hyper-parameters and the conformal intervals use only the training models of each fold: an inner
cross-validation over them (:func:`cross_validated_predictions`) scores each candidate of the
method's grid and gives the held-out residuals the intervals are calibrated on.

The ``instance`` setting (MMLU-Pro, one item per question) holds out each fine-tune whose parent
is scored, one at a time, and reports instance-level AUC and predicted vs actual accuracy.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hub_lineage.evaluation import metrics

from hub_lineage.lineage import side_info as side_graph

from hub_lineage.evaluation import splits
from hub_lineage.model.baselines import MeanBaseline, get_method
from hub_lineage.errors import InvalidInputError, NoLineageError, RepoNotFoundError
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.predict.intervals import ConformalIntervals
from hub_lineage.data.matrix import ObservationMatrix

SETTING_KINDS = ("heterogeneous", "homogeneous", "instance")
DEFAULT_METHODS = ("lrmf", "mla", "ncf", "mf", "mean")
INSTANCE_METHODS = ("lrmf", "parent", "difficulty", "mla", "mf", "ncf", "mean")

# LRMF's loss is a mean over instances while the L2 and Laplacian terms are sums over nodes, so
# useful weights are small (reg ~ 1e-4); aggregate data has 6 items, so few factors suffice.
_LRMF_AGGREGATE = {"n_factors": 8, "reg": 1e-4, "biases": True, "chance": "items", "max_iter": 30, "tol": 1e-4}

_LRMF_INSTANCE = {"n_factors": 8, "reg": 1e-4, "biases": True, "lambda_lineage": 1e-3, "max_iter": 30, "tol": 1e-4}

#: Per-setting fixed parameters and tuning grids. The grids are searched on the training models of
#: each fold only; the fixed parameters were chosen once from the method's design, not from tests.
# Side-information nodes (hub_lineage.lineage.side_info) in LRMF's model graph: one node per (architecture,
# size bucket), per model type and per chat-template flag. Weights chosen on validation splits of
# training models only (docs/results.md lists every variant tried).
_SIDE_HETEROGENEOUS = {"arch_size": 0.03, "type": 0.01, "chat_template": 0.01}
_SIDE_HOMOGENEOUS = {"type": 0.2, "chat_template": 0.2}

SETTING_PARAMS: dict[str, dict[str, dict[str, Any]]] = {
    "heterogeneous": {"lrmf": {**_LRMF_AGGREGATE, "side": _SIDE_HETEROGENEOUS}, "mf": {**_LRMF_AGGREGATE},
                      "mla": {"fallback": "mean"}},
    "homogeneous": {"lrmf": {**_LRMF_AGGREGATE}, "mf": {**_LRMF_AGGREGATE}, "mla": {"fallback": "mean"}},
    "instance": {"lrmf": {**_LRMF_INSTANCE}, "mf": {**_LRMF_INSTANCE}, "mla": {"fallback": "mean"},
                 "parent": {"fallback": "mean"}, "ncf": {"epochs": 3, "batch_size": 4096}},
}
#: Inner folds for tuning and calibration: 1 = a single validation split (large settings).
SETTING_INNER = {"heterogeneous": 1, "homogeneous": 3}
SETTING_GRIDS: dict[str, dict[str, tuple[dict[str, Any], ...]]] = {
    # lineage weight, and the weight of the leaderboard's root edges ("Base Model" = family root)
    "heterogeneous": {"lrmf": tuple({"lambda_lineage": lam, "relation_weights": {"root": root}}
                                    for lam, root in ((0.1, 0.5), (0.1, 1.0), (0.1, 2.0), (0.3, 1.0)))},
    "homogeneous": {"lrmf": tuple({"lambda_lineage": lam, "relation_weights": {"root": root}, "side": side}
                                  for side in ({}, _SIDE_HOMOGENEOUS)
                                  for lam in (1e-3, 1e-2, 1e-1) for root in (0.5, 1.0))},
    # how strongly every factor is pulled to the population mean (splits.with_population; 0 = off)
    "instance": {"lrmf": ({"relation_weights": {"merge": 0.0}}, {"relation_weights": {"merge": 0.3}},
                          {"relation_weights": {"merge": 1.0}})},
}


@dataclass(frozen=True)
class Setting:
    """``heterogeneous``, ``homogeneous:ROOT`` or ``instance``."""

    kind: str
    root: str | None = None

    @classmethod
    def parse(cls, text: str) -> Setting:
        kind, _, root = text.strip().partition(":")
        if kind not in SETTING_KINDS or (kind == "homogeneous") != bool(root):
            raise InvalidInputError(
                f"Unknown setting {text!r}: valid settings are heterogeneous, homogeneous:ROOT "
                "(e.g. homogeneous:Qwen/Qwen2.5-7B) and instance.")
        return cls(kind, root or None)

    def __str__(self) -> str:
        return f"{self.kind}:{self.root}" if self.root else self.kind


@dataclass
class ProtocolOptions:
    """Knobs of the protocol (defaults are the paper's: 5 folds; 90% intervals)."""

    n_folds: int = 5
    n_inner: int | None = None
    coverage: float | None = 0.9
    tune: bool = True
    noise: tuple[str, float] | None = None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    progress: Callable[[str], None] | None = None


@dataclass
class Task:
    """What one setting evaluates: the matrix, the (pruned) lineage graph and the test candidates."""

    setting: Setting
    matrix: ObservationMatrix
    graph: LineageGraph
    eligible: list[str]
    instance_graph: Any = None


@dataclass
class EvaluationResult:
    """Per-seed metrics of every method; :meth:`to_json` gives the CLI's JSON contract."""

    setting: str
    seeds: int
    per_seed: dict[str, list[dict[str, float]]]
    n_models: int
    noise: str | None = None
    per_model: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def summary(self) -> dict[str, dict[str, dict[str, float | None]]]:
        out: dict[str, dict[str, dict[str, float | None]]] = {}
        for method, runs in self.per_seed.items():
            names = list(dict.fromkeys(k for run in runs for k in run))
            out[method] = {}
            for name in names:
                vals = np.array([run.get(name, np.nan) for run in runs], dtype=np.float64)
                vals = vals[~np.isnan(vals)]
                mean = float(vals.mean()) if vals.size else None
                sd = float(vals.std(ddof=1)) if vals.size > 1 else (0.0 if vals.size else None)
                out[method][name] = {"mean": mean, "sd": sd}
        return out

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"setting": self.setting, "seeds": self.seeds, "results": self.summary()}
        if self.noise:
            data["noise"] = self.noise
        return data


# -- preparing a setting ------------------------------------------------------------------------


def prepare(matrix: ObservationMatrix | None, graph: LineageGraph, setting: Setting | str) -> Task:
    """Restrict the data to ``setting`` and find the models that can be tested."""
    setting = Setting.parse(setting) if isinstance(setting, str) else setting
    if matrix is None or matrix.n_observed == 0:
        raise InvalidInputError("The data holds no observations: evaluate needs scored models (--data FILE).")
    if setting.kind == "instance":
        cols = np.flatnonzero(matrix.item_counts == 1)
        if cols.size == 0:
            raise InvalidInputError(
                "The instance setting needs instance-level observations (e.g. mmlu_pro_correctness.csv.gz "
                "with mmlu_pro_questions.csv.gz and mmlu_pro_models.csv); the data holds only aggregates.")
        matrix = matrix.select_items(cols)
    else:
        cols = np.flatnonzero(matrix.item_counts > 1)
        matrix = matrix.select_items(cols) if cols.size else matrix
    scored = [m for m, row in zip(matrix.models, matrix.mask) if row.any()]
    if setting.kind == "homogeneous":
        if setting.root not in graph:
            raise RepoNotFoundError(
                f"The family root {setting.root!r} is not in the lineage graph: pass an edge list that "
                "contains it (--data hf_lineage_edges_2025-06.csv) or check the spelling.")
        family = set(graph.family(setting.root))
        scored = [m for m in scored if m in family]
        graph = graph.subgraph(family)
    matrix = matrix.select_models(scored)
    graph = splits.relevant_graph(graph, scored)
    if setting.kind == "instance":
        eligible = splits.models_with_scored_parent(scored, graph)
        graph = splits.with_population(graph, scored)
    else:
        eligible = splits.eligible_models(scored, graph)
    if not eligible:
        raise InvalidInputError(
            f"No model of setting {setting} has a scored lineage relative: nothing can be tested cold-start.")
    return Task(setting, matrix, graph, eligible)


# -- fitting one method -------------------------------------------------------------------------


def training_matrix(matrix: ObservationMatrix, test: Sequence[str]) -> ObservationMatrix:
    """``matrix`` without the observations of ``test`` models.

    Model factors (architecture, size: what NCF and the linear baseline read) of all models stay,
    because they are known for a new model before it is evaluated; its scores are not.
    """
    train = matrix.without_models(test)
    train.model_meta = dict(matrix.model_meta)
    return train


def estimator_factory(method: str, params: dict[str, Any], seed: int) -> Callable[[], Any]:
    """A zero-argument factory of unfitted estimators (``random_state=seed`` where accepted)."""
    spec = get_method(method)

    def make() -> Any:
        est = spec.make(**params)
        if hasattr(est, "random_state"):
            est.random_state = seed
        return est

    return make


def method_graph(params: dict[str, Any], matrix: ObservationMatrix, graph: LineageGraph
                 ) -> tuple[dict[str, Any], LineageGraph]:
    """Split a method's ``params`` into estimator parameters and the graph it fits on.

    A ``"side"`` entry (side key -> weight, :mod:`hub_lineage.lineage.side_info`) adds the metadata
    nodes of every model of ``matrix`` (test models too: metadata is not a score) to ``graph``.
    """
    params = dict(params)
    side = params.pop("side", None)
    return params, side_graph.augment(graph, matrix.model_meta, matrix.models, side)


def predict_held_out(make: Callable[[], Any], matrix: ObservationMatrix, graph: LineageGraph,
                     test: Sequence[str], instance_graph: Any = None) -> np.ndarray:
    """Fit on ``matrix`` without ``test``; item-level predictions for ``test`` (n_test, n_items)."""
    est = make()
    train = training_matrix(matrix, test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of 100s of fits; metrics tell the story
        est.fit(train, graph, instance_graph)
        try:
            return np.asarray(est.predict_proba(list(test)), dtype=np.float64)
        except NoLineageError:
            pass
        # A test model whose only scored relatives are in the same fold has no lineage left in
        # training: it gets the training item means, as any method without lineage would.
        fallback = MeanBaseline("item").fit(train).mean_
        rows = []
        for model in test:
            try:
                rows.append(np.asarray(est.predict_proba([model]), dtype=np.float64)[0])
            except NoLineageError:
                rows.append(fallback)
        return np.vstack(rows)


def _cv_items(make: Callable[[], Any], matrix: ObservationMatrix, graph: LineageGraph,
              models: Sequence[str], n_folds: int, seed: int, instance_graph: Any = None) -> np.ndarray:
    pred = np.full((len(models), len(matrix.items)), np.nan)
    pos = {m: k for k, m in enumerate(models)}
    for fold in splits.kfold(list(models), min(n_folds, len(models)), seed):
        pred[[pos[m] for m in fold]] = predict_held_out(make, matrix, graph, fold, instance_graph)
    return pred


def cross_validated_predictions(make_estimator: Callable[[], Any], matrix: ObservationMatrix,
                                graph: LineageGraph | None, models: Sequence[str], n_folds: int = 5,
                                seed: int = 0, instance_graph: Any = None) -> np.ndarray:
    """Held-out benchmark predictions for ``models`` (n_models, n_benchmarks).

    ``models`` are split into ``n_folds`` folds; each fold is predicted by an estimator fitted on
    ``matrix`` without that fold's observations (cold start). Use the result with the models'
    actual ``matrix.benchmark_scores()`` to calibrate :class:`~hub_lineage.predict.intervals.ConformalIntervals`.
    """
    graph = graph if graph is not None else LineageGraph()
    return matrix.benchmark_scores(_cv_items(make_estimator, matrix, graph, models, n_folds, seed, instance_graph))


def _tune_and_calibrate(method: str, task: Task, graph: LineageGraph, test: Sequence[str],
                        seed: int, opts: ProtocolOptions) -> tuple[dict[str, Any], ConformalIntervals | None]:
    """Pick the grid point with the best inner-CV pearson_all; calibrate intervals on its residuals."""
    base = {**SETTING_PARAMS.get(task.setting.kind, {}).get(method, {}), **opts.params.get(method, {})}
    grid = SETTING_GRIDS.get(task.setting.kind, {}).get(method, get_method(method).grid)
    grid = grid if opts.tune and method not in opts.params else ({},)
    need_cv = len(grid) > 1 or opts.coverage is not None
    train = training_matrix(task.matrix, test)
    inner = splits.eligible_models(train.models, graph)
    n_inner = opts.n_inner or SETTING_INNER.get(task.setting.kind, 3)
    if not need_cv or len(inner) < 10:
        return {**base, **grid[0]}, None
    if n_inner == 1:  # one validation split (a fifth of the training models): 1 fit per grid point
        inner = splits.kfold(inner, 5, seed + 1)[0]
    actual = train.select_models(inner).benchmark_scores()
    best: tuple[float, dict[str, Any], np.ndarray] | None = None
    for point in grid:
        params = {**base, **point}
        fit_params, fit_graph = method_graph(params, task.matrix, graph)
        make = estimator_factory(method, fit_params, seed)
        if n_inner == 1:
            pred = train.benchmark_scores(predict_held_out(make, train, fit_graph, inner, task.instance_graph))
        else:
            pred = cross_validated_predictions(make, train, fit_graph, inner, n_inner, seed + 1,
                                               task.instance_graph)
        score = metrics.score_table(pred, actual, train.benchmarks)["pearson_all"]
        score = -np.inf if np.isnan(score) else score
        if best is None or score > best[0]:
            best = (score, params, pred)
    assert best is not None
    intervals = None
    if opts.coverage is not None:
        intervals = ConformalIntervals(opts.coverage).fit(best[2], actual)
    return best[1], intervals


# -- the protocol -------------------------------------------------------------------------------


def _kfold_seed(task: Task, methods: Sequence[str], seed: int, opts: ProtocolOptions
                ) -> dict[str, dict[str, float]]:
    graph = task.graph
    eligible = task.eligible
    if opts.noise is not None:
        graph = splits.perturb(graph, opts.noise, task.matrix.models, seed)
        still = set(splits.eligible_models(task.matrix.models, graph))
        eligible = [m for m in eligible if m in still]
    folds = splits.kfold(eligible, opts.n_folds, seed)
    actual = task.matrix.select_models(eligible).benchmark_scores()
    pos = {m: k for k, m in enumerate(eligible)}
    out = {}
    for method in methods:
        pred = np.full(actual.shape, np.nan)
        low, high = np.full(actual.shape, np.nan), np.full(actual.shape, np.nan)
        for k, fold in enumerate(folds):
            if opts.progress:
                opts.progress(f"seed {seed} {method} fold {k + 1}/{len(folds)}")
            params, intervals = _tune_and_calibrate(method, task, graph, fold, seed, opts)
            fit_params, fit_graph = method_graph(params, task.matrix, graph)
            items = predict_held_out(estimator_factory(method, fit_params, seed), task.matrix, fit_graph, fold)
            rows = [pos[m] for m in fold]
            pred[rows] = task.matrix.benchmark_scores(items)
            if intervals is not None:
                low[rows], high[rows] = intervals.interval(pred[rows])
        out[method] = metrics.score_table(pred, actual, task.matrix.benchmarks)
        if opts.coverage is not None and not np.isnan(low).all():
            out[method]["coverage"] = metrics.coverage(low, high, actual)
            out[method]["interval_width"] = float(np.nanmean(high - low))
    return out


def _tune_instance(method: str, task: Task, held_out: str, seed: int, opts: ProtocolOptions) -> dict[str, Any]:
    """Grid point with the best mean AUC on the OTHER fine-tunes, held out together from a fit that
    also lacks ``held_out`` (the test model is in neither the fit nor the validation)."""
    base = {**SETTING_PARAMS["instance"].get(method, {}), **opts.params.get(method, {})}
    grid = SETTING_GRIDS["instance"].get(method, ({},))
    others = [m for m in task.eligible if m != held_out]
    if not opts.tune or method in opts.params or len(grid) < 2 or not others:
        return {**base, **grid[0]}
    train = training_matrix(task.matrix, [held_out])
    actual = train.select_models(others).values
    best: tuple[float, dict[str, Any]] | None = None
    for point in grid:
        params = {**base, **point}
        pred = predict_held_out(estimator_factory(method, params, seed), train, task.graph, others,
                                task.instance_graph)
        score = float(np.nanmean([metrics.auc(p, a) for p, a in zip(pred, actual)]))
        if best is None or score > best[0]:
            best = (score, params)
    assert best is not None
    return best[1]


def _instance_seed(task: Task, methods: Sequence[str], seed: int, opts: ProtocolOptions
                   ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, dict[str, float]]]]:
    out, detail = {}, {}
    actual_items = task.matrix.select_models(task.eligible).values.astype(np.float64)
    for method in methods:
        aucs, pred_acc, act_acc = [], [], []
        detail[method] = {}
        for k, model in enumerate(task.eligible):
            if opts.progress:
                opts.progress(f"seed {seed} {method} held out {model}")
            params = _tune_instance(method, task, model, seed, opts)
            make = estimator_factory(method, params, seed)
            items = predict_held_out(make, task.matrix, task.graph, [model], task.instance_graph)[0]
            seen = ~np.isnan(actual_items[k])
            aucs.append(metrics.auc(items[seen], actual_items[k, seen]))
            pred_acc.append(float(items[seen].mean()))
            act_acc.append(float(actual_items[k, seen].mean()))
            detail[method][model] = {"auc": aucs[-1], "predicted": pred_acc[-1], "actual": act_acc[-1]}
        p, a = np.array(pred_acc), np.array(act_acc)
        bench = task.matrix.benchmarks[0]
        out[method] = {"auc": float(np.nanmean(aucs)), "pearson_all": metrics.pearson(p, a),
                       f"pearson_{bench}": metrics.pearson(p, a), "spearman_all": metrics.spearman(p, a),
                       "mae_all": metrics.mae(p, a)}
    return out, detail


def evaluate(task: Task, methods: Sequence[str] | None = None, seeds: int = 5,
             options: ProtocolOptions | None = None) -> EvaluationResult:
    """Run the protocol for ``seeds`` seeds (0..seeds-1) and every method."""
    opts = options or ProtocolOptions()
    if seeds < 1:
        raise InvalidInputError(f"seeds={seeds}: run at least one seed.")
    default = INSTANCE_METHODS if task.setting.kind == "instance" else DEFAULT_METHODS
    methods = list(methods or default)
    for method in methods:
        get_method(method)  # fail before any fit on a misspelt name
    per_seed: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
    per_model: dict[str, dict[str, dict[str, float]]] = {}
    for seed in range(seeds):
        if task.setting.kind == "instance":
            result, detail = _instance_seed(task, methods, seed, opts)
            for method, models in detail.items():
                for model, vals in models.items():
                    acc = per_model.setdefault(method, {}).setdefault(model, {})
                    for key, val in vals.items():
                        acc[key] = acc.get(key, 0.0) + val / seeds
        else:
            result = _kfold_seed(task, methods, seed, opts)
        for method in methods:
            per_seed[method].append(result[method])
    noise = None if opts.noise is None else f"{opts.noise[0]}:{opts.noise[1]:g}"
    return EvaluationResult(str(task.setting), seeds, per_seed, len(task.eligible), noise, per_model)


def instance_graph_for(task: Task, methods: Sequence[str] | None = None, k: int = 20) -> Any:
    """The instance kNN graph (n_items, n_items) over prompt embeddings, when LRMF will use it.

    None when no method needs it or the items carry no text. Raises when ``k`` is not below the
    number of instances (a kNN graph needs k other items).
    """
    methods = list(methods or INSTANCE_METHODS)
    texts = task.matrix.item_texts
    n_items = len(task.matrix.items)
    if not 1 <= k < n_items:
        raise InvalidInputError(f"k={k} neighbours but only {n_items} instances: k must lie in [1, {n_items - 1}].")
    weight = SETTING_PARAMS["instance"]["lrmf"].get("lambda_instance", 0.0)
    if "lrmf" not in methods or not weight or texts is None or not any(texts):
        return None
    from hub_lineage.model import embeddings as embed

    return embed.knn_graph(embed.embed_texts(texts), k=k)
