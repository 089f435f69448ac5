"""Finding the fitted predictor every predicting command uses, fitting it on first run.

``hub-lineage predict``, ``rank-bases`` and ``card`` fit a predictor from the store when none is
saved yet (pulling the Open LLM Leaderboard first when the store is empty and the Hub is
reachable); ``mergekit-preflight`` only loads one (``fit_if_missing=False``). What happens is said
through ``on_progress`` or, by default, this module's logger at INFO (the CLI prints those lines
on stderr).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from hub_lineage import paths
from hub_lineage.errors import HubLineageError, NotFittedError

if TYPE_CHECKING:
    from hub_lineage.predict.predictor import Predictor

logger = logging.getLogger(__name__)

#: Why nothing can be predicted offline from an empty store, and what to run instead.
OFFLINE_EMPTY = (
    "No fitted predictor and the store is empty, and the Hub is not reachable (offline). Ingest local "
    "data and fit, e.g.\n"
    "  hub-lineage ingest ../shared/data/open_llm_leaderboard_contents_2025-02-08.csv "
    "../shared/data/hf_lineage_edges_2025-06.csv\n"
    "  hub-lineage fit")


def load_predictor(path: str | os.PathLike[str] | None = None, store: str | os.PathLike[str] | None = None,
                   offline: bool = False, *, fit_if_missing: bool = True,
                   on_progress: Callable[[str], None] | None = None) -> Predictor:
    """The predictor saved at ``path`` (default: the one ``hub-lineage fit`` saved).

    With ``fit_if_missing`` and no ``path``, a missing predictor is fitted once from ``store``
    (default: the store under ``HUB_LINEAGE_HOME``) and saved; an empty store is first filled
    from the Hub (``open-llm-leaderboard/contents`` and its models' lineage) unless ``offline``.

    Raises
    ------
    NotFittedError
        When no predictor is saved at ``path`` (or, with ``fit_if_missing=False``, at the default
        place), or the store is empty and ``offline`` (the message says how to ingest and fit).
    """
    import zipfile

    from hub_lineage.predict.predictor import Predictor

    try:
        predictor = Predictor.load(path)
        if path is None or store is not None:  # a predictor from elsewhere is not the default store's
            _say_if_stale(predictor, store)
        return predictor
    except NotFittedError:
        if path is not None or not fit_if_missing:
            raise
    except HubLineageError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile) as exc:
        # a damaged directory (truncated JSON, bad arrays): refitting is the cure, not a traceback
        where = path if path is not None else paths.default_predictor_dir()
        raise NotFittedError(f"The predictor in {str(where)!r} is damaged ({type(exc).__name__}: "
                             f"{str(exc)[:120]}): run `hub-lineage fit` to write a new one.") from None
    say = on_progress or logger.info
    from hub_lineage.data.sources.contents_hub import pull_leaderboard
    from hub_lineage.data.store.database import Store

    with Store(store) as db:
        if db.is_empty():
            if offline:
                raise NotFittedError(OFFLINE_EMPTY)
            endpoint = check_hub_reachable()  # one quick try, not minutes of silent retries
            say(f"First run: pulling open-llm-leaderboard/contents and its models' lineage from {endpoint} "
                "into the store.")
            pull_leaderboard(db)
        say("No fitted predictor yet: fitting one from the store (once; `hub-lineage fit` refits).")
        predictor = Predictor.fit(db)
    predictor.save()
    return predictor


def check_hub_reachable(timeout_s: float = 5.0) -> str:
    """The Hub's URL (``HF_ENDPOINT`` or huggingface.co) when it answers at all within ``timeout_s``;
    else :class:`HubUnavailableError` saying how to work offline."""
    from huggingface_hub import constants, get_session

    from hub_lineage.errors import HubUnavailableError

    endpoint = (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
    try:
        get_session().head(endpoint, timeout=timeout_s)
    except Exception as exc:  # any transport failure (httpx's classes vary by version)
        raise HubUnavailableError(
            f"No fitted predictor and the store is empty, and the Hub at {endpoint} could not be reached "
            f"({type(exc).__name__}). Fix the network or HF_ENDPOINT, or work offline: `hub-lineage ingest "
            "CONTENTS.csv EDGES.csv` (e.g. the files in ../shared/data), then `hub-lineage fit`.") from None
    return endpoint


def store_version(store: str | os.PathLike[str] | None) -> list[int] | None:
    """What the store holds, as [runs, newest run id, models, edges]; None without a readable store.

    Every ingest that adds anything changes it, and reading never does. File times cannot say
    that: SQLite touches the write-ahead log when a reader opens or closes the store, so a
    `predict` after a `fit` looked like a newer store. ``hub-lineage fit`` records this before
    it reads the store, so an ingest that lands during a fit makes the predictor stale."""
    import sqlite3
    from pathlib import Path
    from urllib.parse import quote

    db = Path(store) if store is not None else paths.default_store_path()
    if not db.is_file():
        return None
    try:
        con = sqlite3.connect(f"file:{quote(str(db.resolve()))}?mode=ro", uri=True)
        try:
            row = con.execute("SELECT (SELECT count(*) FROM runs), (SELECT coalesce(max(id), 0) FROM runs), "
                              "(SELECT count(*) FROM models), (SELECT count(*) FROM edges)").fetchone()
        finally:
            con.close()
    except sqlite3.Error:  # not a store (yet), or damaged: the command that opens it says so
        return None
    return [int(v) for v in row]


def holds_item_runs(path: str | os.PathLike[str], model_id: str) -> bool | None:
    """Whether the store at ``path`` holds item answers of ``model_id``, by one read-only query
    (None when that cannot be told). Most predicted models have none: this skips opening the
    :class:`Store` (its integrity check reads the whole file: ~40 ms for the leaderboard's store)."""
    import sqlite3
    from pathlib import Path

    try:
        db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT 1 FROM runs r JOIN models m ON m.id = r.model_id "
                             "WHERE m.name = ? AND r.task IS NOT NULL LIMIT 1", (model_id,)).fetchone()
        finally:
            db.close()
    except sqlite3.Error:  # not a store, an old schema, damage: the Store itself says what is wrong
        return None
    return row is not None


def _say_if_stale(predictor: Predictor, store: str | os.PathLike[str] | None) -> None:
    """Warn when the store changed after the predictor read it (ingests it has not seen)."""
    from pathlib import Path

    saved = getattr(predictor, "path", None)
    db = Path(store) if store is not None else paths.default_store_path()
    if saved is None or not db.is_file():
        return
    recorded = predictor.meta.get("store_version")
    if recorded is not None:
        now = store_version(db)
        stale = now is not None and now != list(recorded)
    else:  # a predictor saved without it (library users, older fits): file times, a second of slack
        try:
            fitted = (Path(saved) / "meta.json").stat().st_mtime
            wal = db.with_name(db.name + "-wal")
            written = max([db.stat().st_mtime] + ([wal.stat().st_mtime] if wal.is_file() and wal.stat().st_size
                                                   else []))  # an empty log is a reader's, not a write
        except OSError:
            return
        stale = written > fitted + 1.0
    if stale:
        logger.warning("The store %s changed after this predictor was fitted: it does not know the latest "
                       "ingests. Run `hub-lineage fit` to use them.", db)
