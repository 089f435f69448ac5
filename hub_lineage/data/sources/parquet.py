"""Parquet files (the Hub's leaderboard tables and details datasets, parquet exports) via pyarrow.

pyarrow is optional (only the ``dev`` extra installs it): every parquet reader and writer asks
for it here, so that a missing pyarrow is one clear error naming the file, not a traceback.
"""

from __future__ import annotations

from types import ModuleType

from hub_lineage.errors import InvalidInputError


def pyarrow_for(what: str) -> ModuleType:
    """The ``pyarrow`` package, with ``pyarrow.parquet`` loaded.

    Raises
    ------
    InvalidInputError
        When pyarrow is not installed; the message says that ``what`` (e.g. "reading
        'table.parquet'") needs it, and how to get it or avoid it.
    """
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401  (loads the pyarrow.parquet attribute)
    except ImportError:
        raise InvalidInputError(f"{what[:1].upper()}{what[1:]} needs pyarrow, which is not installed: "
                                "pip install pyarrow, or use CSV files instead.") from None
    return pyarrow
