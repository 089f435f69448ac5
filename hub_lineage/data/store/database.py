"""The training-matrix store: one SQLite file holding every observation and lineage edge ``fit`` needs.

Tables: ``models`` (ids and NCF factors), ``instances`` (``(task, doc_hash)`` keys, benchmark,
prompt text and hash), ``runs`` (provenance: source file, lm-eval version, model args, task version,
run time), ``observations`` (one row per run: the model's correctness on that run's instances),
``scores`` (aggregated benchmark accuracies with their instance counts) and ``edges``.

An observation row stores its run's values as a float32 array over an *instance set* (an int32
array of instance ids shared by every run over the same instances): a leaderboard-size run is one
86 kB row instead of 21,606 rows, so 3,000 models x 21,606 instances leave the store in seconds.
Every run is kept; for each (model, instance, metric) the newest run (by run time, then by ingest
order) wins. Each ingest is one ``BEGIN IMMEDIATE`` transaction in WAL mode: concurrent writers
wait their turn, and a crash leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from hub_lineage import paths
from hub_lineage.benchmarks import BY_KEY
from hub_lineage.errors import InvalidInputError, StoreError
from hub_lineage.lineage.graph import Edge, LineageGraph, Relation
from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.data.sources.lm_eval import SampleRun

APP_ID = "hub-lineage-store"
SCHEMA_VERSION = 2  # 2: models.chat_template (the leaderboard's 'Chat Template' flag)
SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE models(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, architecture TEXT,
                    params_b REAL, type TEXT, merged INTEGER, chat_template INTEGER);
CREATE TABLE instances(id INTEGER PRIMARY KEY, task TEXT NOT NULL, doc_hash TEXT NOT NULL,
                       benchmark TEXT NOT NULL, prompt TEXT, prompt_hash TEXT,
                       UNIQUE(task, doc_hash));
CREATE INDEX instances_benchmark ON instances(benchmark);
CREATE TABLE runs(id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
                  source TEXT, model_id INTEGER, task TEXT, metric TEXT, lm_eval_version TEXT,
                  model_args TEXT, task_version TEXT, run_time REAL NOT NULL,
                  ingested_at REAL NOT NULL, n_samples INTEGER NOT NULL DEFAULT 0);
CREATE INDEX runs_model ON runs(model_id);
CREATE TABLE instance_sets(id INTEGER PRIMARY KEY, digest TEXT NOT NULL UNIQUE, ids BLOB NOT NULL);
CREATE TABLE observations(run_id INTEGER PRIMARY KEY, model_id INTEGER NOT NULL,
                          metric TEXT NOT NULL, instance_set INTEGER NOT NULL,
                          "values" BLOB NOT NULL);
CREATE INDEX observations_model ON observations(model_id, metric);
CREATE TABLE scores(model_id INTEGER NOT NULL, benchmark TEXT NOT NULL, run_id INTEGER NOT NULL,
                    value REAL NOT NULL, count REAL NOT NULL,
                    PRIMARY KEY(model_id, benchmark, run_id)) WITHOUT ROWID;
CREATE TABLE edges(child_id INTEGER NOT NULL, parent_id INTEGER NOT NULL, root INTEGER NOT NULL,
                   relation TEXT NOT NULL, weight REAL, run_id INTEGER,
                   PRIMARY KEY(child_id, parent_id, root)) WITHOUT ROWID;
"""


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


