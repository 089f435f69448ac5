"""Reading outside text files: the one place bytes become text and CSV rows.

Every CSV loader opens its file with :func:`open_text` and reads it with :func:`dict_reader`, so
they share one behaviour: UTF-8 with or without a byte-order mark (Excel writes one),
transparent ``.gz``, and a one-line :class:`DataFormatError` naming the file and line, never a
``UnicodeDecodeError`` or ``_csv.Error``, for text that is not UTF-8, a field over
:data:`MAX_FIELD` characters, or a broken quote.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from hub_lineage.errors import DataFormatError

#: The longest CSV field accepted (characters): Python's csv default, named so the message can say it.
MAX_FIELD = 131072


def open_text(path: str | Path) -> IO[str]:
    """Open a text file as UTF-8 (a leading byte-order mark dropped), transparently gunzipping ``.gz``."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(f"File {str(path)!r} does not exist.")
    if path.is_dir():
        raise DataFormatError(f"{str(path)!r} is a directory, not a CSV file.")
    try:
        if path.suffix == ".gz":
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
        return path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise DataFormatError(f"{str(path)!r} cannot be read: {exc.strerror or exc}.") from None


@contextmanager
def decoding(path: str | Path, line: int | None = None) -> Iterator[None]:
    """Turn the decoding and CSV-syntax errors raised inside the block into one-line DataFormatErrors."""
    where = f"{str(path)!r}" + (f" line {line}" if line else "")
    try:
        yield
    except UnicodeDecodeError as exc:
        # no line number: the decoder works on blocks, so the line it is at would be wrong
        raise DataFormatError(f"{str(path)!r} is not UTF-8 text (it holds the byte "
                              f"{exc.object[exc.start:exc.start + 1]!r}): save it as UTF-8.") from None
    except (gzip.BadGzipFile, EOFError) as exc:
        raise DataFormatError(f"{where}: not a valid gzip file ({exc}).") from None
    except csv.Error as exc:
        if "field larger" in str(exc):
            raise DataFormatError(f"{where}: a field is longer than {MAX_FIELD} characters; is this a CSV "
                                  "file?") from None
        raise DataFormatError(f"{where} is not valid CSV: {exc}.") from None


class SafeDictReader(csv.DictReader):
    """:class:`csv.DictReader` whose errors are one-line :class:`DataFormatError` s (see :func:`decoding`)."""

    def __init__(self, handle: IO[str], path: str | Path, **kwargs: Any) -> None:
        super().__init__(handle, **kwargs)
        self.path = path

    @property  # type: ignore[override]
    def fieldnames(self) -> Any:
        with decoding(self.path, 1):
            names = csv.DictReader.fieldnames.fget(self)  # type: ignore[attr-defined]
        if names is not None and not getattr(self, "_unique", False):  # checked once, not per row
            unique_columns(names, self.path)
            self._unique = True
        return names

    @fieldnames.setter
    def fieldnames(self, value: Any) -> None:
        csv.DictReader.fieldnames.fset(self, value)  # type: ignore[attr-defined]

    def __next__(self) -> dict[str, Any]:
        with decoding(self.path, self.line_num + 1):
            return super().__next__()


def dict_reader(handle: IO[str], path: str | Path) -> SafeDictReader:
    """A DictReader over ``handle`` (opened by :func:`open_text`) that reports errors as DataFormatError."""
    return SafeDictReader(handle, path)


def read_header(path: str | Path) -> list[str]:
    """The first row of a CSV file (its column names); [] for an empty file."""
    with open_text(path) as handle, decoding(path, 1):
        return unique_columns(next(csv.reader(handle), []), path)


def unique_columns(names: list[str], path: str | Path) -> list[str]:
    """``names``, refused when a (non-empty) column name appears twice: a row would silently keep
    only the last of the two values."""
    seen: set[str] = set()
    for name in names:
        key = name.strip().lstrip("\ufeff")
        if key and key in seen:
            raise DataFormatError(f"{str(path)!r} line 1: the column {key!r} appears more than once; give each "
                                  "column a unique name (a row would keep only the last one's value).")
        seen.add(key)
    return names
