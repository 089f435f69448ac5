"""Where hub-lineage keeps its state, and whether the Hub may be contacted.

State lives under ``HUB_LINEAGE_HOME`` (default ``~/.cache/hub_lineage``): the store, fitted
predictors, the Hub cache. ``HF_HUB_OFFLINE=1`` (huggingface_hub's own switch) means offline.
"""

from __future__ import annotations

import os
from pathlib import Path

from hub_lineage.errors import StoreError

_TRUE = {"1", "true", "yes", "on"}


def home() -> Path:
    """The state directory (created on first use)."""
    path = Path(os.environ.get("HUB_LINEAGE_HOME") or Path.home() / ".cache" / "hub_lineage").expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"HUB_LINEAGE_HOME {str(path)!r} cannot be used as hub-lineage's state directory "
                         f"({exc.strerror or exc}): set HUB_LINEAGE_HOME to a writable directory.") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise StoreError(f"HUB_LINEAGE_HOME {str(path)!r} is not writable: set HUB_LINEAGE_HOME to a "
                         "writable directory.")
    return path


def default_store_path() -> Path:
    return home() / "store.sqlite"


def default_predictor_dir() -> Path:
    return home() / "predictor"


def hub_cache_dir() -> Path:
    return home() / "hub_cache"


def env_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` asks for offline mode."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE
