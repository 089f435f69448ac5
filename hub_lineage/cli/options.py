"""Options several commands share, defined once: same names, types and defaults everywhere.

Each function returns a click decorator. ``help`` says what the option means for the command at
hand (a store to fit from, to write to...); the name, the parameter it fills and its default
never vary. Importing this module costs only click (``hub-lineage predict`` stays light).

\b
Example:
    @click.command()
    @store_option("Store to fit from")
    @offline_option()
    @json_option()
    def fit(store_path: str | None, offline: bool, as_json: bool) -> None: ...
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

def one_blas_thread() -> None:
    """Start numpy's BLAS with one thread in this process, if numpy is not imported yet.

    For latency-bound commands whose linear algebra is tiny (``predict``, the merge pre-flight):
    OpenBLAS starts a thread per core when numpy is imported and they spin-wait, which on a
    2-core machine cost ~0.1 CPU-s and up to 0.07 s of wall time per run (measured, ``import
    numpy``: 0.31 user-s with the default threads, 0.16 with one). A value the user set is kept;
    once numpy is imported (tests calling the CLI in-process) this does nothing.
    """
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


STORE_DEFAULT = "$HUB_LINEAGE_HOME/store.sqlite"
PREDICTOR_DEFAULT = "$HUB_LINEAGE_HOME/predictor"


def store_option(purpose: str = "Store file", *, exists: bool = False) -> Callable[[F], F]:
    """``--store PATH`` -> ``store_path`` (None: :func:`hub_lineage.paths.default_store_path`).

    ``purpose`` starts the help (``"Store to fit from"``); ``exists`` refuses a missing file.
    """
    return click.option("--store", "store_path", type=click.Path(dir_okay=False, exists=exists), default=None,
                        help=f"{purpose} (default: {STORE_DEFAULT}).")


def predictor_option(help: str = f"Fitted predictor directory (default: {PREDICTOR_DEFAULT}).") -> Callable[[F], F]:
    """``--predictor DIR`` -> ``predictor_dir`` (None: the one ``hub-lineage fit`` saved)."""
    return click.option("--predictor", "predictor_dir", type=click.Path(file_okay=False), default=None, help=help)


def _resolve_offline(ctx: click.Context, param: click.Parameter, value: bool | None) -> bool:
    from hub_lineage import paths

    return paths.env_offline() if value is None else value


def offline_option(help: str = "Do not contact the Hub (also HF_HUB_OFFLINE=1).") -> Callable[[F], F]:
    """``--offline`` -> ``offline``: True when given, else whether ``HF_HUB_OFFLINE`` asks for it."""
    return click.option("--offline", is_flag=True, default=None, callback=_resolve_offline, help=help)


def json_option(help: str = "Print the JSON contract instead of a table.") -> Callable[[F], F]:
    """``--json`` -> ``as_json``."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def jsonable(value: Any) -> Any:
    """``value`` with every float made plain JSON: non-finite -> None (null), float32 noise cut to 6
    significant digits (0.30000001192092896 -> 0.3); dicts, lists and tuples recursed."""
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        number = float(value)
        return float(f"{number:.6g}") if math.isfinite(number) else None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def echo_json(data: Any, indent: int | None = None) -> None:
    """Print ``data`` as strictly valid JSON (never NaN or Infinity: see :func:`jsonable`)."""
    click.echo(json.dumps(jsonable(data), indent=indent, allow_nan=False))


def endpoint_option(
        help: str = "The Hub's URL (default: $HF_ENDPOINT or https://huggingface.co).") -> Callable[[F], F]:
    """``--endpoint URL`` -> ``endpoint`` (also ``HF_ENDPOINT``; None: huggingface_hub's default)."""
    return click.option("--endpoint", envvar="HF_ENDPOINT", default=None, help=help)


def metric_options(f: F) -> F:
    """``--metric TASK=METRIC[,FILTER]`` (repeatable) -> ``metric_rules`` and ``--non-binary`` ->
    ``non_binary``: how lm-eval samples become 0/1 cells (``MetricMap.from_options``)."""
    f = click.option("--non-binary", default="refuse", show_default=True,
                     help="Non-0/1 metric values: refuse, fraction, or threshold=X.")(f)
    return click.option("--metric", "metric_rules", multiple=True, metavar="TASK=METRIC[,FILTER]",
                        help="Per-sample metric of an lm-eval task (TASK may be a glob); repeatable.")(f)
