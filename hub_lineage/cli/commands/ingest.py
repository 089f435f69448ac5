"""``hub-lineage ingest``: lm-eval outputs, leaderboard details/contents, edge lists, long CSVs -> store."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

import click

from hub_lineage.cli.options import echo_json, endpoint_option, json_option, metric_options, offline_option, store_option

FORMATS = ["auto", "lm_eval", "contents", "edges", "long_csv", "questions", "model_map"]
T = TypeVar("T")


@click.command("ingest")
@click.argument("paths", nargs=-1)
@click.option("--reported", "reported", multiple=True, metavar="REPO_ID",
              help="Read the results REPO_ID and its ancestors report on the Hub (model-index in their cards, "
                   ".eval_results/*.yaml), where they match a leaderboard benchmark unambiguously. Repeatable.")
@store_option()
@click.option("--model-id", default=None, help="Hub id of the evaluated model, when results files lack it.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
              help="Format of every PATH (auto: detect each).")
@metric_options
@click.option("--strict", is_flag=True, help="Fail on any bad line instead of skipping it (stores nothing).")
@json_option("Print this call's counts as JSON.")
@offline_option("Never contact the Hub (reuse earlier details downloads only).")
@endpoint_option("The Hub's URL for details datasets (default: $HF_ENDPOINT or https://huggingface.co).")
def ingest(paths: tuple[str, ...], reported: tuple[str, ...], store_path: str | None, model_id: str | None, fmt: str,
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
      hub-lineage ingest --reported my-org/my-2026-model   # its relatives' reported results
    """
    from huggingface_hub import HfApi
    from huggingface_hub.utils import tqdm

    from hub_lineage.data.sources.lm_eval_metrics import MetricMap
    from hub_lineage.data.store.database import Store
    from hub_lineage.data.store.ingest import ingest_paths

    def bar(runs: list[T]) -> Iterable[T]:
        # stderr only, and only on a terminal (tqdm's disable=None); HF_HUB_DISABLE_PROGRESS_BARS=1 hides it
        return tqdm(runs, desc="Writing runs", unit="run", disable=True if as_json or len(runs) < 2 else None)

    if not paths and not reported:
        raise click.UsageError("Give at least one PATH or --reported REPO_ID.")
    if reported and offline:
        from hub_lineage.errors import InvalidInputError

        raise InvalidInputError("--reported reads model repos on the Hub: drop --offline (or HF_HUB_OFFLINE=1).")
    metrics = MetricMap.from_options(metric_rules, non_binary)
    local = [_local_path(p, offline, endpoint) for p in paths]
    with Store(store_path) as store:
        report = ingest_paths(store, local, model_id=model_id, fmt=fmt, strict=strict, progress=bar,
                              metrics=metrics)
        if reported:
            from hub_lineage.data.sources.reported_hub import ingest_reported
            from hub_lineage.lineage.hub import HubClient

            client = HubClient(HfApi(endpoint=endpoint) if endpoint else None)
            ingest_reported(store, client, [_repo_id(r) for r in reported], report=report,
                            progress=lambda models: tqdm(models, desc="Reading reported results", unit="model",
                                                         disable=True if as_json else None))
    counts = report.to_json()
    if as_json:
        echo_json(counts)
    else:
        click.echo(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()))


def _repo_id(text: str) -> str:
    from hub_lineage.ids import check_repo_id

    check_repo_id(text, namespace=True)
    return text


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
