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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.errors import InvalidInputError, RepoNotFoundError
from hub_lineage.evaluation import metrics, splits
from hub_lineage.evaluation.units import fold_fit, instance_fit, kfold_plan, mapped_fits
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


def _kfold_seed(task: Task, methods: Sequence[str], seed: int, opts: ProtocolOptions,
                fits: dict[tuple[str, int], tuple] | None = None) -> dict[str, dict[str, float]]:
    graph, eligible, folds = kfold_plan(task, seed, opts)
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
    fits = mapped_fits(task, methods, seeds, opts) if opts.runner is not None else {}
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