class Store:
    """The training-matrix store (SQLite, WAL). Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else paths.default_store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and self.path.stat().st_size > 0:
            with self.path.open("rb") as handle:
                head = handle.read(16)
            if head != SQLITE_MAGIC:
                raise StoreError(f"{str(self.path)!r} is not a hub-lineage store (not an SQLite file); "
                                 "it was left untouched. Pass --store with another path.")
        try:
            self.db = sqlite3.connect(str(self.path), timeout=120.0, isolation_level=None)
            self.db.execute("PRAGMA busy_timeout = 120000")
            self._init_schema()  # checks before WAL: switching modes would write to a foreign file
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA cache_size = -65536")  # 64 MB: a details run's B-tree pages stay hot
            self.db.execute("PRAGMA temp_store = MEMORY")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"Store {str(self.path)!r} is corrupted or unreadable ({exc}); it was "
                             "left untouched.") from None

    def _init_schema(self) -> None:
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            self.db.execute("PRAGMA journal_mode = WAL")
            with self.transaction():  # re-check inside: a concurrent process may have created it
                if not self.db.execute("SELECT 1 FROM sqlite_master WHERE name='meta'").fetchone():
                    for statement in filter(str.strip, SCHEMA.split(";")):
                        self.db.execute(statement)  # executescript would COMMIT early
                    self.db.executemany("INSERT INTO meta VALUES (?, ?)",
                                        [("app", APP_ID), ("schema_version", str(SCHEMA_VERSION))])
            return
        meta = dict(self.db.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
        if meta.get("app") != APP_ID:
            raise StoreError(f"{str(self.path)!r} is an SQLite database of another application "
                             "(no hub-lineage tables); it was left untouched.")
        if int(meta.get("schema_version", "0")) > SCHEMA_VERSION:
            raise StoreError(f"Store {str(self.path)!r} has schema version {meta['schema_version']}, "
                             f"newer than this hub-lineage's {SCHEMA_VERSION}: upgrade hub-lineage.")
        if int(meta.get("schema_version", "0")) < SCHEMA_VERSION:
            self._migrate()

    def _migrate(self) -> None:
        """Upgrade an older store in place (one transaction; nothing stored is lost)."""
        with self.transaction():  # re-check inside: a concurrent process may have migrated it
            version = int(self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])
            if version < 2:
                self.db.execute("ALTER TABLE models ADD COLUMN chat_template INTEGER")
            self.db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; taken up front so concurrent writers queue instead of failing."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    # -- ids ----------------------------------------------------------------------------------

    def _model_ids(self, names: Iterable[str]) -> dict[str, int]:
        names = list(dict.fromkeys(names))
        self.db.executemany("INSERT OR IGNORE INTO models(name) VALUES (?)", [(n,) for n in names])
        out: dict[str, int] = {}
        for start in range(0, len(names), 900):
            chunk = names[start:start + 900]
            marks = ",".join("?" * len(chunk))
            out.update(self.db.execute(f"SELECT name, id FROM models WHERE name IN ({marks})", chunk))
        return out

    def _new_run(self, fingerprint: str, kind: str, **fields: Any) -> int | None:
        """Insert a run; None when the same run (same fingerprint) is already stored."""
        row = {"source": None, "model_id": None, "task": None, "metric": None, "lm_eval_version": None,
               "model_args": None, "task_version": None, "n_samples": 0, **fields}
        now = time.time()
        row["run_time"] = row.get("run_time") or now
        cur = self.db.execute(
            "INSERT OR IGNORE INTO runs(fingerprint, kind, source, model_id, task, metric, lm_eval_version,"
            " model_args, task_version, run_time, ingested_at, n_samples) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (fingerprint, kind, row["source"], row["model_id"], row["task"], row["metric"],
             row["lm_eval_version"], row["model_args"], row["task_version"], row["run_time"], now,
             row["n_samples"]))
        return cur.lastrowid if cur.rowcount else None

    # -- instance-level observations ----------------------------------------------------------

    def ingest_samples(self, runs: Iterable[SampleRun], report: IngestReport | None = None,
                       progress: Callable[[int, int], None] | None = None) -> IngestReport:
        """Store sample runs (lm-eval tasks, details files, long-CSV rows) in one transaction."""
        report = report or IngestReport()
        with self.transaction():
            self._write_samples(list(runs), report, progress)
        return report

    def _write_samples(self, runs: list[SampleRun], report: IngestReport,
                       progress: Callable[[int, int], None] | None) -> None:
        models: set[str] = set()
        instances: set[tuple[str, str]] = set()
        for done, run in enumerate(runs, start=1):
            report.skipped += run.skipped
            models.add(run.model)
            instances.update((run.task, h) for h in run.doc_hashes)
            if run.doc_hashes:
                self._write_run(run, report)
            if progress is not None:
                progress(done, len(runs))
        report.models += len(models)
        report.instances += len(instances)

    def _write_run(self, run: SampleRun, report: IngestReport) -> None:
        values = np.asarray(run.values, dtype=np.float32)
        digest = hashlib.sha256()
        for part in (run.model, run.task, run.metric, repr(run.run_time)):
            digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
        digest.update("\n".join(run.doc_hashes).encode("utf-8", "surrogatepass"))
        digest.update(values.tobytes())
        model_id = self._model_ids([run.model])[run.model]
        run_id = self._new_run(
            digest.hexdigest(), run.kind, source=run.source, model_id=model_id, task=run.task,
            metric=run.metric, lm_eval_version=run.lm_eval_version, model_args=run.model_args,
            task_version=run.task_version, run_time=run.run_time, n_samples=len(values))
        if run_id is None:
            return  # the same run again: adds nothing
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

    # -- aggregated observations, models, edges -------------------------------------------------

    def ingest_contents(self, path: str | Path, report: IngestReport | None = None) -> IngestReport:
        """The leaderboard contents table: Raw accuracies (weighted by instance counts), model
        factors, and root edges."""
        report = report or IngestReport()
        with self.transaction():
            self._write_contents(Path(path), report)
        return report

    def _write_contents(self, path: Path, report: IngestReport) -> None:
        from hub_lineage.data.sources import leaderboard

        entries = leaderboard.read_contents(path)
        report.models += len(entries)
        run_id = self._new_run(_file_digest(path, "contents"), "contents", source=str(path.resolve()),
                               run_time=path.stat().st_mtime, n_samples=len(entries))
        if run_id is None:
            return
        ids = self._model_ids(e.model for e in entries)
        self.db.executemany(
            "UPDATE models SET architecture=?, params_b=?, type=?, merged=?, chat_template=? WHERE id=?",
            [(e.meta.get("architecture"), e.meta.get("params_b"), e.meta.get("type"),
              int(bool(e.meta.get("merged"))), _flag(e.meta.get("chat_template")), ids[e.model])
             for e in entries])
        current = {(m, b): (v, t) for m, b, v, t in self.db.execute(
            "SELECT s.model_id, s.benchmark, s.value, r.run_time FROM scores s JOIN runs r "
            "ON r.id = s.run_id ORDER BY r.run_time, r.id")}
        run_time = path.stat().st_mtime
        rows = []
        for e in entries:
            for bench, value in e.scores.items():
                rows.append((ids[e.model], bench, run_id, value, float(BY_KEY[bench].n_instances)))
                old = current.get((ids[e.model], bench))
                if old is None:
                    report.observations_added += 1
                elif old[1] <= run_time and old[0] != value:
                    report.observations_updated += 1
        self.db.executemany("INSERT INTO scores VALUES (?,?,?,?,?)", rows)
        report.edges_added += self._write_edges(leaderboard.contents_graph(entries).edges, run_id)

    def ingest_edges(self, path: str | Path, report: IngestReport | None = None) -> IngestReport:
        """An edge-list CSV (self-loops and cycles dropped by LineageGraph)."""
        from hub_lineage.data.sources.edges import load_edge_list

        report = report or IngestReport()
        graph = load_edge_list(path)
        with self.transaction():
            run_id = self._new_run(_file_digest(Path(path), "edges"), "edges", source=str(Path(path).resolve()),
                                   n_samples=len(graph.edges))
            if run_id is not None:
                report.edges_added += self._write_edges(graph.edges, run_id)
        return report

    def add_edges(self, edges: Iterable[Edge]) -> int:
        """Store lineage edges (e.g. resolved from the Hub); return how many were new."""
        with self.transaction():
            return self._write_edges(list(edges), None)

    def _write_edges(self, edges: Sequence[Edge], run_id: int | None) -> int:
        ids = self._model_ids(n for e in edges for n in (e.child, e.parent))
        before = self.db.total_changes
        self.db.executemany(
            "INSERT OR IGNORE INTO edges VALUES (?,?,?,?,?,?)",
            [(ids[e.child], ids[e.parent], int(e.root), e.relation.value, e.weight, run_id) for e in edges])
        return self.db.total_changes - before

    def ingest_long_csv(self, path: str | Path, *, questions: str | Path | None = None,
                        model_map: str | Path | None = None, report: IngestReport | None = None) -> IngestReport:
        """A ``model,instance,correct`` CSV (+ question texts and a model map), as sample runs."""
        report = report or IngestReport()
        from hub_lineage.data.store.ingest import long_csv_runs

        runs, graph = long_csv_runs(path, questions, model_map)
        with self.transaction():
            self._write_samples(runs, report, None)
            report.edges_added += self._write_edges(graph.edges, None)
        return report

    def ingest_paths(self, paths_: Sequence[str | Path], *, model_id: str | None = None, fmt: str = "auto",
                     strict: bool = False, progress: Callable[[int, int], None] | None = None,
                     metrics: Any = None) -> IngestReport:
        """Ingest files and lm-eval output directories of any known format in one transaction."""
        from hub_lineage.data.store.ingest import ingest_paths

        return ingest_paths(self, paths_, model_id, fmt, strict, progress, metrics)

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
        return LineageGraph(edges, nodes=self.models())

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


def _file_digest(path: Path, kind: str) -> str:
    digest = hashlib.sha256(kind.encode() + b"\0")
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
