"""Predictor: a fitted LRMF plus what predicting needs, saved under ``HUB_LINEAGE_HOME``.

A prediction is always made *from lineage*: the model's own observations are left out. The model
(and every unscored model near it, whose fitted factors absorbed the model's own scores through the
lineage Laplacian) is folded in as a new node, anchored only on scored relatives, so a model's
predicted and actual scores can be compared honestly.

The predictor directory holds (JSON, npz and npy, no pickle):

- ``lrmf.npz`` / ``lrmf.json``: the fitted estimator (:meth:`LRMF.save`);
- ``graph.npz`` + ``graph_nodes.npy``: the lineage graph as compact CSR arrays and its sorted node
  names, so loading the 30,000-node crawl costs milliseconds instead of rebuilding a :class:`LineageGraph`;
- ``observed_rows.npy`` + ``observed_scores.npy``: each scored model's benchmark scores
  (:mod:`hub_lineage.predict.tables`; the ``.npy`` files are memory-mapped, read only where used);
- ``meta.json``: version, benchmarks, items and their counts, hyper-parameters, interval calibration.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hub_lineage import paths
from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.errors import (
    HubUnavailableError,
    InvalidInputError,
    NoLineageError,
    NotFittedError,
    RepoNotFoundError,
)
from hub_lineage.files import write_atomic
from hub_lineage.ids import check_repo_id
from hub_lineage.lineage.edges import Edge, parse_parent
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.model.foldin import fold_in
from hub_lineage.predict.correction import Correction, train
from hub_lineage.predict.fit_params import default_params, fit_version, instance_params, jsonable
from hub_lineage.predict.neighbourhood import CompactGraph, Lineage, local_system, planned_lineage
from hub_lineage.predict.prediction import Driver, Interval, Prediction
from hub_lineage.predict.tables import ObservedScores

if TYPE_CHECKING:
    from hub_lineage.data.store.database import Store
    from hub_lineage.lineage.hub import HubClient
    from hub_lineage.model.lrmf import LRMF

FORMAT = 2
#: Formats :meth:`Predictor.load` reads (1: node names and scores as JSON, read whole).
READABLE_FORMATS = (1, 2)


# -- the predictor ------------------------------------------------------------------------------


class Predictor:
    """A fitted LRMF with the lineage graph, observed scores and interval calibration it predicts with."""

    def __init__(self, lrmf: LRMF, graph: CompactGraph, observed: dict[str, dict[str, float]] | ObservedScores,
                 meta: dict[str, Any], correction: Correction | None = None) -> None:
        from hub_lineage.predict.intervals import ConformalIntervals

        self.lrmf = lrmf
        self.graph = graph
        self.meta = meta
        self.version: str = meta["version"]
        self.benchmarks: list[str] = list(meta["benchmarks"])
        self._observed = observed  # a dict (fit, format 1) or the memory-mapped table: the same `in` and `get`
        self._item_benchmarks = list(meta["item_benchmarks"])
        self._item_counts = np.asarray(meta["item_counts"], dtype=np.float64)
        # instance-level fits score a benchmark by its items only (hub_lineage.predict.instance)
        self._score_weights = self._item_counts * np.asarray(meta.get("score_mask", 1.0), dtype=np.float64)
        self.intervals = ConformalIntervals.from_dict(meta["intervals"])
        self.path: Path | None = None
        self.correction = correction  # the shipped correction; None predicts uncorrected

    # -- fitting ----------------------------------------------------------------------------

    @classmethod
    def fit(cls, store_or_matrix: Store | ObservationMatrix, graph: LineageGraph | None = None,
            *, coverage: float = 0.9, calibrate: bool = True, n_folds: int = 5, seed: int = 0, tune: bool = True,
            progress: Callable[[str], None] | None = None, level: str = "auto", correct: bool = True,
            **params: Any) -> Predictor:
        """Choose LRMF's hyper-parameters as ``hub-lineage evaluate`` does, fit it on all observations
        and lineage (unscored intermediates included), and calibrate split-conformal intervals on
        held-out (cold-start) validation residuals.

        ``store_or_matrix`` is a :class:`Store` (its benchmark-level matrix and lineage graph) or an
        :class:`ObservationMatrix` with ``graph``. ``params`` override the LRMF defaults and the
        search grid (:func:`hub_lineage.evaluation.tuning.select_for_fit`; ``tune=False``: its first
        point); ``meta["validation"]`` holds the validation metrics. The fit uses the part of the
        graph that links scored models (:func:`splits.relevant_graph`); the whole graph is kept for
        predicting new models.

        ``level``: ``benchmark`` (aggregates only), ``mixed`` (item answers and aggregates in one
        likelihood, with an item graph: :mod:`hub_lineage.predict.item_graph`; the instance
        setting's fixed hyper-parameters, validated by k-fold cold start) or ``auto`` (mixed when the
        store holds item answers).
        """
        from hub_lineage.evaluation import splits
        from hub_lineage.evaluation.held_out import method_graph
        from hub_lineage.evaluation.tuning import select_for_fit
        from hub_lineage.model.lrmf import LRMF
        from hub_lineage.predict.intervals import ConformalIntervals

        say = progress or (lambda msg: None)
        matrix, graph = _training_data(store_or_matrix, graph, level)
        mixed = any("/" in key for key in matrix.items)  # instance columns (task/doc keys)
        lineage_graph = splits.relevant_graph(graph, matrix.models)
        selection = None
        if mixed:
            hyper = {**instance_params(seed), **params}
        else:
            # the evaluation's own search and validation (training models only), so the shipped model
            # is the evaluated one; the winner's validation residuals calibrate the intervals
            say(f"choosing hyper-parameters on validation splits of {len(matrix.models)} models")
            selection = select_for_fit(matrix, lineage_graph, seed, params, tune=tune, validate=calibrate,
                                       n_folds=n_folds)
            hyper = {**selection.params, "random_state": seed}
        # the same metadata nodes as the evaluation (hub_lineage.lineage.side_info via "side")
        lrmf_params, fit_graph = method_graph(hyper, matrix, lineage_graph)
        item_graph = None
        if mixed:
            from hub_lineage.predict.item_graph import item_graph as build_item_graph

            item_graph = build_item_graph(matrix, "auto")  # text kNN where prompts are known, else co-response
        say(f"fitting LRMF on {len(matrix.models)} models, {len(fit_graph)} lineage nodes")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)  # convergence chatter; tol is loose on purpose
            lrmf = LRMF(**lrmf_params).fit(matrix, fit_graph, item_graph)
        scores = matrix.benchmark_scores()
        if mixed:  # a partial run is no actual score (only complete item sets and aggregates are)
            from hub_lineage.predict.instance import complete_scores, mixed_validation

            scores = complete_scores(matrix)
            if calibrate:
                say(f"calibrating intervals: {n_folds}-fold cold-start predictions")
                selection = mixed_validation(LRMF(**lrmf_params), matrix, fit_graph, lineage_graph, scores,
                                             item_graph, n_folds=n_folds, seed=seed, init=lrmf)
        benchmarks = matrix.benchmarks
        intervals = ConformalIntervals(coverage)
        correction = None
        if correct and calibrate and not mixed and selection is not None and selection.pred is not None:
            say(f"training the correction on {len(selection.models)} validation models")
            correction, intervals, plain = train(selection, matrix, lineage_graph, coverage, seed)
        elif calibrate and selection is not None and selection.pred is not None:
            intervals.fit(selection.pred, selection.actual)
        else:
            # too few held-out residuals for a calibrated interval: say so with infinite width
            intervals.quantiles_ = np.full(len(benchmarks), np.inf)
            intervals.n_calibration_ = np.zeros(len(benchmarks), dtype=int)
        observed = {m: {b: float(v) for b, v in zip(benchmarks, row) if np.isfinite(v)}
                    for m, row in zip(matrix.models, scores)}
        compact = CompactGraph.from_graph(graph, matrix.models)
        meta = {
            "format": FORMAT,
            "version": fit_version(matrix, graph, hyper),
            "benchmarks": benchmarks,
            "items": matrix.items,
            "item_benchmarks": matrix.item_benchmarks,
            "item_counts": [float(c) for c in matrix.item_counts],
            "params": jsonable(hyper),
            "n_models": len(matrix.models),
            "n_nodes": len(compact.nodes),
            "n_edges": int(compact.child.size),
            "edges_dropped": dict(graph.dropped),  # given (e.g. stored) but not kept: fit's line says why
            "n_calibration": len(selection.models) if calibrate and selection is not None else 0,
            "validation": {k: (None if not np.isfinite(v) else float(v))
                           for k, v in (selection.scores if selection is not None else {}).items()},
            "intervals": intervals.to_dict(),
            "correction": None if correction is None else correction.corrected,
            "validation_uncorrected": plain if correction is not None else None,
            "fitted_at": time.strftime("%Y-%m-%d", time.gmtime()),  # model cards name the predictor's date
        }
        if mixed:
            from hub_lineage.predict.instance import score_mask

            meta["score_mask"] = score_mask(matrix).tolist()
        return cls(lrmf, compact, observed, meta, correction)

    # -- persistence ------------------------------------------------------------------------

    def save(self, path: str | Path | None = None) -> Path:
        """Write the predictor directory (default :func:`paths.default_predictor_dir`); return it."""
        directory = Path(path) if path is not None else paths.default_predictor_dir()
        directory.mkdir(parents=True, exist_ok=True)
        self.lrmf.save(directory / "lrmf")
        names = self.graph.save(directory)
        table = self._observed if isinstance(self._observed, ObservedScores) else \
            ObservedScores.from_dict(self._observed, names, self.benchmarks)
        if table is not None:  # always after fit: every scored model is a graph node
            table.save(directory)
        else:
            (directory / "observed_rows.npy").unlink(missing_ok=True)  # load prefers the table: no stale one
            write_atomic(directory / "observed.json", json.dumps(self._observed))
        Correction.write(directory, self.correction)
        self.meta["format"] = FORMAT
        # meta.json last: its presence marks a complete predictor directory
        write_atomic(directory / "meta.json", json.dumps(self.meta))
        self.path = directory
        return directory

    @classmethod
    def load(cls, path: str | Path | None = None) -> Predictor:
        """Load a saved predictor; :class:`NotFittedError` (saying how to make one) when missing."""
        from hub_lineage.model.lrmf import LRMF

        directory = Path(path) if path is not None else paths.default_predictor_dir()
        meta_path = directory / "meta.json"
        if not meta_path.is_file():
            raise NotFittedError(
                f"No fitted predictor in {str(directory)!r}. Ingest data and fit one first, e.g.\n"
                "  hub-lineage ingest ../shared/data/open_llm_leaderboard_contents_2025-02-08.csv "
                "../shared/data/hf_lineage_edges_2025-06.csv\n  hub-lineage fit")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") not in READABLE_FORMATS:
            raise NotFittedError(f"The predictor in {str(directory)!r} has format {meta.get('format')!r}, "
                                 f"this hub-lineage reads formats {', '.join(map(str, READABLE_FORMATS))}: "
                                 "run `hub-lineage fit` again.")
        lrmf = LRMF.load(directory / "lrmf")
        graph = CompactGraph.load(directory)
        observed: dict[str, dict[str, float]] | ObservedScores
        if (directory / "observed_rows.npy").is_file():
            observed = ObservedScores.load(directory, graph.nodes, meta["benchmarks"])
        else:  # format 1 (or a table that could not be built): JSON, read whole
            observed = json.loads((directory / "observed.json").read_text(encoding="utf-8"))
        out = cls(lrmf, graph, observed, meta, Correction.load(directory))
        out.path = directory
        return out

    # -- lookups ----------------------------------------------------------------------------

    def observed(self, model: str) -> dict[str, float] | None:
        """The model's actual benchmark scores in the training data, or None when unscored."""
        scores = self._observed.get(model)
        return dict(scores) if scores else None

    def knows(self, model: str) -> bool:
        """Whether the model is scored or in the predictor's lineage graph."""
        return model in self._observed or model in self.graph

    # -- predicting -------------------------------------------------------------------------

    def predict(self, repo_id: str, hub: HubClient | None = None, *, offline: bool | None = None) -> Prediction:
        """Predict ``repo_id``'s scores from its lineage (never from its own scores).

        Lineage comes from the predictor's graph and, unless offline, from the Hub (``hub``, or a
        default :class:`HubClient` with its cache). Raises :class:`RepoNotFoundError` /
        :class:`GatedRepoError` from the Hub, :class:`NoLineageError` when no scored relative exists.
        """
        check_repo_id(repo_id, namespace=True)
        offline = paths.env_offline() if offline is None else offline
        local_parents = self.graph.parents(repo_id)
        extra: LineageGraph | None = None
        if hub is not None or not offline:
            try:
                extra = _resolve_on_hub(repo_id, hub, offline)
            except HubUnavailableError:
                if not local_parents and repo_id not in self.graph:
                    raise
                # the Hub is down but the predictor's own graph knows this model
        elif not local_parents and repo_id not in self.graph:
            extra = _resolve_from_cache(repo_id)
        lineage = Lineage(self.graph, extra)
        parents = lineage.parents(repo_id)
        if not parents and not lineage.children(repo_id):
            raise NoLineageError(
                f"No lineage is known for {repo_id!r} ("
                + ("no base_model on its card" if extra is not None else "offline, its card was not read")
                + ", and it is not in the lineage graph), so there is nothing to predict from. Name its parents instead, e.g. "
                "`hub-lineage predict --parent Qwen/Qwen2.5-7B:finetune` (or pass --card README.md)."
                + self._observed_note(repo_id))
        return self._predict(repo_id, lineage, unknown=[])

    def _observed_note(self, model: str) -> str:
        """For a 'cannot predict' error about a scored model: its measured scores exist (issue 13)."""
        if not self.observed(model):
            return ""
        return (f" {model!r} itself is scored, though: `hub-lineage export scores.csv --model {model}` "
                "writes its observed scores.")

    def predict_edges(self, model: str, edges: Sequence[Edge]) -> Prediction:
        """Predict a hypothetical ``model`` made from the given parents (a card, recipe or ``--parent``).

        Parents the predictor does not know are dropped, listed in ``unknown_parents`` and widen the
        interval by their share of the weight; :class:`NoLineageError` when none is known.
        """
        lineage, unknown, widen = planned_lineage(model, edges, self.graph, self.knows)
        return self._predict(model, lineage, unknown=unknown, widen=widen)

    def _predict(self, model: str, lineage: Lineage, unknown: list[str], widen: float = 1.0) -> Prediction:
        factors = self.lrmf.factors_
        # one walk (local_system) and one solve: the fold-in also explains the model's row
        try:
            local = local_system(model, lineage, self._observed, factors.node_index)
        except NoLineageError as exc:
            raise NoLineageError(str(exc) + self._observed_note(model)) from None
        folded = fold_in(factors, local.graph, [local.target], component=local.component, explain=local.target)
        mean = self._benchmark_scores(factors.proba(folded.rows))
        if self.correction is not None:  # what `evaluate` scores: the same features, the same ridge
            mean = self.correction.correct(model, mean, lineage, self._observed)
        # calibrated as `hub-lineage evaluate` measures it (no per-model scale); unknown parents widen
        low, high = self.intervals.interval(mean[None, :], np.array([widen]))
        predicted = {b: Interval(float(mean[k]), float(low[0, k]), float(high[0, k]))
                     for k, b in enumerate(self.benchmarks)}
        drivers = [Driver(m, rel, hops, w, self.observed(m)) for m, rel, hops, w in local.drivers(folded.influence)]
        return Prediction(model, predicted, self.observed(model), drivers, unknown,
                          float(self.intervals.coverage))

    def _benchmark_scores(self, proba: np.ndarray) -> np.ndarray:
        """Count-weighted mean of item probabilities per benchmark; shape (n_benchmarks,)."""
        proba = proba.reshape(-1)
        bench = np.asarray(self._item_benchmarks)
        out = np.empty(len(self.benchmarks))
        for k, b in enumerate(self.benchmarks):
            cols = bench == b
            out[k] = float(np.average(proba[cols], weights=self._score_weights[cols]))
        return out


