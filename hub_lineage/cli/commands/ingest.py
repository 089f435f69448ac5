"""``hub-lineage ingest``: lm-eval outputs, leaderboard details/contents, edge lists, long CSVs -> store."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

FORMATS = ["auto", "lm_eval", "contents", "edges", "long_csv", "questions", "model_map"]


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True)
@click.option("--store", "store_path", type=click.Path(dir_okay=False), default=None,
              help="Store file (default: $HUB_LINEAGE_HOME/store.sqlite).")
@click.option("--model-id", default=None, help="Hub id of the evaluated model, when results files lack it.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
              help="Format of every PATH (auto: detect each).")
@click.option("--metric", "metric_rules", multiple=True, metavar="TASK=METRIC[,FILTER]",
              help="Per-sample metric of an lm-eval task (TASK may be a glob); repeatable.")
@click.option("--non-binary", default="refuse", show_default=True,
              help="Non-0/1 metric values: refuse, fraction, or threshold=X.")
@click.option("--strict", is_flag=True, help="Fail on any bad line instead of skipping it (stores nothing).")
@click.option("--json", "as_json", is_flag=True, help="Print this call's counts as JSON.")
@click.option("--offline", is_flag=True, help="Never contact the Hub (reuse earlier details downloads only).")
@click.option("--endpoint", envvar="HF_ENDPOINT", default=None,
              help="The Hub's URL for details datasets (default: $HF_ENDPOINT or https://huggingface.co).")
def ingest(paths: tuple[str, ...], store_path: str | None, model_id: str | None, fmt: str,
           metric_rules: tuple[str, ...], non_binary: str, strict: bool, as_json: bool, offline: bool,
           endpoint: str | None) -> None:
    """Add observations and lineage edges from PATHS to the training-matrix store.

    PATHS are lm-eval --log_samples output directories or samples files, Open LLM Leaderboard
    details files (jsonl/parquet) or details datasets on the Hub
    (open-llm-leaderboard/<org>__<model>-details: gated, accept their conditions and log in), the
    leaderboard contents table, edge lists, and long CSVs (model,instance,correct) with their
    question table and model map. Ingesting the same run twice adds nothing.

    \b
    Example:
      hub-lineage ingest results/ open_llm_leaderboard_contents.csv edges.csv --json
      hub-lineage ingest out/ --model-id my-org/my-model --metric my_task=acc
      hub-lineage ingest open-llm-leaderboard/Qwen__Qwen2.5-7B-Instruct-details
    """
    from hub_lineage.data.sources.lm_eval_metrics import MetricMap
    from hub_lineage.data.store.database import Store

    metrics = MetricMap.from_options(metric_rules, non_binary)
    local = [_local_path(p, offline, endpoint) for p in paths]
    bar = _Progress(enabled=not as_json and sys.stderr.isatty())
    with Store(store_path) as store:
        report = store.ingest_paths(local, model_id=model_id, fmt=fmt, strict=strict,
                                    progress=bar, metrics=metrics)
    bar.close()
    counts = report.to_json()
    if as_json:
        click.echo(json.dumps(counts))
    else:
        click.echo(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()))


def _local_path(text: str, offline: bool, endpoint: str | None) -> Path:
    """A local PATH as is; a details dataset id downloaded first (see sources.details_hub)."""
    from hub_lineage.errors import DataFormatError
    from hub_lineage.data.sources import details_hub

    path = Path(text)
    if path.exists():
        return path
    if details_hub.is_details_repo_id(text):
        from huggingface_hub import HfApi

        return details_hub.fetch_details(text, api=HfApi(endpoint=endpoint), offline=offline or None)
    raise DataFormatError(f"{text!r} does not exist (expected a file, an lm-eval output directory, or a "
                          "Hub details dataset id open-llm-leaderboard/<org>__<model>-details).")


class _Progress:
    """A click progress bar over the sample runs being written, shown on a terminal only."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = None
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total < 2:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="Writing runs", file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
