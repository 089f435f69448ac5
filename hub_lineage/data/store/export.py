"""Reading the store out: ObservationMatrix views and long-form CSV/parquet files.

The instance level has one column per stored instance; the benchmark level has one column per
benchmark (aggregated scores, overridden by the mean of a model's instance-level results where it
has them). In every view, for each (model, instance, metric) the newest run wins (by run time,
then by ingest order); :func:`export` writes those winning cells plus the aggregated scores.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from hub_lineage.benchmarks import BENCHMARK_KEYS, BY_KEY
from hub_lineage.errors import InvalidInputError, StoreError
from hub_lineage.files import atomic_path
from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.data.sources.parquet import pyarrow_for

if TYPE_CHECKING:
    from hub_lineage.data.store.database import Store

#: Columns of the long-form export, one row per stored cell.
EXPORT_COLUMNS = ("model", "instance", "benchmark", "value", "count", "metric", "run")
EXPORT_FORMATS = ("csv", "parquet")


def _in_clause(column: str, values: Sequence[Any] | None) -> tuple[str, list[Any]]:
    if values is None:
        return "1", []
    return f"{column} IN ({','.join('?' * len(values))})", list(values)


def _model_rows(store: Store, models: Sequence[str] | None, observed: Iterable[int]) -> dict[int, int]:
    """model id -> row: given models in their order, else observed models sorted by name."""
    names = dict(store.db.execute("SELECT id, name FROM models"))
    present = set(observed)
    if models is None:
        order = sorted(present, key=names.__getitem__)
    else:
        ids = {n: i for i, n in names.items()}
        order = [ids[m] for m in dict.fromkeys(models) if m in ids and ids[m] in present]
    return {mid: row for row, mid in enumerate(order)}


def instance_matrix(store: Store, benchmarks: Sequence[str] | None, models: Sequence[str] | None,
                     metric: str | None) -> ObservationMatrix:
    """One column per stored instance; for each cell the newest run's value wins."""
    db = store.db
    where, args = "1", []
    if benchmarks is not None:
        marks = ",".join("?" * len(benchmarks))
        where, args = f"benchmark IN ({marks}) OR task IN ({marks})", [*benchmarks, *benchmarks]
    inst = db.execute(f"SELECT id, task, doc_hash, benchmark, prompt FROM instances WHERE {where} ORDER BY id",
                      args).fetchall()
    top = db.execute("SELECT COALESCE(MAX(id), 0) FROM instances").fetchone()[0]
    col_of = np.full(top + 1, -1, dtype=np.int64)
    col_of[[r[0] for r in inst]] = np.arange(len(inst))
    mwhere, margs = ("o.metric = ?", [metric]) if metric else ("1", [])
    observed = [r[0] for r in db.execute(f"SELECT DISTINCT model_id FROM observations o WHERE {mwhere}", margs)]
    row_of = _model_rows(store, models, observed)
    values = np.full((len(row_of), len(inst)), np.nan, dtype=np.float32)
    sets: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    blocks = db.execute(
        f'SELECT o.model_id, o.instance_set, o."values" FROM observations o JOIN runs r ON r.id = o.run_id '
        f"WHERE {mwhere} ORDER BY r.run_time, r.id", margs)
    for model_id, set_id, blob in blocks:
        row = row_of.get(model_id)
        if row is None:
            continue
        if set_id not in sets:
            ids = np.frombuffer(db.execute("SELECT ids FROM instance_sets WHERE id = ?", (set_id,)).fetchone()[0],
                                dtype=np.int32)
            cols = col_of[ids]
            keep = cols >= 0
            sets[set_id] = (cols[keep], keep)
        cols, keep = sets[set_id]
        values[row, cols] = np.frombuffer(blob, dtype=np.float32)[keep]
    rows = np.flatnonzero(~np.isnan(values).all(axis=1)) if len(inst) else np.arange(len(row_of))
    names = dict(db.execute("SELECT id, name FROM models"))
    order = sorted(row_of, key=row_of.__getitem__)
    model_names = [names[order[r]] for r in rows.tolist()]
    return ObservationMatrix(
        model_names, [f"{t}/{h}" for _, t, h, _, _ in inst], values[rows],
        [b for _, _, _, b, _ in inst], None, [p or "" for *_, p in inst], _model_meta(store, model_names))


