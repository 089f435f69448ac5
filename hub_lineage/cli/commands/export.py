"""``hub-lineage export``: the store's current cells as a long CSV or parquet file."""

from __future__ import annotations

from pathlib import Path

import click

from hub_lineage.cli.options import store_option


@click.command("export")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@store_option(exists=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default=None,
              help="Output format (default: from OUT's suffix).")
@click.option("--model", "models", multiple=True, help="Only this model (repeatable).")
@click.option("--metric", default=None, help="Only cells of this per-sample metric (e.g. acc_norm).")
def export(out: Path, store_path: str | None, fmt: str | None, models: tuple[str, ...],
           metric: str | None) -> None:
    """Write the store's observations to OUT, one row per cell (the newest run's value).

    Columns: model, instance, benchmark, value, count, metric, run. Leaderboard scores appear
    with the benchmark as instance and its size as count.

    \b
    Example:
      hub-lineage export observations.csv
      hub-lineage export qwen.parquet --model Qwen/Qwen2.5-7B-Instruct
    """
    from hub_lineage.data.store.database import Store

    with Store(store_path) as store:
        rows = store.export(out, fmt, models=list(models) or None, metric=metric)
    # exported to a stream (/dev/stdout, a pipe): the summary must not end up inside the CSV
    click.echo(f"Wrote {rows} rows to {out}.", err=not Path(out).is_file())
