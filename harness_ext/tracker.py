"""A live hook in lm-eval: an ``EvaluationTracker`` that streams each task's samples into the store.

Use it wherever lm-eval takes a tracker, and save as lm-eval's own command line does (aggregated
results first, then each task's samples; :meth:`StoreTracker.save` does both)::

    tracker = StoreTracker(store="store.sqlite", output_path="out/")  # output_path optional
    results = simple_evaluate(model="hf", model_args="pretrained=...", tasks=[...],
                              log_samples=True, evaluation_tracker=tracker)
    tracker.save(results)

``save_results_samples`` (lm-eval's per-task hook) writes that task's samples into the store in
one transaction, then lets lm-eval write its usual ``samples_<task>_<date>.jsonl`` when
``output_path`` is set. lm-eval's samples carry no task or model name: the task is the hook's
argument and the model is ``model_id`` or lm-eval's model name.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from lm_eval.loggers import EvaluationTracker

from harness_ext.budget import Draw
from hub_lineage.data.sources.lm_eval import SampleRun, fill_run
from hub_lineage.data.sources.lm_eval_metrics import MetricMap
from hub_lineage.data.store.database import IngestReport, Store
from hub_lineage.errors import DataFormatError


class StoreTracker(EvaluationTracker):
    """An lm-eval EvaluationTracker that also records each task's samples in a hub-lineage Store.

    Parameters
    ----------
    store : Store, path or None
        The store (default: the user's default store).
    model_id : str, optional
        Hub id to record the model under (default: lm-eval's model name, e.g. ``pretrained=``).
    metrics : MetricMap, optional
        Which per-sample metric counts as correctness per task.
    draw : Draw, optional
        The docs drawn for a budgeted run: each task's samples must be exactly those docs, and the
        draw (seed, doc indices) is written next to lm-eval's files and into the run's provenance.
    **tracker_args
        Passed to lm-eval's EvaluationTracker (``output_path``...).

    Attributes
    ----------
    report : IngestReport
        What this tracker added to the store so far (all tasks).
    evaluated : dict[str, list[int]]
        Per task, the sorted doc indices whose samples reached the hook.
    """

    def __init__(self, store: Store | str | Path | None = None, *, model_id: str | None = None,
                 metrics: MetricMap | None = None, strict: bool = False, draw: Draw | None = None,
                 **tracker_args: Any) -> None:
        super().__init__(**tracker_args)
        self.store = store
        self.model_id = model_id
        self.metrics = metrics or MetricMap()
        self.strict = strict
        self.draw = draw
        self.report = IngestReport()
        self.evaluated: dict[str, list[int]] = {}
        self._results: dict[str, Any] = {}
        self._models: set[str] = set()

    @property
    def model_name(self) -> str:
        """The id the samples are stored under."""
        model = self.model_id or self.general_config_tracker.model_name
        if not model:
            raise DataFormatError("lm-eval did not name the model: pass model_id=ORG/NAME.")
        return str(model)

    def save(self, results: dict) -> None:
        """Save a ``simple_evaluate`` result as lm-eval's CLI does: aggregated, then per task."""
        samples = results.pop("samples", None)
        if not samples:
            raise DataFormatError("The lm-eval results hold no samples: run with log_samples=True.")
        self.save_results_aggregated(results=results, samples=samples)
        for task in results.get("configs") or samples:
            if task in samples:
                self.save_results_samples(task_name=task, samples=samples[task])

    def save_results_aggregated(self, results: dict, samples: dict | None = None) -> None:
        # keep what the per-task hook needs (lm-eval calls this first, then the per-task hook)
        self._results = {k: results.get(k) for k in ("config", "versions", "date")}
        super().save_results_aggregated(results=results, samples=samples)

    def save_results_samples(self, task_name: str, samples: list[dict]) -> None:
        """Store ``task_name``'s samples (one transaction), then write lm-eval's file as usual."""
        doc_ids = sorted({int(s["doc_id"]) for s in samples if "doc_id" in s})
        if self.draw is not None and task_name in self.draw.docs and doc_ids != self.draw.docs[task_name]:
            raise DataFormatError(
                f"lm-eval evaluated docs {doc_ids[:10]} of {task_name!r}, not the {len(self.draw.docs[task_name])} "
                "drawn ones: nothing of this task was stored.")
        run = self.sample_run(task_name, samples)  # before lm-eval's writer reshapes the samples
        store = self.store if isinstance(self.store, Store) else Store(self.store)
        try:
            store.add_samples([run], self.report)
            self._models.add(run.model)
            self.report.models = len(self._models)  # add_samples counts per call; this is per tracker
        finally:
            if store is not self.store:
                store.close()
        self.evaluated[task_name] = doc_ids
        super().save_results_samples(task_name=task_name, samples=samples)
        if self.draw is not None and task_name in self.draw.docs and self.output_path:
            self._write_draw(task_name)

    def sample_run(self, task: str, samples: list[dict]) -> SampleRun:
        """One task's samples as a SampleRun of :attr:`model_name`."""
        config = self._results.get("config") or {}
        model_args = config.get("model_args")
        if not isinstance(model_args, str) and model_args is not None:
            model_args = json.dumps(model_args, sort_keys=True, default=str)
        versions = self._results.get("versions") or {}
        date = self._results.get("date")
        source = "lm_eval:simple_evaluate"
        if self.draw is not None and task in self.draw.docs:
            source += f" budget={self.draw.budget} seed={self.draw.seed} docs={','.join(map(str, self.draw.docs[task]))}"
        run = SampleRun(self.model_name, task, "", source=source, lm_eval_version=_lm_eval_version(),
                        model_args=model_args, task_version=None if task not in versions else str(versions[task]),
                        run_time=float(date) if isinstance(date, (int, float)) else None)
        return fill_run(run, ((i, s, "") for i, s in enumerate(samples, start=1)), self.metrics, self.strict, task)

    def _write_draw(self, task: str) -> Path:
        """``budget_<task>_<date>.json`` beside lm-eval's samples file (same folder, same date id)."""
        folder = Path(self.output_path)
        folder = folder.parent if folder.suffix == ".json" else folder / str(
            self.general_config_tracker.model_name_sanitized)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"budget_{task}_{getattr(self, 'date_id', 'undated')}.json"
        path.write_text(json.dumps(self.draw.record(task), indent=2) + "\n", encoding="utf-8")  # type: ignore[union-attr]
        return path


def _lm_eval_version() -> str | None:
    try:
        return version("lm_eval")
    except PackageNotFoundError:
        return None