def benchmark_matrix(store: Store, benchmarks: Sequence[str] | None, models: Sequence[str] | None,
                      metric: str | None) -> ObservationMatrix:
    """Benchmark-level cells: aggregated scores, overridden by instance means where a model has them."""
    db = store.db
    where, args = _in_clause("s.benchmark", benchmarks)
    cells: dict[tuple[int, str], float] = {}
    for model_id, bench, value in db.execute(
            f"SELECT s.model_id, s.benchmark, s.value FROM scores s JOIN runs r ON r.id = s.run_id "
            f"WHERE {where} ORDER BY r.run_time, r.id", args):
        cells[(model_id, bench)] = value
    ids = {n: i for i, n in db.execute("SELECT id, name FROM models")}
    inst = instance_matrix(store, benchmarks, models, metric)
    if inst.items:
        means = inst.benchmark_scores()
        for r, model in enumerate(inst.models):
            for b, bench in enumerate(inst.benchmarks):
                if not np.isnan(means[r, b]):
                    cells[(ids[model], bench)] = float(means[r, b])
    present = {b for _, b in cells}
    items = [b for b in BENCHMARK_KEYS if b in present] + sorted(present - set(BENCHMARK_KEYS))
    inst_counts = dict(db.execute("SELECT benchmark, COUNT(*) FROM instances GROUP BY benchmark"))
    counts = np.array([BY_KEY[b].n_instances if b in BY_KEY else inst_counts.get(b, 1) for b in items],
                      dtype=np.float32)
    row_of = _model_rows(store, models, {m for m, _ in cells})
    col = {b: j for j, b in enumerate(items)}
    values = np.full((len(row_of), len(items)), np.nan, dtype=np.float32)
    for (model_id, bench), value in cells.items():
        if model_id in row_of:
            values[row_of[model_id], col[bench]] = value
    names = dict(db.execute("SELECT id, name FROM models"))
    model_names = [names[m] for m in sorted(row_of, key=row_of.__getitem__)]
    return ObservationMatrix(model_names, items, values, items, counts, None, _model_meta(store, model_names))


