"""Writing files so that a reader never sees half of one: write a temporary sibling, then rename.

A crash, a full disk or an exception half-way leaves the old file (if any) byte for byte; the
temporary file is removed. ``os.replace`` is atomic on POSIX and Windows within one directory,
which is why the temporary file lives beside the target. A symlinked target is updated through
the link (its target is replaced), not turned into a regular file. A device or pipe is written in
place (it cannot be replaced atomically, and must never be replaced by a regular file).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    For writers that want a file name (``np.savez``, ``pyarrow.parquet.write_table``...).
    """
    target = Path(path)
    try:
        mode = os.stat(target).st_mode  # through links: /dev/stdout -> /proc/self/fd/1 -> a pipe
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory, not a file to write", str(target))
        # a device or a pipe (/dev/stdout, /dev/null, a FIFO): renaming a file over it would replace
        # the device node itself (as root: /dev/full became a CSV), so it is written in place
        try:
            yield target
        except OSError as exc:  # e.g. ENOSPC from /dev/full: name the file in the one-line error
            if exc.filename is None:
                raise OSError(exc.errno, exc.strerror, str(target)) from None
            raise
        return
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike[str], data: str | bytes | Callable[[IO], None], *,
                 encoding: str = "utf-8", newline: str | None = "") -> Path:
    """Write ``data`` to ``path`` atomically and return the path written.

    ``data`` is text, bytes, or a function that writes to the open file (text mode unless it is
    given bytes; ``newline=""`` keeps line endings exactly as given, so CRLF cards stay CRLF).
    """
    with atomic_path(path) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        elif isinstance(data, str):
            with tmp.open("w", encoding=encoding, newline=newline) as handle:
                handle.write(data)
        else:
            with tmp.open("w", encoding=encoding, newline=newline) as handle:
                data(handle)
    return Path(path)
