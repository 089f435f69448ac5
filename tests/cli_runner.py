"""Run a real CLI entry point in-process, with its error handling, and capture what it printed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def run_main(argv: list[str], capsys: Any, main: Callable[[list[str]], Any] | None = None) -> tuple[int, str, str]:
    """``(exit code, stdout, stderr)`` of ``main(argv)`` (default: ``hub-lineage``'s entry point)."""
    if main is None:
        from hub_lineage.cli.main import main
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
