"""The paper's evaluation protocol: cold-start cross-validation over models with known lineage.

One seed: the eligible models (those with a scored lineage relative) are shuffled into 5 folds;
each fold in turn is the test set and contributes no observations; everything else trains. Every
eligible model thus gets exactly one prediction per seed and the seed's metrics are computed over
all of them. Test models stay nodes of the lineage graph passed to ``fit`` (unevaluated nodes
whose factors come from the Laplacian), and their prediction is ``predict_proba`` on them, which
is LRMF's fold-in (harmonic extension) computed inside the same fit.

Hyper-parameters and the conformal intervals use only the training models of each fold: an inner
cross-validation over them (:mod:`hub_lineage.evaluation.tuning`) scores each candidate of the
method's grid and gives the held-out residuals the intervals are calibrated on. Every fit is a
clone of one unfitted estimator that never sees its test models (:mod:`hub_lineage.evaluation.held_out`).

The ``instance`` setting (MMLU-Pro, one item per question) holds out each fine-tune whose parent
is scored, one at a time, and reports instance-level AUC and predicted vs actual accuracy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.errors import InvalidInputError, RepoNotFoundError
from hub_lineage.evaluation import metrics, splits
from hub_lineage.evaluation.held_out import method_graph, predict_held_out, seeded_estimator
from hub_lineage.evaluation.calibration import FoldPost
from hub_lineage.evaluation.tuning import SETTING_PARAMS, select_tuned, tune_instance
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.model.registry import get_method
from hub_lineage.predict.conformal import RelativeIndex

SETTING_KINDS = ("heterogeneous", "homogeneous", "instance")
DEFAULT_METHODS = ("lrmf", "mla", "ncf", "mf", "mean")
INSTANCE_METHODS = ("lrmf", "parent", "difficulty", "mla", "mf", "ncf", "mean")


@dataclass(frozen=True)
class Setting:
    """``heterogeneous``, ``homogeneous:ROOT`` (ROOT's family only) or ``instance``.

    An invalid combination is refused when the setting is made, however it is made.
    """

    kind: str
    root: str | None = None

    def __post_init__(self) -> None:
        # a family root is what homogeneous needs and what the other settings must not have
        if self.kind not in SETTING_KINDS or (self.kind == "homogeneous") != bool(self.root):
            raise InvalidInputError(
                f"Unknown setting {str(self)!r}: valid settings are heterogeneous, homogeneous:ROOT "
                "(e.g. homogeneous:Qwen/Qwen2.5-7B), instance and budget:K (e.g. budget:50).")

    @classmethod
    def parse(cls, text: str) -> Setting:
        """Read what ``--setting`` takes (``KIND`` or ``homogeneous:ROOT``)."""
        kind, _, root = text.strip().partition(":")
        return cls(kind, root or None)

    def __str__(self) -> str:
        return self.kind if self.root is None else f"{self.kind}:{self.root}"


@dataclass
class ProtocolOptions:
    """Knobs of the protocol (defaults are the paper's: 5 folds; 90% intervals)."""

    n_folds: int = 5
    #: One test split per seed holding this fraction of the eligible models (instead of k folds).
    test_fraction: float | None = None
    #: Seeds run are seed_start, seed_start + 1, ...
    seed_start: int = 0
    n_inner: int | None = None
    coverage: float | None = 0.9
    #: ``constant`` (one width per benchmark), ``adaptive`` (width from a learned difficulty, per-bucket
    #: coverage) or ``relatives`` (width from the relatives' spread and agreement, per-bucket coverage);
    #: the ``mean`` baseline always gets constant intervals (the reference width). Constant is the
    #: default: the adaptive kinds under-covered on a validation family (docs/results.md notes).
    intervals: str = "constant"
    #: Methods whose predictions get the name/metadata/relatives correction (:mod:`.stacking`).
    #: LRMF by default: the saved predictor (``hub-lineage fit``) ships it
    #: (:mod:`hub_lineage.predict.correction`), and the protocol's default must score the model users get.
    stack: tuple[str, ...] = ("lrmf",)
    #: Give the correction lineage averaging's held-out prediction as one more feature.
    stack_mla: bool = True
    tune: bool = True
    noise: tuple[str, float] | None = None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    progress: Callable[[str], None] | None = None
    #: called with (method, seed, {"predicted", "low", "high", "actual": (models, benchmarks) arrays,
    #: "benchmarks": names}) after each benchmark-level seed (``evaluate --plot`` collects them)
    record: Callable[[str, int, dict[str, Any]], None] | None = None
    #: Runs independent fits: ``runner(fn, calls) -> [fn(*call) for call in calls]`` in any order
    #: or process (:class:`hub_lineage.evaluation.parallel.Runner`); None = one after another here.
    runner: Callable[[Callable[..., Any], list[tuple]], list[Any]] | None = None


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
                # one seed has no spread to report (None, not a made-up 0)
                sd = float(vals.std(ddof=1)) if vals.size > 1 else None
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


# -- the protocol -------------------------------------------------------------------------------


def _kfold_plan(task: Task, seed: int, opts: ProtocolOptions
                ) -> tuple[LineageGraph, list[str], list[list[str]]]:
    """The seed's graph (noisy under ``opts.noise``), its eligible models and their folds."""
    graph = task.graph
    eligible = task.eligible
    if opts.noise is not None:
        graph = splits.perturb(graph, opts.noise, task.matrix.models, seed)
        still = set(splits.eligible_models(task.matrix.models, graph))
        eligible = [m for m in eligible if m in still]
    if opts.test_fraction is not None:  # one test split: the other models are never predicted
        folds = [splits.holdout(eligible, opts.test_fraction, seed)]
        eligible = folds[0]
    else:
        folds = splits.kfold(eligible, opts.n_folds, seed)
    return graph, eligible, folds


def fold_fit(task: Task, graph: LineageGraph, method: str, fold: list[str], seed: int, opts: ProtocolOptions,
             index: RelativeIndex | None = None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """One independent unit: tune ``method`` on the training models, fit, predict ``fold``, correct
    the predictions and give their intervals (:class:`FoldPost`).

    Returns benchmark predictions (len(fold), n_benchmarks) and the interval bounds (or None).
    Its seed comes from its arguments only, so it gives the same numbers in any process; ``index``
    (the graph's relatives, deterministic) is shared between the folds of a seed when given.
    """
    selection = select_tuned(method, task, graph, fold, seed, opts)
    post = None
    if selection.pred is not None:
        post = FoldPost(selection, task.matrix, index or RelativeIndex(graph), fold, opts.coverage,
                        stack=method in opts.stack, adaptive=opts.intervals != "constant" and method != "mean",
                        scaled=opts.intervals in ("adaptive", "metadata"),
                        static=opts.intervals == "metadata", seed=seed,
                        mla_graph=graph if opts.stack_mla else None)
    fit_params, fit_graph = method_graph(selection.params, task.matrix, graph)
    items = predict_held_out(seeded_estimator(method, fit_params, seed), task.matrix, fit_graph, fold)
    pred = task.matrix.benchmark_scores(items)
    if post is None:
        return pred, None, None
    pred = post.correct(pred, fold)
    if opts.coverage is None:
        return pred, None, None
    low, high = post.interval(pred, fold)
    return pred, low, high


def _kfold_seed(task: Task, methods: Sequence[str], seed: int, opts: ProtocolOptions,
                fits: dict[tuple[str, int], tuple] | None = None) -> dict[str, dict[str, float]]:
    graph, eligible, folds = _kfold_plan(task, seed, opts)
    actual = task.matrix.select_models(eligible).benchmark_scores()
    pos = {m: k for k, m in enumerate(eligible)}
    index = RelativeIndex(graph) if fits is None else None  # shared by the folds run here
    out = {}
    for method in methods:
        pred = np.full(actual.shape, np.nan)
        low, high = np.full(actual.shape, np.nan), np.full(actual.shape, np.nan)
        for k, fold in enumerate(folds):
            if fits is None and opts.progress:
                opts.progress(f"seed {seed} {method} fold {k + 1}/{len(folds)}")
            fold_pred, fold_low, fold_high = (fits[method, k] if fits is not None
                                              else fold_fit(task, graph, method, fold, seed, opts, index))
            rows = [pos[m] for m in fold]
            pred[rows] = fold_pred
            if fold_low is not None:
                low[rows], high[rows] = fold_low, fold_high
        out[method] = metrics.score_table(pred, actual, task.matrix.benchmarks)
        if opts.record is not None:
            opts.record(method, seed, {"predicted": pred, "low": low, "high": high, "actual": actual,
                                       "benchmarks": list(task.matrix.benchmarks)})
        if opts.coverage is not None and not np.isnan(low).all():
            out[method]["coverage"] = metrics.coverage(low, high, actual)
            out[method]["interval_width"] = float(np.nanmean(high - low))
    return out


def instance_fit(task: Task, method: str, model: str, seed: int, opts: ProtocolOptions) -> np.ndarray:
    """One independent unit of the instance setting: predictions (n_items,) for held-out ``model``."""
    from hub_lineage.predict.item_graph import split_item_graph

    params, item_graph = split_item_graph(tune_instance(method, task, model, seed, opts), task.instance_graph)
    estimator = seeded_estimator(method, params, seed)
    return predict_held_out(estimator, task.matrix, task.graph, [model], item_graph)[0]


def _instance_seed(task: Task, methods: Sequence[str], seed: int, opts: ProtocolOptions,
                   fits: dict[tuple[str, int], np.ndarray] | None = None
                   ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, dict[str, float]]]]:
    out, detail = {}, {}
    actual_items = task.matrix.select_models(task.eligible).values.astype(np.float64)
    for method in methods:
        aucs, pred_acc, act_acc = [], [], []
        detail[method] = {}
        for k, model in enumerate(task.eligible):
            if fits is None and opts.progress:
                opts.progress(f"seed {seed} {method} held out {model}")
            items = fits[method, k] if fits is not None else instance_fit(task, method, model, seed, opts)
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


def _mapped_fits(task: Task, methods: Sequence[str], seeds: int, opts: ProtocolOptions
                 ) -> dict[int, dict[tuple[str, int], Any]]:
    """Every independent fit of the run (seeds x methods x folds, or held-out models) through
    ``opts.runner``; keyed ``{seed: {(method, fold or model index): result}}``."""
    assert opts.runner is not None
    plain = replace(opts, progress=None, runner=None, record=None)  # what a worker needs: no callbacks
    seed_list = range(opts.seed_start, opts.seed_start + seeds)
    plans = {seed: _kfold_plan(task, seed, opts) for seed in seed_list} if task.setting.kind != "instance" else {}
    keys, calls = [], []
    for m in methods:  # method-major: the slow methods (LRMF first) start first, so none trails at the end
        for seed in seed_list:
            if task.setting.kind == "instance":
                units = [(k, (task, m, model, seed, plain)) for k, model in enumerate(task.eligible)]
            else:
                graph, _, folds = plans[seed]
                units = [(k, (task, graph, m, fold, seed, plain)) for k, fold in enumerate(folds)]
            keys += [(seed, m, k) for k, _ in units]
            calls += [call for _, call in units]
    values = opts.runner(instance_fit if task.setting.kind == "instance" else fold_fit, calls)
    out: dict[int, dict[tuple[str, int], Any]] = {seed: {} for seed in seed_list}
    for (seed, method, k), value in zip(keys, values):
        out[seed][method, k] = value
    return out


def evaluate(task: Task, methods: Sequence[str] | None = None, seeds: int = 5,
             options: ProtocolOptions | None = None) -> EvaluationResult:
    """Run the protocol for ``seeds`` seeds (``seed_start``.. ``seed_start + seeds - 1``) and every method."""
    opts = options or ProtocolOptions()
    if seeds < 1:
        raise InvalidInputError(f"seeds={seeds}: run at least one seed.")
    if opts.seed_start < 0:
        raise InvalidInputError(f"seed start {opts.seed_start}: seeds must be >= 0.")
    if task.setting.kind != "instance":  # instance holds each fine-tune out in turn: no folds
        splits.check_split(len(task.eligible), opts.n_folds, opts.test_fraction, f"setting {task.setting}")
    default = INSTANCE_METHODS if task.setting.kind == "instance" else DEFAULT_METHODS
    methods = list(methods or default)
    for method in methods:
        get_method(method)  # fail before any fit on a misspelt name
    per_seed: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
    per_model: dict[str, dict[str, dict[str, float]]] = {}
    fits = _mapped_fits(task, methods, seeds, opts) if opts.runner is not None else {}
    for seed in range(opts.seed_start, opts.seed_start + seeds):
        if task.setting.kind == "instance":
            result, detail = _instance_seed(task, methods, seed, opts, fits.get(seed))
            for method, models in detail.items():
                for model, vals in models.items():
                    acc = per_model.setdefault(method, {}).setdefault(model, {})
                    for key, val in vals.items():
                        acc[key] = acc.get(key, 0.0) + val / seeds
        else:
            result = _kfold_seed(task, methods, seed, opts, fits.get(seed))
        for method in methods:
            per_seed[method].append(result[method])
    noise = None if opts.noise is None else f"{opts.noise[0]}:{opts.noise[1]:g}"
    return EvaluationResult(str(task.setting), seeds, per_seed, len(task.eligible), noise, per_model)


def instance_graph_for(task: Task, methods: Sequence[str] | None = None, k: int = 20) -> Any:
    """The item graphs LRMF's grid chooses from (:class:`~hub_lineage.predict.item_graph.ItemGraphs`:
    prompt-embedding kNN when the items carry text, co-response kNN from each fit's training answers).

    None when LRMF is not run. Raises when ``k`` is not below the number of instances (a kNN graph
    needs k other items).
    """
    methods = list(methods or INSTANCE_METHODS)
    n_items = len(task.matrix.items)
    if not 1 <= k < n_items:
        raise InvalidInputError(f"k={k} neighbours but only {n_items} instances: k must lie in [1, {n_items - 1}].")
    if "lrmf" not in methods:
        return None
    from hub_lineage.predict.item_graph import ItemGraphs

    return ItemGraphs(task.matrix, k)
