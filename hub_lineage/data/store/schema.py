"""The store's SQLite schema: its tables, and the ordered migrations that build and upgrade them.

``MIGRATIONS[k]`` takes a store from schema version ``k`` to ``k + 1``; a new file runs them all,
an older store only those it lacks, every pending one in the same write transaction. The version
lives in ``PRAGMA user_version``. Stores written before that (versions 1 and 2) kept it only in
``meta.schema_version``, which is still written beside it so that those older hub-lineage
releases keep refusing a store newer than themselves.

Tables (current version): ``meta`` (application id), ``models`` (ids and NCF factors),
``instances`` (``(task, doc_hash)`` keys, benchmark, prompt text and hash), ``runs``
(provenance: source file, lm-eval version, model args, task version, run time),
``instance_sets`` (int32 arrays of instance ids shared by the runs over the same instances),
``observations`` (one row per run: float32 values over an instance set), ``scores``
(aggregated benchmark accuracies with their instance counts) and ``edges``.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from hub_lineage.errors import StoreError

logger = logging.getLogger(__name__)

APP_ID = "hub-lineage-store"

MIGRATIONS: list[str] = [
    # 1: the first store
    """
    CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta VALUES ('app', 'hub-lineage-store');
    CREATE TABLE models(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, architecture TEXT,
                        params_b REAL, type TEXT, merged INTEGER);
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
    """,
    # 2: the leaderboard's 'Chat Template' flag (a side-graph factor)
    """
    ALTER TABLE models ADD COLUMN chat_template INTEGER;
    """,
]

#: The schema version this hub-lineage writes.
VERSION = len(MIGRATIONS)


def stored_version(db: sqlite3.Connection, path: Path) -> int:
    """The schema version of the open database: 0 for an empty file.

    Raises
    ------
    StoreError
        For a database of another application, or a store newer than :data:`VERSION`.
    """
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables:
        return 0
    meta = dict(db.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
    if meta.get("app") != APP_ID:
        raise StoreError(f"{str(path)!r} is an SQLite database of another application "
                         "(no hub-lineage tables); it was left untouched.")
    # stores written before user_version carry their version in meta only
    version = db.execute("PRAGMA user_version").fetchone()[0] or int(meta.get("schema_version", "1"))
    if version > VERSION:
        raise StoreError(f"Store {str(path)!r} has schema version {version}, newer than this "
                         f"hub-lineage's {VERSION}: upgrade hub-lineage.")
    return version


def is_current(db: sqlite3.Connection, path: Path) -> bool:
    """Whether the store needs no migration (read-only; raises as :func:`stored_version`)."""
    return stored_version(db, path) == VERSION == db.execute("PRAGMA user_version").fetchone()[0]


def upgrade(db: sqlite3.Connection, path: Path) -> None:
    """Apply the pending migrations and stamp the version; call inside one write transaction.

    The version is read again here, under the write lock: a concurrent process may have created
    or upgraded the store since :func:`is_current` looked.
    """
    version = stored_version(db, path)
    try:
        for script in MIGRATIONS[version:]:
            for statement in filter(str.strip, script.split(";")):
                db.execute(statement)  # executescript would COMMIT the caller's transaction
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"Cannot upgrade the store {str(path)!r} from schema version {version} to "
                         f"{VERSION} ({exc}); it was left as it was.") from None
    db.execute(f"PRAGMA user_version = {VERSION}")
    db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(VERSION),))
    if 0 < version < VERSION:
        logger.info("Upgraded the store %s from schema version %d to %d.", path, version, VERSION)
