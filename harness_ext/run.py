"""What ``hub-lineage eval`` does: run lm-eval with sample logging, record the samples, add lineage.

lm-eval's own command line runs in this process (same arguments as ``lm_eval``), with
``--log_samples`` and an ``--output_path`` forced on; the samples files it writes are then
ingested like any other lm-eval output, and the evaluated model's lineage is resolved from the Hub
when the model is a Hub id (a local directory has no Hub lineage and gets none).
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hub_lineage.errors import DataFormatError, HubLineageError, InvalidInputError, LineageWarning
from hub_lineage.data.sources.lm_eval_metrics import MetricMap
from hub_lineage.data.store.database import IngestReport, Store
from hub_lineage.data.store.ingest import ingest_paths
from hub_lineage.lineage.hub import HubClient


@dataclass
class EvalOutcome:
    """What an eval run left behind: this call's store counts and where lm-eval wrote its files."""

    report: IngestReport
    output_path: Path
    models: list[str] = field(default_factory=list)
    lineage_note: str = ""


def _option(args: list[str], name: str) -> str | None:
    for k, arg in enumerate(args):
        if arg == name and k + 1 < len(args):
            return args[k + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def run_lm_eval(args: Sequence[str]) -> None:
    """Run lm-eval's command line in this process (``lm_eval run ARGS``)."""
    from lm_eval._cli import HarnessCLI

    argv = list(args)
    if argv[:1] != ["run"]:
        argv.insert(0, "run")
    saved = sys.argv
    sys.argv = ["lm_eval", *argv]
    try:
        cli = HarnessCLI()
        cli.execute(cli.parse_args())
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise InvalidInputError(f"lm-eval rejected the arguments {' '.join(args)!r} (exit {exc.code}).") from None
    finally:
        sys.argv = saved


def run_eval(
    lm_eval_args: Sequence[str],
    *,
    store: Store | str | Path | None = None,
    model_id: str | None = None,
    metrics: MetricMap | None = None,
    resolve_lineage: bool = True,
) -> EvalOutcome:
    """Run lm-eval with ``lm_eval_args``, then store its samples (and the model's Hub lineage).

    ``--log_samples`` is added when missing; without ``--output_path`` the files go to a temporary
    directory. Only the samples files written by this run are ingested.
    """
    args = [a for a in lm_eval_args]
    if "--tasks" not in args and not any(a.startswith("--tasks=") for a in args):
        raise InvalidInputError("hub-lineage eval needs --tasks (lm-eval's task list), e.g. --tasks leaderboard_ifeval.")
    if "--log_samples" not in args:
        args.append("--log_samples")
    out = _option(args, "--output_path")
    tmp = None
    if out is None:
        tmp = tempfile.mkdtemp(prefix="hub_lineage_eval_")
        out = tmp
        args += ["--output_path", out]
    out_path = Path(out)
    before = set(out_path.rglob("samples_*")) if out_path.exists() else set()
    run_lm_eval(args)
    written = sorted(set(out_path.rglob("samples_*")) - before)
    if not written:
        raise DataFormatError(f"lm-eval wrote no samples files under {out!r}: nothing to record.")
    own = store if isinstance(store, Store) else Store(store)
    try:
        report = ingest_paths(own, written, model_id=model_id, metrics=metrics)
        models = sorted({r["model"] for r in own.runs() if r["source"] in {str(p.resolve()) for p in written}})
        note = resolve_into(own, models) if resolve_lineage else ""
    finally:
        if own is not store:
            own.close()
    return EvalOutcome(report, out_path, models, note)


def resolve_into(store: Store, models: Sequence[str]) -> str:
    """Add the Hub lineage of ``models`` to the store; local paths and failures are noted, not raised."""
    notes = []
    client = HubClient()
    for model in models:
        if Path(model).exists() or model.count("/") != 1:
            notes.append(f"{model}: a local model has no Hub lineage")
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LineageWarning)
                graph = client.resolve(model)
        except HubLineageError as exc:
            notes.append(f"{model}: lineage not resolved ({exc})")
            continue
        added = store.add_edges(graph.edges)
        notes.append(f"{model}: {added} lineage edge(s) added")
    return "; ".join(notes)
