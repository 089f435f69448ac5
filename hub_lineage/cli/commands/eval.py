"""``hub-lineage eval``: run lm-eval with sample logging and record its samples in the store."""

from __future__ import annotations

import json

import click

from hub_lineage.cli.options import json_option, metric_options, store_option


@click.command("eval", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@store_option()
@click.option("--model-id", default=None, help="Hub id to record the model under (default: lm-eval's name).")
@metric_options
@click.option("--no-lineage", is_flag=True, help="Do not resolve the model's lineage from the Hub.")
@json_option("Print this call's counts as JSON.")
@click.argument("lm_eval_args", nargs=-1, type=click.UNPROCESSED)
def eval_command(store_path: str | None, model_id: str | None, metric_rules: tuple[str, ...],
                 non_binary: str, no_lineage: bool, as_json: bool, lm_eval_args: tuple[str, ...]) -> None:
    """Run lm-eval (any of its arguments) with --log_samples and record the samples in the store.

    The model's lineage is resolved from the Hub into the store too (a local model directory has
    none). Options of hub-lineage come first; everything else goes to lm-eval.

    \b
    Example:
      hub-lineage eval --model hf --model_args pretrained=Qwen/Qwen2.5-0.5B \\
          --tasks leaderboard_ifeval --limit 20 --batch_size 8
    """
    from hub_lineage.data.sources.lm_eval_metrics import MetricMap
    from harness_ext.run import run_eval

    outcome = run_eval(list(lm_eval_args), store=store_path, model_id=model_id,
                       metrics=MetricMap.from_options(metric_rules, non_binary),
                       resolve_lineage=not no_lineage)
    counts = outcome.report.to_json()
    if as_json:
        click.echo(json.dumps({**counts, "output_path": str(outcome.output_path), "lineage": outcome.lineage_note}))
    else:
        click.echo(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()))
        click.echo(f"lm-eval output: {outcome.output_path}")
        if outcome.lineage_note:
            click.echo(outcome.lineage_note)
