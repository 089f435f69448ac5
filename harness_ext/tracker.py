"""A live hook in lm-eval: an ``EvaluationTracker`` that writes a run's samples into the store.

Use it wherever lm-eval takes a tracker::

    tracker = StoreTracker(store="store.sqlite", output_path="out/")  # output_path optional
    results = simple_evaluate(model="hf", model_args="pretrained=...", tasks=[...],
                              log_samples=True, evaluation_tracker=tracker)
    tracker.save_results_aggregated(results=results, samples=results["samples"])

``save_results_aggregated`` (what lm-eval's own CLI calls) records every task's samples in one
store transaction, then writes lm-eval's usual files when ``output_path`` is set.
"""

from __future__ import annotations

import copy
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from lm_eval.loggers import EvaluationTracker

from hub_lineage.data.sources.lm_eval_metrics import MetricMap
from hub_lineage.errors import DataFormatError
from hub_lineage.data.sources.lm_eval import SampleRun, fill_run
from hub_lineage.data.store.database import IngestReport, Store


class StoreTracker(EvaluationTracker):
    """An lm-eval EvaluationTracker that also records samples in a hub-lineage Store.

    Parameters
    ----------
    store : Store, path or None
        The store (default: the user's default store).
    model_id : str, optional
        Hub id to record the model under (default: lm-eval's model name, e.g. ``pretrained=``).
    metrics : MetricMap, optional
        Which per-sample metric counts as correctness per task.
    **tracker_args
        Passed to lm-eval's EvaluationTracker (``output_path``...).
    """

    def __init__(self, store: Store | str | Path | None = None, *, model_id: str | None = None,
                 metrics: MetricMap | None = None, strict: bool = False, **tracker_args: Any) -> None:
        super().__init__(**tracker_args)
        self.store = store
        self.model_id = model_id
        self.metrics = metrics or MetricMap()
        self.strict = strict
        self.report: IngestReport | None = None

    def save_results_aggregated(self, results: dict, samples: dict | None = None) -> None:
        samples = samples if samples is not None else results.get("samples")
        if samples:
            self.report = self.record(results, samples)
        super().save_results_aggregated(results=results, samples=samples)

    def record(self, results: dict, samples: dict | None = None) -> IngestReport:
        """Write the samples of a ``simple_evaluate`` result into the store (one transaction)."""
        samples = samples if samples is not None else results.get("samples")
        if not samples:
            raise DataFormatError("The lm-eval results hold no samples: run with log_samples=True.")
        runs = self.sample_runs(results, samples)
        store = self.store if isinstance(self.store, Store) else Store(self.store)
        try:
            return store.add_samples(runs)
        finally:
            if store is not self.store:
                store.close()

    def sample_runs(self, results: dict, samples: dict) -> list[SampleRun]:
        """One SampleRun per task of a results dict."""
        model = self.model_id or self.general_config_tracker.model_name or results.get("model_name")
        if not model:
            raise DataFormatError("lm-eval did not name the model: pass model_id=ORG/NAME.")
        config = results.get("config") or {}
        model_args = config.get("model_args")
        if not isinstance(model_args, str) and model_args is not None:
            model_args = json.dumps(model_args, sort_keys=True, default=str)
        versions = results.get("versions") or {}
        date = results.get("date")
        runs = []
        for task, task_samples in samples.items():
            run = SampleRun(str(model), task, "", source="lm_eval:simple_evaluate", lm_eval_version=_lm_eval_version(),
                            model_args=model_args, task_version=None if task not in versions else str(versions[task]),
                            run_time=float(date) if isinstance(date, (int, float)) else None)
            # lm-eval mutates samples when it writes them; read a copy of what we need
            records = ((i, copy.copy(s), "") for i, s in enumerate(task_samples, start=1))
            runs.append(fill_run(run, records, self.metrics, self.strict, task))
        return runs


def _lm_eval_version() -> str | None:
    try:
        return version("lm_eval")
    except PackageNotFoundError:
        return None