# -- helpers ------------------------------------------------------------------------------------


def _resolve_on_hub(repo_id: str, hub: HubClient | None, offline: bool) -> LineageGraph:
    from hub_lineage.lineage.hub import HubClient

    client = hub if hub is not None else HubClient(offline=offline)
    return client.resolve(repo_id)


def _resolve_from_cache(repo_id: str) -> LineageGraph | None:
    """Offline, for a model outside the stored graph: the Hub cache may know its card."""
    from hub_lineage.lineage.hub import HubClient

    try:
        return HubClient(offline=True).resolve(repo_id)
    except (HubUnavailableError, RepoNotFoundError):
        return None


def _training_data(store_or_matrix: Any, graph: LineageGraph | None,
                   level: str = "benchmark") -> tuple[ObservationMatrix, LineageGraph]:
    if isinstance(store_or_matrix, ObservationMatrix):
        return store_or_matrix, graph if graph is not None else LineageGraph()
    store = store_or_matrix
    if store.is_empty():
        raise NotFittedError(
            "The store is empty: nothing to fit on. Ingest data first, e.g.\n"
            "  hub-lineage ingest ../shared/data/open_llm_leaderboard_contents_2025-02-08.csv "
            "../shared/data/hf_lineage_edges_2025-06.csv")
    if level not in ("auto", "benchmark", "mixed"):
        raise InvalidInputError(f"Unknown fit level {level!r}: expected auto, benchmark or mixed.")
    has_items = store.db.execute("SELECT 1 FROM observations LIMIT 1").fetchone() is not None
    if level == "mixed" or (level == "auto" and has_items):
        from hub_lineage.predict.instance import mixed_matrix

        matrix = mixed_matrix(store)
    else:
        matrix = store.to_matrix(level="benchmark")
    stored_graph = store.lineage_graph()
    if graph is not None:
        stored_graph.update(graph)
    return matrix, stored_graph


__all__ = ["Predictor", "default_params", "parse_parent"]
