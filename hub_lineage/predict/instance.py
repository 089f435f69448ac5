"""The instance-level predictor: item answers and benchmark aggregates in one LRMF likelihood.

:func:`mixed_matrix` reads the store into one :class:`ObservationMatrix` whose columns are every
stored instance (0/1 cells, count 1) followed by one aggregate column per benchmark (the contents
table's accuracies, each weighing as :data:`AGGREGATE_WEIGHT` item answers). A model's aggregate
cells stay beside its items: models with both link the two kinds of column. A benchmark with an item set is scored as the mean of its items'
probabilities (``score_mask`` in the predictor's meta); the aggregate column stays the score of a
benchmark without items.

:func:`co_response_graph` is the item graph when no prompt text is known: cosine kNN over the
items' centred answer vectors across training models (how models answered, not what was asked).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from hub_lineage.benchmarks import BENCHMARK_KEYS, BY_KEY, LEADERBOARD
from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.errors import NoLineageError

if TYPE_CHECKING:
    import scipy.sparse as sp

    from hub_lineage.data.store.database import Store
    from hub_lineage.evaluation.tuning import Selection
    from hub_lineage.lineage.graph import LineageGraph
    from hub_lineage.model.lrmf import LRMF
    from hub_lineage.predict.predictor import Predictor

#: The weight (in item answers) of one aggregate cell in the mixed likelihood. The binomial count
#: (756 for MuSR, 12,032 for MMLU-Pro) would make the item cells ~1% of the objective: the solver
#: then stops after 2-3 iterations with item factors unfitted (measured: cold-start MuSR MAE 0.46).
#: Leaderboard aggregates of BBH, MuSR and IFEval are fractions, not counts, so an aggregate
#: weighs as one observation. Chosen on that design ground, not by score.
AGGREGATE_WEIGHT = 1.0
#: An item set with more items per answering model than this is fitted as aggregates: a handful of
#: models cannot fit thousands of item factors. Design choice (MuSR/IFEval: ~2 items per model).
MAX_ITEMS_PER_MODEL = 20

def aggregate_cells(store: Store) -> dict[tuple[str, str], float]:
    """``(model, benchmark) -> accuracy`` from the scores table alone (the newest run wins)."""
    names = dict(store.db.execute("SELECT id, name FROM models"))
    cells: dict[tuple[str, str], float] = {}
    for model_id, bench, value in store.db.execute(
            "SELECT s.model_id, s.benchmark, s.value FROM scores s JOIN runs r ON r.id = s.run_id "
            "ORDER BY r.run_time, r.id"):
        cells[(names[model_id], bench)] = float(value)
    return cells


def mixed_matrix(store: Store, models: Sequence[str] | None = None) -> ObservationMatrix:
    """Instance columns, then aggregate columns; shape (n_models, n_instances + n_benchmarks)."""
    inst = store.to_matrix("instance", models=models)
    cells = aggregate_cells(store)
    if models is not None:
        wanted = set(models)
        cells = {k: v for k, v in cells.items() if k[0] in wanted}
    inst = _few_model_sets_as_aggregates(inst, cells)
    present = {b for _, b in cells}
    benches = [b for b in BENCHMARK_KEYS if b in present] + sorted(present - set(BENCHMARK_KEYS))
    all_models = list(inst.models) + sorted({m for m, _ in cells} - set(inst.models))
    row = {m: r for r, m in enumerate(all_models)}
    n_inst = len(inst.items)
    values = np.full((len(all_models), n_inst + len(benches)), np.nan, dtype=np.float32)
    values[:len(inst.models), :n_inst] = inst.values
    inst_bench = np.asarray(inst.item_benchmarks)
    col = {b: n_inst + j for j, b in enumerate(benches)}
    for (m, b), v in cells.items():
        values[row[m], col[b]] = v  # kept beside a model's items: the bridge between both kinds of column
    counts = np.concatenate([np.ones(n_inst, dtype=np.float32), np.full(len(benches), AGGREGATE_WEIGHT, np.float32)])
    del inst_bench
    texts = list(inst.item_texts or [""] * n_inst) + [""] * len(benches)
    keep = ~np.isnan(values).all(axis=1)
    all_models = [m for m, k in zip(all_models, keep) if k]
    meta = store.to_matrix("benchmark", models=all_models).model_meta if models is None else inst.model_meta
    return ObservationMatrix(all_models, list(inst.items) + benches, values[keep],
                             list(inst.item_benchmarks) + benches, counts, texts, meta)


def item_columns(matrix: ObservationMatrix) -> np.ndarray:
    """(n_items,) bool: instance columns (``task/doc`` keys), not benchmark aggregates."""
    return np.array(["/" in key for key in matrix.items], dtype=bool)


def as_mixed(matrix: ObservationMatrix) -> ObservationMatrix:
    """A loaded data set's matrix (aggregates and items) with aggregates weighted as in the store's fit."""
    counts = np.asarray(matrix.item_counts, dtype=np.float32).copy()
    counts[~item_columns(matrix)] = AGGREGATE_WEIGHT
    return ObservationMatrix(matrix.models, matrix.items, matrix.values, matrix.item_benchmarks, counts,
                             matrix.item_texts, matrix.model_meta)


def _few_model_sets_as_aggregates(inst: ObservationMatrix, cells: dict[tuple[str, str], float]
                                  ) -> ObservationMatrix:
    """Item sets with more than :data:`MAX_ITEMS_PER_MODEL` items per answering model enter as aggregates.

    A handful of models cannot fit thousands of item factors (MMLU-Pro: 29 models x 12,032 items
    made the whole fit slower and the other benchmarks' cold-start intervals twice as wide); their
    complete runs become aggregate cells (where the model has none) and the item columns are dropped.
    """
    if not inst.items:
        return inst
    sets = np.array([item_set_of(key.split("/", 1)[0]) for key in inst.items])
    bench = np.asarray(inst.item_benchmarks)
    drop = np.zeros(len(inst.items), dtype=bool)
    for item_set in dict.fromkeys(sets.tolist()):
        cols = sets == item_set
        answered = ~np.isnan(inst.values[:, cols])
        if cols.sum() <= MAX_ITEMS_PER_MODEL * answered.any(axis=1).sum():
            continue
        drop |= cols
        b = str(bench[cols][0])
        lb = BY_KEY.get(b)
        n_total = max(int(cols.sum()), lb.n_instances if lb is not None and item_set == lb.task_prefix else 0)
        for r in np.flatnonzero(answered.sum(axis=1) >= n_total):
            cells.setdefault((inst.models[r], b), float(np.nanmean(inst.values[r, cols])))
    if not drop.any():
        return inst
    return inst.select_items(np.flatnonzero(~drop))


def score_mask(matrix: ObservationMatrix) -> np.ndarray:
    """(n_items,) 1 for the columns a benchmark's score averages: its instances where it has any,
    else its aggregate column."""
    items = item_columns(matrix)
    bench = np.asarray(matrix.item_benchmarks)
    with_items = set(bench[items].tolist())
    return np.array([1.0 if it or b not in with_items else 0.0 for b, it in zip(bench, items)])


def complete_scores(matrix: ObservationMatrix) -> np.ndarray:
    """Actual scores (n_models, n_benchmarks), NaN where unknown: a benchmark's item mean only where
    the model answered every item of it (a partial run is no actual score), else its aggregate."""
    is_item = item_columns(matrix)
    bench = np.asarray(matrix.item_benchmarks)
    out = np.full((len(matrix.models), len(matrix.benchmarks)), np.nan)
    for k, b in enumerate(matrix.benchmarks):
        agg = np.flatnonzero((bench == b) & ~is_item)
        if agg.size:
            out[:, k] = matrix.values[:, agg[0]]
        cols = np.flatnonzero((bench == b) & is_item)
        sets = np.array([item_set_of(matrix.items[j].split("/", 1)[0]) for j in cols])
        for item_set in dict.fromkeys(sets.tolist()):
            items = cols[sets == item_set]
            # the leaderboard's task family must hold all its instances; another item set, all it has
            lb = BY_KEY.get(b)
            n_total = max(items.size, lb.n_instances if lb is not None and item_set == lb.task_prefix else 0)
            full = (~np.isnan(matrix.values[:, items])).sum(axis=1) >= n_total
            out[full, k] = np.nanmean(matrix.values[np.ix_(full, items)], axis=1)
    return out


def co_response_graph(matrix: ObservationMatrix, k: int = 20) -> sp.csr_matrix | None:
    """Item kNN graph (n_items, n_items) from training models' answers; aggregates stay unlinked
    (:func:`hub_lineage.predict.item_graph.co_response_graph`)."""
    from hub_lineage.predict import item_graph

    return item_graph.co_response_graph(matrix, k)


def item_set_of(task: str) -> str:
    """The item set a task's docs belong to: its leaderboard task family, else the task itself."""
    for bench in LEADERBOARD:
        if task == bench.task_prefix or task.startswith(bench.task_prefix + "_"):
            return bench.task_prefix
    return task


def lineage_item_proba(predictor: Predictor, model: str, item_set: str, benchmark: str
                       ) -> tuple[list[str], np.ndarray] | None:
    """The lineage prediction's probabilities on every item of ``item_set`` for ``model`` (its own
    answers left out, as :meth:`Predictor.predict`), or None when the predictor does not know the
    item set or the model has no scored relative."""
    from hub_lineage.model.foldin import fold_in
    from hub_lineage.predict.neighbourhood import Lineage, local_system

    items = predictor.meta.get("items", [])
    cols = [j for j, key in enumerate(items) if "/" in key and item_set_of(key.split("/", 1)[0]) == item_set]
    if not cols:
        return None
    factors = predictor.lrmf.factors_
    try:
        local = local_system(model, Lineage(predictor.graph, None), predictor._observed, factors.node_index)
    except NoLineageError:
        return None
    folded = fold_in(factors, local.graph, [local.target], component=local.component)
    proba = np.asarray(factors.proba(folded.rows), dtype=np.float64).reshape(-1)
    return [items[j] for j in cols], proba[cols]


__all__ = ["aggregate_cells", "as_mixed", "co_response_graph", "complete_scores", "item_columns", "item_set_of", "lineage_item_proba", "mixed_matrix", "score_mask"]


def mixed_validation(estimator: LRMF, matrix: ObservationMatrix, fit_graph: LineageGraph,
                     lineage_graph: LineageGraph, scores: np.ndarray, item_graph: sp.csr_matrix | None, *,
                     n_folds: int = 5, seed: int = 0, init: LRMF | None = None) -> Selection | None:
    """Cold-start validation of a mixed (instance-level) fit: ``n_folds``-fold held-out benchmark
    predictions of the models with a scored relative, as a :class:`Selection` (``pred``/``actual``
    (n_models, n_benchmarks), ``scores`` their metrics) that calibrates the predictor's intervals
    and fills ``fit --json``'s ``validation``. None with fewer than 2 x ``n_folds`` such models.
    ``init``: the full fit, the fold fits' warm start (a held-out model's own parameters start at 0,
    so its prediction stays cold-start; the fold fits converge in fewer iterations)."""
    import warnings

    from hub_lineage.evaluation import metrics, splits
    from hub_lineage.evaluation.held_out import cross_validated_predictions
    from hub_lineage.evaluation.tuning import Selection

    eligible = splits.eligible_models(matrix.models, lineage_graph)
    if len(eligible) < 2 * n_folds:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        pred = np.asarray(cross_validated_predictions(estimator, matrix, fit_graph, eligible, n_folds=n_folds,
                                                      seed=seed, instance_graph=item_graph,
                                                      **({} if init is None else {"init": init})),
                          dtype=np.float64)
    actual = scores[[matrix.model_index[m] for m in eligible]]
    return Selection(params=dict(estimator.get_params()), scores=metrics.score_table(pred, actual, matrix.benchmarks),
                     pred=pred, actual=actual, models=list(eligible))