def _model_meta(store: Store, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    wanted = set(names)
    meta = {}
    for name, arch, params, kind, merged, chat in store.db.execute(
            "SELECT name, architecture, params_b, type, merged, chat_template FROM models WHERE type IS NOT "
            "NULL OR architecture IS NOT NULL OR params_b IS NOT NULL OR merged IS NOT NULL"):
        if name in wanted:
            meta[name] = {"architecture": arch, "params_b": params, "type": kind,
                          "merged": None if merged is None else bool(merged),
                          "chat_template": None if chat is None else bool(chat)}
    return meta


def export(store: Store, path: str | Path, fmt: str | None = None, *,
           models: Sequence[str] | None = None, metric: str | None = None) -> int:
    """Write the store's current cells as a long table; return the number of rows written.

    Columns (:data:`EXPORT_COLUMNS`): ``model``, ``instance`` (``task/doc_hash``; the benchmark
    key for an aggregated score), ``benchmark``, ``value`` (0/1 or a fraction), ``count``
    (instances behind the value: 1, or the benchmark's size for an aggregate), ``metric``
    (``accuracy`` for aggregates) and ``run`` (the id of the run the value comes from, see
    :meth:`Store.runs`). Only the winning (newest) value of each cell is written.

    ``fmt`` is ``csv`` or ``parquet`` (default: from the suffix; parquet needs pyarrow). The file
    is written beside ``path`` and renamed over it at the end, so an export that fails half-way
    leaves an existing ``path`` as it was.
    """
    path = Path(path)
    if path.resolve() == store.path.resolve():
        raise InvalidInputError(f"Refusing to export over the store itself ({str(path)!r}): pick another path.")
    if fmt is None:
        fmt = {".parquet": "parquet", ".csv": "csv"}.get(path.suffix.lower())
        if fmt is None:  # out.json or out.xlsx would silently get CSV
            raise InvalidInputError(f"Cannot tell the export format from {path.name!r}: name the file "
                                    "*.csv or *.parquet, or pass --format csv|parquet.")
    if fmt not in EXPORT_FORMATS:
        raise InvalidInputError(f"Unknown export format {fmt!r}: expected one of {', '.join(EXPORT_FORMATS)}.")
    pa = pyarrow_for(f"exporting to {str(path)!r}") if fmt == "parquet" else None
    batches = _export_batches(store, models, metric)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            rows = _write_parquet(pa, tmp, batches) if pa is not None else _write_csv(tmp, batches)
        return rows
    except OSError as exc:
        raise StoreError(f"Cannot write the export to {str(path)!r}: {exc}.") from None


def _write_csv(path: Path, batches: Iterator[list[tuple[Any, ...]]]) -> int:
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        for batch in batches:
            writer.writerows(batch)
            rows += len(batch)
    return rows


def _write_parquet(pa: ModuleType, path: Path, batches: Iterator[list[tuple[Any, ...]]]) -> int:
    schema = pa.schema([("model", pa.string()), ("instance", pa.string()), ("benchmark", pa.string()),
                        ("value", pa.float32()), ("count", pa.float32()), ("metric", pa.string()),
                        ("run", pa.int64())])
    rows = 0
    with pa.parquet.ParquetWriter(path, schema) as writer:
        for batch in batches:
            columns = list(zip(*batch)) if batch else [[] for _ in EXPORT_COLUMNS]
            writer.write_table(pa.Table.from_arrays([pa.array(c, t) for c, t in zip(columns, schema.types)],
                                                    schema=schema))
            rows += len(batch)
    return rows


def _export_batches(store: Store, models: Sequence[str] | None,
                    metric: str | None) -> Iterator[list[tuple[Any, ...]]]:
    """One list of rows per (model, metric) of instance results, then one for all aggregates."""
    db = store.db
    names = dict(db.execute("SELECT id, name FROM models"))
    wanted = None if models is None else {i for i, n in names.items() if n in set(models)}
    items: dict[int, tuple[str, str]] = {}
    mwhere, margs = ("o.metric = ?", [metric]) if metric else ("1", [])
    blocks = db.execute(
        f'SELECT o.model_id, o.metric, o.run_id, s.ids, o."values" FROM observations o '
        f"JOIN runs r ON r.id = o.run_id JOIN instance_sets s ON s.id = o.instance_set "
        f"WHERE {mwhere} ORDER BY o.model_id, o.metric, r.run_time, r.id", margs)
    group: list[tuple[int, str, int, bytes, bytes]] = []
    for block in blocks:
        if wanted is not None and block[0] not in wanted:
            continue
        if group and block[:2] != group[0][:2]:
            yield _winning_rows(db, group, names, items)
            group = []
        group.append(block)
    if group:
        yield _winning_rows(db, group, names, items)
    if metric is None:
        cells: dict[tuple[int, str], tuple[float, float, int]] = {}
        for model_id, bench, value, count, run_id in db.execute(
                "SELECT s.model_id, s.benchmark, s.value, s.count, s.run_id FROM scores s "
                "JOIN runs r ON r.id = s.run_id ORDER BY r.run_time, r.id"):
            if wanted is None or model_id in wanted:
                cells[(model_id, bench)] = (value, count, run_id)
        yield [(names[m], b, b, v, c, "accuracy", r) for (m, b), (v, c, r) in sorted(cells.items())]


def _winning_rows(db: Any, group: list[tuple[int, str, int, bytes, bytes]], names: dict[int, str],
                  items: dict[int, tuple[str, str]]) -> list[tuple[Any, ...]]:
    """Rows of one (model, metric): the last (newest) run's value of each instance."""
    ids = np.concatenate([np.frombuffer(b[3], dtype=np.int32) for b in group])
    values = np.concatenate([np.frombuffer(b[4], dtype=np.float32) for b in group])
    runs = np.concatenate([np.full(len(b[4]) // 4, b[2], dtype=np.int64) for b in group])
    last = len(ids) - 1 - np.unique(ids[::-1], return_index=True)[1]  # last occurrence wins
    missing = [int(i) for i in ids[last] if int(i) not in items]
    for start in range(0, len(missing), 900):
        chunk = missing[start:start + 900]
        for iid, task, key, bench in db.execute(
                f"SELECT id, task, doc_hash, benchmark FROM instances WHERE id IN ({','.join('?' * len(chunk))})",
                chunk):
            items[iid] = (f"{task}/{key}", bench)
    model, metric = names[group[0][0]], group[0][1]
    return [(model, *items[i], v, 1.0, metric, r)
            for i, v, r in zip(ids[last].tolist(), values[last].tolist(), runs[last].tolist())]

