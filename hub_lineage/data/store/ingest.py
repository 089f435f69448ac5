"""Ingest dispatch for the store: files of any known format, and long CSVs as sample runs.

:meth:`Store.ingest_paths` calls :func:`ingest_paths`: every path is read (and checked) first, then
everything is written in one transaction, so a bad file stores nothing and a crash leaves no half
run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hub_lineage.errors import InvalidInputError
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.data.sources.lm_eval import SampleRun

if TYPE_CHECKING:
    from hub_lineage.data.store.database import IngestReport, Store


def long_csv_runs(path: str | Path, questions: str | Path | None = None,
                  model_map: str | Path | None = None) -> tuple[list[SampleRun], LineageGraph]:
    """A long CSV as one SampleRun per model (task = the CSV's benchmark, doc_hash = instance id)."""
    from hub_lineage.data.sources.long_csv import load_long_csv

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



def ingest_paths(store: Store, paths_: Sequence[str | Path], model_id: str | None, fmt: str,
                  strict: bool, progress: Callable[[int, int], None] | None, metrics: Any) -> IngestReport:
    from hub_lineage.data.sources import detect
    from hub_lineage.data.sources.edges import load_edge_list
    from hub_lineage.data.sources.lm_eval import read_output

    known = ("auto", "lm_eval", *detect.CSV_FORMATS)
    if fmt not in known:
        raise InvalidInputError(f"Unknown format {fmt!r}: expected one of {', '.join(known)}.")
    by_format: dict[str, list[Path]] = {}
    for p in paths_:
        by_format.setdefault(detect.detect_format(p) if fmt == "auto" else fmt, []).append(Path(p))
    runs: list[SampleRun] = []
    graphs: list[LineageGraph] = []
    for path in by_format.get("lm_eval", []):
        runs.extend(read_output(path, metrics, model_id=model_id, strict=strict))
    for path in by_format.get("long_csv", []):
        bench = path.name.split(".")[0].removesuffix("_correctness")
        questions = detect._sidecar(path, by_format.get("questions", []), f"{bench}_questions")
        model_map = detect._sidecar(path, by_format.get("model_map", []), f"{bench}_models")
        more, graph = long_csv_runs(path, questions, model_map)
        runs.extend(more)
        graphs.append(graph)
    edge_files = [(p, load_edge_list(p)) for p in by_format.get("edges", [])]
    from hub_lineage.data.store.database import IngestReport, _file_digest

    report = IngestReport()
    with store.transaction():
        for path in by_format.get("contents", []):
            store._write_contents(path, report)
        for path, graph in edge_files:
            run_id = store._new_run(_file_digest(path, "edges"), "edges", source=str(path.resolve()),
                                    n_samples=len(graph.edges))
            if run_id is not None:
                report.edges_added += store._write_edges(graph.edges, run_id)
        for graph in graphs:
            report.edges_added += store._write_edges(graph.edges, None)
        store._write_samples(runs, report, progress)
    return report
