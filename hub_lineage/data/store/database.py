"""The training-matrix store: one SQLite file holding every observation and lineage edge ``fit`` needs.

The tables and their versions are in :mod:`~hub_lineage.data.store.schema`. An observation row
stores its run's values as a float32 array over an *instance set* (an int32 array of instance ids
shared by every run over the same instances): a leaderboard-size run is one 86 kB row instead of
21,606 rows, so 3,000 models x 21,606 instances leave the store in seconds. Every run is kept; for
each (model, instance, metric) the newest run (by run time, then by ingest order) wins.

Writers compose: each runs inside :meth:`Store.atomic`, which nests (the outermost block is one
``BEGIN IMMEDIATE`` transaction in WAL mode, inner blocks are savepoints), so an ingest of many
files is all-or-nothing: concurrent writers wait their turn, and a crash leaves nothing
half-written. Reading files is :mod:`~hub_lineage.data.store.ingest`'s job, not the store's.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from hub_lineage import paths
from hub_lineage.errors import InvalidInputError, StoreError
from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.data.sources.lm_eval import SampleRun
from hub_lineage.data.store import schema

SQLITE_MAGIC = b"SQLite format 3\x00"
#: Provenance fields of a run (:meth:`Store.add_run`), as :meth:`Store.runs` returns them.
RUN_FIELDS = ("source", "model", "task", "metric", "lm_eval_version", "model_args", "task_version",
              "run_time", "n_samples")


@dataclass
class IngestReport:
    """Counts for one ingest call.

    ``models``/``instances``: distinct models and instances in the input; ``observations_added``:
    (model, instance or benchmark, metric) cells new to the store; ``observations_updated``: cells
    whose current value this input replaced with a different one; ``skipped``: bad input records.
    """

    models: int = 0
    instances: int = 0
    observations_added: int = 0
    observations_updated: int = 0
    skipped: int = 0
    edges_added: int = 0

    def to_json(self) -> dict[str, int]:
        return asdict(self)


def store_error(path: Path, exc: sqlite3.DatabaseError) -> StoreError:
    """The one message for a store SQLite refuses: read-only, unopenable, or corrupted."""
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        why = ("is read-only: make it (and its directory) writable, or pass --store with a writable "
               "path")
    elif "unable to open" in text:
        why = "cannot be opened: its directory must exist and be writable; pass --store with another path"
    elif "locked" in text:
        why = "is locked by another process: wait for it, or pass --store with another path"
    else:
        why = ("is corrupted; it was left untouched. Restore it from a backup, or move it aside and "
               "ingest again")
    return StoreError(f"Store {str(path)!r} {why} ({text}).")


class Store:
    """The training-matrix store (SQLite, WAL). Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else paths.default_store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and not self.path.is_file():  # /dev/null, a pipe: SQLite said "corrupted"
            raise StoreError(f"{str(self.path)!r} is not a regular file, so it cannot hold a hub-lineage store; "
                             "it was left untouched. Pass --store with a file path.")
        if self.path.exists() and self.path.stat().st_size > 0:
            with self.path.open("rb") as handle:
                head = handle.read(16)
            if head != SQLITE_MAGIC:
                raise StoreError(f"{str(self.path)!r} is not a hub-lineage store (not an SQLite file); "
                                 "it was left untouched. Pass --store with another path.")
        self._depth = 0  # open atomic() blocks, to name their savepoints
        try:
            self.db = sqlite3.connect(str(self.path), timeout=120.0, isolation_level=None)
            try:
                self.db.execute("PRAGMA busy_timeout = 120000")
                self._open_schema()
                self.db.execute("PRAGMA journal_mode = WAL")
                self.db.execute("PRAGMA synchronous = NORMAL")
                self.db.execute("PRAGMA cache_size = -65536")  # 64 MB: a details run's B-tree pages stay hot
                self.db.execute("PRAGMA temp_store = MEMORY")
                self._check_integrity()
            except BaseException:
                self.db.close()  # a refused file is not left open (nor locked, on Windows)
                raise
        except sqlite3.DatabaseError as exc:
            raise store_error(self.path, exc) from None

    def _check_integrity(self) -> None:
        """Refuse a store damaged past its header (``PRAGMA quick_check``: ~0.1 s per 10 MB), so that
        no command reads wrong rows from it or writes more into it."""
        problems = [row[0] for row in self.db.execute("PRAGMA quick_check(3)").fetchall()]
        if problems != ["ok"]:
            raise sqlite3.DatabaseError("integrity check failed: " + " ".join("; ".join(problems).split())[:200])

    def _open_schema(self) -> None:
        """Create a new store, or upgrade an older one, in one transaction."""
        if schema.is_current(self.db, self.path):  # read-only: a foreign file is refused before any write
            return
        self.db.execute("PRAGMA journal_mode = WAL")  # the file is empty or ours: switching is safe
        with self.atomic():
            schema.upgrade(self.db, self.path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def atomic(self) -> Iterator[sqlite3.Connection]:
        """A block of writes that lands whole or not at all; blocks nest.

        The outermost block is a transaction that takes the write lock up front (``BEGIN
        IMMEDIATE``), so concurrent writers queue instead of failing half-way; a block inside it is
        a savepoint, undone alone when it raises (the enclosing block decides about the rest).
        """
        if self.db.in_transaction:
            name = f"atomic_{self._depth}"
            begin, commit, undo = f"SAVEPOINT {name}", f"RELEASE {name}", (f"ROLLBACK TO {name}", f"RELEASE {name}")
        else:
            begin, commit, undo = "BEGIN IMMEDIATE", "COMMIT", ("ROLLBACK",)
        try:
            self.db.execute(begin)
        except sqlite3.DatabaseError as exc:  # read-only file or directory: say so before any work
            raise store_error(self.path, exc) from None
        self._depth += 1
        try:
            yield self.db
            self.db.execute(commit)
        except BaseException:
            if self.db.in_transaction:  # SQLite itself rolls everything back on some errors (disk full)
                for statement in undo:
                    self.db.execute(statement)
            raise
        finally:
            self._depth -= 1

    # -- writing: each writer is one atomic() block, so they compose into one transaction ----------

    def add_run(self, fingerprint: str, kind: str, **provenance: Any) -> int | None:
        """Record a run (the provenance of what is written with it) and return its id.

        ``fingerprint`` identifies the input (e.g. a digest of its file): None is returned when a
        run with the same fingerprint is stored, so that the same input twice adds nothing.
        ``provenance`` holds any of :data:`RUN_FIELDS` (``run_time`` defaults to now).
        """
        unknown = set(provenance) - set(RUN_FIELDS)
        if unknown:
            raise InvalidInputError(f"Unknown run field(s) {sorted(unknown)}: expected {', '.join(RUN_FIELDS)}.")
        row = {name: provenance.get(name) for name in RUN_FIELDS}
        now = time.time()
        with self.atomic():
            model_id = None if row["model"] is None else self._model_ids([row["model"]])[row["model"]]
            cur = self.db.execute(
                "INSERT OR IGNORE INTO runs(fingerprint, kind, source, model_id, task, metric, lm_eval_version,"
                " model_args, task_version, run_time, ingested_at, n_samples) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (fingerprint, kind, row["source"], model_id, row["task"], row["metric"], row["lm_eval_version"],
                 row["model_args"], row["task_version"], row["run_time"] or now, now, row["n_samples"] or 0))
        return cur.lastrowid if cur.rowcount else None

    def add_models(self, models: Mapping[str, Mapping[str, Any]]) -> None:
        """Store models with their factors: name -> ``architecture``, ``params_b``, ``type``,
        ``merged``, ``chat_template`` (the leaderboard's columns; a missing one is stored empty)."""
        with self.atomic():
            ids = self._model_ids(models)
            self.db.executemany(
                "UPDATE models SET architecture=?, params_b=?, type=?, merged=?, chat_template=? WHERE id=?",
                [(m.get("architecture"), m.get("params_b"), m.get("type"), int(bool(m.get("merged"))),
                  _flag(m.get("chat_template")), ids[name]) for name, m in models.items()])

    def add_scores(self, run: int, scores: Iterable[tuple[str, str, float, float]],
                   report: IngestReport | None = None) -> IngestReport:
        """Store aggregated accuracies ``(model, benchmark, value, instance count)`` of run ``run``.

        ``report`` counts the cells new to the store, and those this run (when it is the newest)
        changes.
        """
        report = report or IngestReport()
        scores = list(scores)
        with self.atomic():
            run_time = self.db.execute("SELECT run_time FROM runs WHERE id = ?", (run,)).fetchone()[0]
            ids = self._model_ids(model for model, *_ in scores)
            current = {(m, b): (v, t) for m, b, v, t in self.db.execute(
                "SELECT s.model_id, s.benchmark, s.value, r.run_time FROM scores s JOIN runs r "
                "ON r.id = s.run_id ORDER BY r.run_time, r.id")}
            for model, bench, value, _ in scores:
                old = current.get((ids[model], bench))
                if old is None:
                    report.observations_added += 1
                elif old[1] <= run_time and old[0] != value:
                    report.observations_updated += 1
            self.db.executemany("INSERT INTO scores VALUES (?,?,?,?,?)",
                                [(ids[model], bench, run, value, count) for model, bench, value, count in scores])
        return report

    def add_edges(self, edges: Iterable[Edge], *, run: int | None = None) -> int:
        """Store lineage edges (from a file recorded as run ``run``, or e.g. resolved from the Hub);
        return how many were new."""
        edges = list(edges)
        with self.atomic():
            ids = self._model_ids(n for e in edges for n in (e.child, e.parent))
            before = self.db.total_changes
            self.db.executemany(
                "INSERT OR IGNORE INTO edges VALUES (?,?,?,?,?,?)",
                [(ids[e.child], ids[e.parent], int(e.root), e.relation.value, e.weight, run) for e in edges])
            return self.db.total_changes - before

    def add_samples(self, runs: Iterable[SampleRun], report: IngestReport | None = None,
                    progress: Callable[[list[SampleRun]], Iterable[SampleRun]] | None = None) -> IngestReport:
        """Store sample runs (lm-eval tasks, details files, long-CSV rows): instance-level cells.

        ``progress`` wraps the list of runs as they are written (e.g. a progress bar).
        """
        report = report or IngestReport()
        runs = list(runs)
        with self.atomic():
            for run in (progress or list)(runs):
                report.skipped += run.skipped
                if run.doc_hashes:
                    self._write_run(run, report)
        report.models += len({run.model for run in runs})
        report.instances += len({(run.task, h) for run in runs for h in run.doc_hashes})
        return report

    def _model_ids(self, names: Iterable[str]) -> dict[str, int]:
        names = list(dict.fromkeys(names))
        self.db.executemany("INSERT OR IGNORE INTO models(name) VALUES (?)", [(n,) for n in names])
        out: dict[str, int] = {}
        for start in range(0, len(names), 900):
            chunk = names[start:start + 900]
            marks = ",".join("?" * len(chunk))
            out.update(self.db.execute(f"SELECT name, id FROM models WHERE name IN ({marks})", chunk))
        return out

    def _write_run(self, run: SampleRun, report: IngestReport) -> None:
        values = np.asarray(run.values, dtype=np.float32)
        digest = hashlib.sha256()
        for part in (run.model, run.task, run.metric, repr(run.run_time)):
            digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
        digest.update("\n".join(run.doc_hashes).encode("utf-8", "surrogatepass"))
        digest.update(values.tobytes())
        run_id = self.add_run(
            digest.hexdigest(), run.kind, source=run.source, model=run.model, task=run.task,
            metric=run.metric, lm_eval_version=run.lm_eval_version, model_args=run.model_args,
            task_version=run.task_version, run_time=run.run_time, n_samples=len(values))
        if run_id is None:
            return  # the same run again: adds nothing
        model_id = self._model_ids([run.model])[run.model]
        bench = run.benchmark
        prompts = run.prompts or [None] * len(values)
        hashes = run.prompt_hashes or [None] * len(values)
        known = {h: (i, missing) for h, i, missing in self.db.execute(
            "SELECT doc_hash, id, prompt IS NULL FROM instances WHERE task = ?", (run.task,))}
        ids_of = {h: i for h, (i, _) in known.items()}
        # explicit ids: this transaction holds the write lock, so MAX(id) cannot move under us,
        # and no second SELECT is needed to learn the new rows' ids
        next_id = self.db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM instances").fetchone()[0]
        rows, fill = [], []
        for h, p, ph in zip(run.doc_hashes, prompts, hashes):
            if h not in known:
                ids_of[h] = next_id
                rows.append((next_id, run.task, h, bench, p, ph))
                next_id += 1
            elif p is not None and known[h][1]:
                fill.append((p, ph, known[h][0]))
        self.db.executemany("INSERT INTO instances(id, task, doc_hash, benchmark, prompt, prompt_hash) "
                            "VALUES (?,?,?,?,?,?)", rows)
        self.db.executemany("UPDATE instances SET prompt = ?, prompt_hash = ? WHERE id = ?", fill)
        ids = np.fromiter((ids_of[h] for h in run.doc_hashes), dtype=np.int32, count=len(values))
        order = np.argsort(ids, kind="stable")
        ids, values = ids[order], values[order]
        self._count_changes(model_id, run, ids, values, report)
        set_id = self._instance_set(ids)
        self.db.execute('INSERT INTO observations(run_id, model_id, metric, instance_set, "values") '
                        "VALUES (?,?,?,?,?)", (run_id, model_id, run.metric, set_id, values.tobytes()))

    def _instance_set(self, ids: np.ndarray) -> int:
        blob = ids.astype(np.int32).tobytes()
        digest = hashlib.sha1(blob).hexdigest()
        self.db.execute("INSERT OR IGNORE INTO instance_sets(digest, ids) VALUES (?, ?)", (digest, blob))
        return self.db.execute("SELECT id FROM instance_sets WHERE digest = ?", (digest,)).fetchone()[0]

    def _count_changes(self, model_id: int, run: SampleRun, ids: np.ndarray, values: np.ndarray,
                       report: IngestReport) -> None:
        """Cells of this run that are new, or that it (as the newest run) changes."""
        n = int(ids.max()) + 1 if len(ids) else 0
        current = np.full(n, np.nan, dtype=np.float32)
        newer = np.zeros(n, dtype=bool)  # a stored run newer than this one owns the cell
        run_time = run.run_time or time.time()
        rows = self.db.execute(
            'SELECT s.ids, o."values", r.run_time FROM observations o JOIN runs r ON r.id = o.run_id '
            "JOIN instance_sets s ON s.id = o.instance_set WHERE o.model_id = ? AND o.metric = ? "
            "ORDER BY r.run_time, r.id", (model_id, run.metric))
        for blob, vals, when in rows:
            old_ids = np.frombuffer(blob, dtype=np.int32)
            keep = old_ids < n
            old_ids = old_ids[keep]
            current[old_ids] = np.frombuffer(vals, dtype=np.float32)[keep]
            newer[old_ids] = when > run_time
        before = current[ids]
        seen = ~np.isnan(before)
        report.observations_added += int((~seen).sum())
        report.observations_updated += int((seen & ~newer[ids] & (before != values)).sum())

    # -- reading ------------------------------------------------------------------------------

    def is_empty(self) -> bool:
        return self.db.execute("SELECT 1 FROM runs LIMIT 1").fetchone() is None

    def models(self) -> list[str]:
        """Models with at least one observation, sorted."""
        return [r[0] for r in self.db.execute(
            "SELECT name FROM models WHERE id IN (SELECT model_id FROM observations UNION "
            "SELECT model_id FROM scores) ORDER BY name")]

    def runs(self, model: str | None = None) -> list[dict[str, Any]]:
        """Provenance of the stored runs (oldest first), optionally of one model."""
        sql = ("SELECT r.*, m.name AS model FROM runs r LEFT JOIN models m ON m.id = r.model_id"
               + (" WHERE m.name = ?" if model else "") + " ORDER BY r.run_time, r.id")
        cur = self.db.execute(sql, (model,) if model else ())
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row)) for row in cur]

    def lineage_graph(self) -> LineageGraph:
        """Every stored edge (direct and root) over every stored model."""
        names = dict(self.db.execute("SELECT id, name FROM models"))
        # direct edges first: LineageGraph keeps a root edge only for a child without a direct parent
        edges = [Edge(names[c], names[p], Relation(rel), w, bool(root))
                 for c, p, root, rel, w in self.db.execute(
                     "SELECT child_id, parent_id, root, relation, weight FROM edges ORDER BY root")]
        scored = self.models()  # a cycle loses its edge farthest from a scored model (lineage.cycles)
        return LineageGraph(edges, nodes=scored, anchors=scored)

    def to_matrix(self, level: str = "benchmark", benchmarks: Sequence[str] | None = None,
                  models: Sequence[str] | None = None, metric: str | None = None) -> ObservationMatrix:
        """Export an ObservationMatrix (see :mod:`hub_lineage.data.store.export`)."""
        from hub_lineage.data.store import export as store_export

        if level == "instance":
            return store_export.instance_matrix(self, benchmarks, models, metric)
        if level == "benchmark":
            return store_export.benchmark_matrix(self, benchmarks, models, metric)
        raise InvalidInputError(f"Unknown matrix level {level!r}: expected 'benchmark' or 'instance'.")

    def export(self, path: str | Path, fmt: str | None = None, *, models: Sequence[str] | None = None,
               metric: str | None = None) -> int:
        """Write the current cells as a long CSV or parquet file (model, instance, benchmark, value,
        count, metric, run); return the number of rows. See :func:`hub_lineage.data.store.export.export`."""
        from hub_lineage.data.store import export as store_export

        return store_export.export(self, path, fmt, models=models, metric=metric)

    def benchmark_scores(self, model: str) -> dict[str, float] | None:
        """Observed accuracy of ``model`` per benchmark (instance means override aggregates)."""
        if self.db.execute("SELECT 1 FROM models WHERE name = ?", (model,)).fetchone() is None:
            return None
        matrix = self.to_matrix("benchmark", models=[model])
        if model not in matrix.model_index:
            return None
        row = matrix.values[matrix.model_index[model]]
        return {b: float(v) for b, v in zip(matrix.items, row) if not np.isnan(v)} or None


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(bool(value))
