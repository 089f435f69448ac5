"""The Open LLM Leaderboard v2 contents table (``open-llm-leaderboard/contents``).

Gives model-level accuracies (the ``* Raw`` columns) as aggregated observations weighted by the
benchmark's instance count, model factors (architecture, parameters, type, merged flag) for the
NCF baseline, and weak *root* lineage edges: ``Base Model`` is the ROOT of the family tree, not the
direct parent, so it only links a model to its family when no direct edge is known.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hub_lineage.benchmarks import LEADERBOARD
from hub_lineage.errors import DataFormatError, DataWarning
from hub_lineage.ids import is_repo_id
from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.data.sources.parquet import pyarrow_for
from hub_lineage.data.sources.text import dict_reader, open_text

REQUIRED_COLUMNS = ("fullname", *(b.contents_column for b in LEADERBOARD))
_PRECISION_RANK = {"bfloat16": 0, "float16": 1, "float32": 2}


@dataclass
class LeaderboardEntry:
    """One model of the contents table; ``scores`` maps benchmark key -> accuracy in [0, 1]."""

    model: str
    scores: dict[str, float]
    meta: dict[str, Any] = field(default_factory=dict)
    root: str | None = None
    root_is_merge: bool = False


def is_contents_table(header: Iterable[str]) -> bool:
    return set(REQUIRED_COLUMNS) <= set(header)


def read_contents(path: str | Path) -> list[LeaderboardEntry]:
    """Read the contents table (CSV, or parquet with pyarrow), one entry per model.

    Duplicate ``fullname`` rows (one model at several precisions) are resolved deterministically:
    the row with the most scores, then bfloat16 < float16 < float32 < others, then ``eval_name``.
    """
    rows = _read_rows(Path(path))
    best: dict[str, tuple[tuple, LeaderboardEntry]] = {}
    bad_rows: list[str] = []
    bad_scores: list[str] = []
    for line, row in enumerate(rows, start=2):
        entry = _entry(row, bad_scores)
        if entry is None:
            bad_rows.append(f"line {line}: fullname {str(row.get('fullname'))[:80]!r} is not a valid Hub repo id")
            continue
        rank = (-len(entry.scores), _PRECISION_RANK.get(str(row.get("Precision")), 9), str(row.get("eval_name")))
        if entry.model not in best or rank < best[entry.model][0]:
            best[entry.model] = (rank, entry)
    if bad_rows or bad_scores:
        parts = ([f"{len(bad_rows)} row(s) (first: {bad_rows[0]})"] if bad_rows else []) + (
            [f"{len(bad_scores)} score(s) not a number in [0, 1] (first: {bad_scores[0]})"] if bad_scores else [])
        warnings.warn(DataWarning(f"Skipped {' and '.join(parts)} of {Path(path).name}.",
                                  skipped=len(bad_rows) + len(bad_scores)), stacklevel=2)
    return [entry for _, entry in sorted(best.values(), key=lambda x: x[1].model)]


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise DataFormatError(f"Leaderboard contents file {str(path)!r} does not exist.")
    if path.suffix == ".parquet":
        rows = pyarrow_for(f"reading {path.name!r}").parquet.read_table(path).to_pylist()
        header = list(rows[0]) if rows else []
    else:
        with open_text(path) as handle:
            reader = dict_reader(handle, path)
            header = list(reader.fieldnames or [])
            rows = list(reader)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise DataFormatError(
            f"{str(path)!r} is not a leaderboard contents table: it lacks the column(s) {missing}.")
    return rows


#: Cells that mean "no score" (left empty, not wrong).
_EMPTY = frozenset({"", "nan", "NaN", "None", "null"})


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _flag(value: Any) -> bool | None:
    text = str(value).strip().lower()
    return True if text == "true" else False if text == "false" else None


def _entry(row: dict[str, Any], bad_scores: list[str] | None = None) -> LeaderboardEntry | None:
    model = str(row.get("fullname") or "").strip()
    if not model or not is_repo_id(model):
        return None
    scores = {}
    for bench in LEADERBOARD:
        raw = row.get(bench.contents_column)
        value = _float(raw)
        if value is not None and 0.0 <= value <= 1.0:
            scores[bench.key] = value
        elif bad_scores is not None and raw is not None and str(raw).strip() not in _EMPTY:
            bad_scores.append(f"{model} {bench.contents_column}={str(raw)[:20]!r}")
    params = _float(row.get("#Params (B)"))
    arch = str(row.get("Architecture") or "?").strip()
    meta = {
        "architecture": arch if arch not in ("", "?") else None,
        "params_b": params if params is not None and params > 0 else None,
        "type": str(row.get("Type") or "").strip() or None,
        "merged": str(row.get("Merged")).strip().lower() == "true",
        "chat_template": _flag(row.get("Chat Template")),
    }
    base = str(row.get("Base Model") or "").strip()
    root_is_merge = base.endswith("(Merge)")
    base = base.removesuffix("(Merge)").strip()
    root = base if base and base not in (model, "Removed") and is_repo_id(base) else None
    return LeaderboardEntry(model, scores, meta, root, root_is_merge)


def contents_matrix(entries: Iterable[LeaderboardEntry]) -> ObservationMatrix:
    """Aggregated observations: items are the six benchmark keys, counts their instance numbers."""
    entries = list(entries)
    keys = [b.key for b in LEADERBOARD]
    values = np.full((len(entries), len(keys)), np.nan, dtype=np.float32)
    for i, entry in enumerate(entries):
        for j, key in enumerate(keys):
            if key in entry.scores:
                values[i, j] = entry.scores[key]
    return ObservationMatrix(
        [e.model for e in entries], keys, values, keys,
        np.array([b.n_instances for b in LEADERBOARD], dtype=np.float32),
        model_meta={e.model: e.meta for e in entries})


def contents_graph(entries: Iterable[LeaderboardEntry]) -> LineageGraph:
    """Weak root edges (child -> family root, ``root=True``) for models of generation >= 1."""
    graph = LineageGraph()
    edges = []
    for entry in entries:
        graph.add_node(entry.model)
        if entry.root is not None:
            relation = Relation.MERGE if entry.root_is_merge or entry.meta.get("merged") else Relation.FINETUNE
            edges.append(Edge(entry.model, entry.root, relation, None, root=True))
    graph.add_edges(edges)
    return graph
