"""Ingest: files of any known format into the store, all or nothing.

Every path is read (and checked) first, then everything is written through the store's public
writers inside one :meth:`~hub_lineage.data.store.database.Store.atomic` block, so a bad file
stores nothing and a crash leaves no half run.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from hub_lineage.benchmarks import BY_KEY
from hub_lineage.errors import DataWarning
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.data.sources import detect, leaderboard
from hub_lineage.data.sources.edges import load_edge_list
from hub_lineage.data.sources.lm_eval import SampleRun, read_output
from hub_lineage.data.sources.lm_eval_metrics import MetricMap
from hub_lineage.data.sources.long_csv import load_long_csv
from hub_lineage.data.store.database import IngestReport, Store

logger = logging.getLogger(__name__)


def ingest_paths(
    store: Store,
    paths: Sequence[str | Path],
    *,
    model_id: str | None = None,
    fmt: str = "auto",
    strict: bool = False,
    progress: Callable[[list[SampleRun]], Iterable[SampleRun]] | None = None,
    metrics: MetricMap | None = None,
) -> IngestReport:
    """Ingest files and lm-eval output directories of any known format in one transaction.

    Parameters
    ----------
    store : Store
        Where to write.
    paths : sequence of paths
        lm-eval output directories or samples/details files, leaderboard contents tables, edge
        lists, long CSVs with their question tables and model maps (see
        :mod:`hub_lineage.data.sources.detect`).
    model_id : str, optional
        The evaluated model, for lm-eval outputs whose results file names none.
    fmt : str
        Format of every path, or ``"auto"`` to detect each.
    strict : bool
        Raise on the first bad sample line instead of skipping it (nothing is stored).
    progress : callable, optional
        Wraps the list of sample runs as they are written (e.g. a progress bar).
    metrics : MetricMap, optional
        Which per-sample metric counts as correctness, per lm-eval task.

    Returns
    -------
    IngestReport
        This call's counts.
    """
    by_format = detect.group_by_format(paths, fmt)
    runs: list[SampleRun] = []
    graphs: list[LineageGraph] = []
    with warnings.catch_warnings(record=True) as said:  # the loaders' skipped rows count in the report
        warnings.simplefilter("always", DataWarning)
        for path in by_format.get("lm_eval", []):
            runs.extend(read_output(path, metrics, model_id=model_id, strict=strict))
        for path in by_format.get("long_csv", []):
            more, graph = long_csv_runs(path, *detect.long_csv_sidecars(path, by_format))
            runs.extend(more)
            graphs.append(graph)
        contents = [(path, leaderboard.read_contents(path)) for path in by_format.get("contents", [])]
        edge_files = [(path, load_edge_list(path)) for path in by_format.get("edges", [])]
    report = IngestReport()
    for w in said:  # said again, outside: the caller's filters and display apply
        report.skipped += getattr(w.message, "skipped", 0)
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    with store.atomic():
        for path, entries in contents:
            _add_contents(store, path, entries, report)
        for path, graph in edge_files:
            run = store.add_run(_file_digest(path, "edges"), "edges", source=str(path.resolve()),
                                n_samples=len(graph.edges))
            if run is not None:
                report.edges_added += store.add_edges(graph.edges, run=run)
        for graph in graphs:
            report.edges_added += store.add_edges(graph.edges)
        store.add_samples(runs, report, progress)
    logger.debug("Ingested %d path(s) into %s: %s", len(paths), store.path, report.to_json())
    return report


def _add_contents(store: Store, path: Path, entries: list[leaderboard.LeaderboardEntry],
                  report: IngestReport) -> None:
    """The leaderboard contents table: Raw accuracies (weighted by the benchmarks' instance counts),
    model factors, and root edges."""
    report.models += len(entries)
    run = store.add_run(_file_digest(path, "contents"), "contents", source=str(path.resolve()),
                        run_time=path.stat().st_mtime, n_samples=len(entries))
    if run is None:
        return  # the same table again
    store.add_models({e.model: e.meta for e in entries})
    store.add_scores(run, [(e.model, bench, value, float(BY_KEY[bench].n_instances))
                           for e in entries for bench, value in e.scores.items()], report)
    report.edges_added += store.add_edges(leaderboard.contents_graph(entries).edges, run=run)


def long_csv_runs(path: str | Path, questions: str | Path | None = None,
                  model_map: str | Path | None = None) -> tuple[list[SampleRun], LineageGraph]:
    """A long CSV as one SampleRun per (model, task) (task = the CSV's benchmark, doc_hash = instance
    id), and the lineage its model map gives."""
    table = load_long_csv(path, questions=questions, model_map=model_map)
    m = table.matrix
    tasks, keys = zip(*(item.split("/", 1) for item in m.items)) if m.items else ((), ())
    runs = []
    for r, model in enumerate(m.models):
        observed = np.flatnonzero(~np.isnan(m.values[r]))
        by_task: dict[str, SampleRun] = {}
        for j in observed.tolist():
            run = by_task.get(tasks[j])
            if run is None:
                run = by_task[tasks[j]] = SampleRun(model, tasks[j], "correct", source=str(Path(path).resolve()),
                                                    kind="long_csv")
            run.doc_hashes.append(keys[j])
            run.values.append(float(m.values[r, j]))
            text = m.item_texts[j] if m.item_texts else None
            run.prompts.append(text or None)
            run.prompt_hashes.append(hashlib.sha256(text.encode()).hexdigest() if text else None)
        runs.extend(by_task.values())
    return runs, table.graph


def _file_digest(path: Path, kind: str) -> str:
    """The run fingerprint of a whole file: the same file ingested twice adds nothing."""
    digest = hashlib.sha256(kind.encode() + b"\0")
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
