"""The ``hub-lineage`` command line: a thin click layer over the library.

Each command lives in ``hub_lineage/cli/commands/<name>.py`` and is imported only when it runs, so
``hub-lineage predict`` never pays for what ``hub-lineage eval`` imports (torch, lm_eval).
Library errors (:class:`HubLineageError`) become one-line messages here, in one place;
``HUB_LINEAGE_DEBUG=1`` shows the traceback instead. The library logs (a logger per module);
while a command runs, its INFO messages print on stderr as bare lines, as the CLI printed them.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from hub_lineage.errors import DataWarning, HubLineageError, LineageWarning

#: command name -> "module:attribute" of its click command, imported lazily.
COMMANDS: dict[str, str] = {
    "evaluate": "hub_lineage.cli.commands.evaluate:evaluate",
    "lineage": "hub_lineage.cli.commands.lineage:lineage",
    "ingest": "hub_lineage.cli.commands.ingest:ingest",
    "export": "hub_lineage.cli.commands.export:export",
    "eval": "hub_lineage.cli.commands.eval:eval_command",
    "fit": "hub_lineage.cli.commands.fit:fit",
    "predict": "hub_lineage.cli.commands.predict:predict",
    "card": "hub_lineage.cli.commands.card:card",
    "rank-bases": "hub_lineage.cli.commands.rank_bases:rank_bases_command",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hub-lineage")
def cli() -> None:
    """Predict a language model's benchmark scores from its lineage on the Hugging Face Hub.

    \b
    Example:
      hub-lineage lineage Qwen/Qwen2.5-7B-Instruct --offline --edges edges.csv
    """


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """hub-lineage's own warnings as one readable stderr line; others keep Python's format."""
    if category.__module__.startswith("hub_lineage"):
        click.echo(f"Warning: {message}", err=True)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


_python_showwarning = warnings.showwarning


def main(argv: list[str] | None = None) -> Any:
    """Entry point of ``hub-lineage``: library errors become clear messages (exit code 2)."""
    return run_command(cli, argv, "hub-lineage")


def run_command(command: click.Command, argv: list[str] | None, prog_name: str, *,
                usage_exit_code: int | None = None) -> Any:
    """Run a click command the way every hub-lineage entry point does.

    hub-lineage's own warnings print as one ``Warning: ...`` line; a :class:`HubLineageError`
    prints ``Error: <message>`` and exits 2 (``HUB_LINEAGE_DEBUG=1`` re-raises it for the
    traceback). ``usage_exit_code`` overrides click's exit code for its usage errors
    (``mergekit-preflight`` reserves 1 for a failed gate, so all bad input exits 2 there).
    """
    with warnings.catch_warnings(), library_logging():  # both restored after (tests call main in-process)
        warnings.showwarning = _show_warning
        for category in (LineageWarning, DataWarning):
            warnings.simplefilter("always", category)  # each repair is worth saying every run
        return _run(command, argv, prog_name, usage_exit_code)


#: The packages whose log records a command shows.
LOGGERS = ("hub_lineage", "harness_ext", "mergekit_hooks")


class EchoHandler(logging.Handler):
    """Log records as stderr lines: INFO bare, WARNING and above as ``Warning: ...``/``Error: ...``.

    Writes to the current ``sys.stderr`` at each record (through click), so a stream swapped in
    after the handler was made (pytest's capture) still gets the lines.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            if record.levelno >= logging.WARNING:
                message = f"{record.levelname.capitalize()}: {message}"
            click.echo(message, err=True)
        except Exception:
            self.handleError(record)


@contextmanager
def library_logging(level: int = logging.INFO) -> Iterator[None]:
    """Show the library's log records at ``level`` and above on stderr for the duration of a command.

    A logger the caller already set to a level keeps it; everything is put back on exit.
    """
    handler = EchoHandler(level)
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        if logger.level == logging.NOTSET:
            logger.setLevel(level)
    try:
        yield
    finally:
        for logger, old in zip(loggers, levels):
            logger.removeHandler(handler)
            logger.setLevel(old)


def _run(command: click.Command, argv: list[str] | None, prog_name: str,
         usage_exit_code: int | None) -> Any:
    debug = os.environ.get("HUB_LINEAGE_DEBUG", "") not in ("", "0")
    try:
        return command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(usage_exit_code if usage_exit_code is not None else exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(usage_exit_code if usage_exit_code is not None else 1)
    except HubLineageError as exc:
        if debug:
            raise
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the one boundary: never a traceback unless asked for
        if debug:
            raise
        code, message = describe_unexpected(exc)
        click.echo(message, err=True)
        sys.exit(code)


def describe_unexpected(exc: BaseException) -> tuple[int, str]:
    """Exit code and one line for an exception that is not a :class:`HubLineageError`.

    The environment's faults (a file system or store refusing, the network down) exit 2 like bad
    input, naming what failed; anything else is a bug of hub-lineage: exit 3, pointing to
    ``HUB_LINEAGE_DEBUG=1`` for the traceback.
    """
    import sqlite3

    what = f"{type(exc).__name__}: {exc}".strip().splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, sqlite3.DatabaseError):
        return 2, (f"Error: the store could not be used ({what}); it may be corrupted, read-only or locked. "
                   "Pass --store with another path, or restore the file.")
    if isinstance(exc, (OSError, MemoryError)) and not isinstance(exc, ConnectionError):
        return 2, f"Error: {what}"
    if _is_network_error(exc):
        return 2, (f"Error: the Hub could not be reached ({what}). Check the network or HF_ENDPOINT, "
                   "or work offline (--offline or HF_HUB_OFFLINE=1).")
    return 3, (f"Internal error of hub-lineage ({what}). Please report it; set HUB_LINEAGE_DEBUG=1 "
               "to see the traceback.")


def _is_network_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a connection failure (builtin, httpx's or requests')."""
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    return any(cls.__module__.split(".")[0] in ("httpx", "httpcore", "requests", "urllib3")
               and ("Connect" in cls.__name__ or "Timeout" in cls.__name__ or cls.__name__ == "NetworkError")
               for cls in type(exc).__mro__)


if __name__ == "__main__":
    main()
