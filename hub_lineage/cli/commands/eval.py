"""``hub-lineage eval``: run lm-eval (its public API, its own flag names), record the samples in the
store; with ``--budget N``, evaluate N random docs per task and estimate each full task."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from hub_lineage.cli.options import json_option, metric_options, predictor_option, store_option

#: lm-eval's run flags that hub-lineage eval accepts, by lm-eval's names (``lm-eval run --help``).
LM_EVAL_OPTIONS: list[Callable[[Any], Any]] = [
    click.option("--model", default="hf", show_default=True, help="lm-eval model type (hf, vllm, ...)."),
    click.option("--model_args", multiple=True, metavar="K=V,K2=V2",
                 help="Model arguments, e.g. pretrained=Qwen/Qwen2.5-0.5B,dtype=float32; repeatable."),
    click.option("--tasks", multiple=True, required=True, metavar="TASK[,TASK]",
                 help="lm-eval task, group or tag names (comma-separated or repeated)."),
    click.option("--include_path", default=None, type=click.Path(exists=True),
                 help="Additional folder of task YAMLs."),
    click.option("--limit", default=None, type=float, help="First N docs per task (a fraction below 1)."),
    click.option("--samples", "samples_spec", default=None, metavar="JSON",
                 help='Doc indices per task, e.g. \'{"task": [0, 3]}\' (or a JSON file).'),
    click.option("--output_path", default=None, type=click.Path(),
                 help="Where lm-eval writes its results and samples files (default: none written)."),
    click.option("--log_samples", is_flag=True, help="Accepted for lm-eval compatibility: always on."),
    click.option("--batch_size", default=None, help="Batch size: an integer, auto or auto:N."),
    click.option("--max_batch_size", default=None, type=int, help="Largest batch size with --batch_size auto."),
    click.option("--device", default=None, help="Device (cpu, cuda, cuda:0, mps; default: cuda:0 if present, else cpu)."),
    click.option("--num_fewshot", default=None, type=int, help="Few-shot examples in the context."),
    click.option("--seed", default=None, metavar="S|P,N,T,F",
                 help="lm-eval's seeds: one for all, or python,numpy,torch,fewshot."),
    click.option("--gen_kwargs", default=None, metavar="K=V,K2=V2", help="Generation arguments."),
    click.option("--apply_chat_template", is_flag=False, flag_value="true", default=None, metavar="[TEMPLATE]",
                 help="Apply the (named) chat template."),
    click.option("--fewshot_as_multiturn", type=bool, default=None, help="Few-shot examples as turns."),
    click.option("--system_instruction", default=None, help="System instruction for the prompts."),
    click.option("--use_cache", default=None, type=click.Path(), help="SQLite cache of model responses."),
    click.option("--write_out", is_flag=True, help="Print the prompts of the first docs."),
    click.option("--trust_remote_code", is_flag=True, help="Allow the model's remote code."),
    click.option("--confirm_run_unsafe_code", is_flag=True, help="Allow tasks that run generated code."),
    click.option("--metadata", default=None, metavar="JSON", help="Task metadata as a JSON object."),
]


def lm_eval_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(LM_EVAL_OPTIONS):
        f = option(f)
    return f


@click.command("eval")
@lm_eval_options
@store_option()
@click.option("--model-id", default=None, help="Hub id to record the model under (default: lm-eval's name).")
@click.option("--budget", default=None, type=int,
              help="Evaluate N docs per task, drawn at random, and estimate the full task.")
@click.option("--budget-seed", default=None, type=int, help="Seed of the --budget draw (default: fresh, printed).")
@predictor_option("Fitted predictor for --budget estimates (default: the saved one, if any).")
@metric_options
@click.option("--no-lineage", is_flag=True, help="Do not resolve the model's lineage from the Hub.")
@json_option("Print this call's counts (with --budget: the estimates) as JSON.")
def eval_command(store_path: str | None, model_id: str | None, budget: int | None, budget_seed: int | None,
                 predictor_dir: str | None, metric_rules: tuple[str, ...], non_binary: str, no_lineage: bool,
                 as_json: bool, samples_spec: str | None, log_samples: bool, metadata: str | None,
                 apply_chat_template: str | None, **lm_eval: Any) -> None:
    """Run lm-eval (lm_eval.simple_evaluate) and record each task's samples in the store.

    lm-eval's flags keep their names. The model's lineage is resolved from the Hub into the store
    (a local model directory has none). With --budget N, lm-eval evaluates N docs per task drawn at
    random (seed recorded in the store and beside lm-eval's files) and each full task's score is
    estimated with an interval.

    \b
    Examples:
      hub-lineage eval --model hf --model_args pretrained=Qwen/Qwen2.5-0.5B \\
          --tasks leaderboard_ifeval --limit 20 --batch_size 8
      hub-lineage eval --model hf --model_args pretrained=Qwen/Qwen2.5-0.5B \\
          --tasks leaderboard_musr --budget 50 --json
    """
    from harness_ext.budget import check_budget
    from harness_ext.run import LmEvalArgs, parse_samples
    from hub_lineage.errors import InvalidInputError

    check_budget(budget, limit=lm_eval["limit"], samples=samples_spec)  # before lm-eval's slow import
    try:
        meta = json.loads(metadata) if metadata else {}
    except json.JSONDecodeError:
        meta = None
    if not isinstance(meta, dict):
        raise InvalidInputError(f"--metadata {metadata!r}: give a JSON object.")
    args = LmEvalArgs(tasks=list(lm_eval.pop("tasks")), model_args=",".join(lm_eval.pop("model_args")),
                      samples=parse_samples(samples_spec), metadata=meta,
                      apply_chat_template=_chat_template(apply_chat_template), **lm_eval)
    from harness_ext.run import results_table, run_eval
    from hub_lineage.data.sources.lm_eval_metrics import MetricMap

    outcome = run_eval(args, store=store_path, model_id=model_id,
                       metrics=MetricMap.from_options(metric_rules, non_binary), resolve_lineage=not no_lineage,
                       budget=budget, budget_seed=budget_seed,
                       predictor=_predictor(predictor_dir) if budget is not None else None)
    if as_json and budget is not None:
        click.echo(json.dumps({"model": outcome.model,
                               "tasks": {t: e.as_json() for t, e in outcome.estimates.items()}}))
        return
    counts = outcome.report.to_json()
    if as_json:
        click.echo(json.dumps({**counts, "model": outcome.model, "lineage": outcome.lineage_note,
                               "output_path": str(outcome.output_path) if outcome.output_path else None}))
        return
    click.echo(results_table(outcome.results))
    click.echo(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()))
    if outcome.output_path:
        click.echo(f"lm-eval output: {outcome.output_path}")
    if outcome.lineage_note:
        click.echo(outcome.lineage_note)
    if outcome.draw is not None:
        click.echo(f"{outcome.model}: full-task estimates from {budget} random docs per task "
                   f"(--budget-seed {outcome.draw.seed})")
        for task, e in outcome.estimates.items():
            click.echo(f"  {task}: {e.estimate:.3f} [{e.low:.3f}, {e.high:.3f}] "
                       f"({e.evaluated} of {e.items} docs; {e.method})")


def _chat_template(value: str | None) -> bool | str:
    if value is None or value.lower() in ("false", "0", "no"):
        return False
    return True if value.lower() in ("true", "1", "yes") else value


def _predictor(path: str | None) -> Any:
    """The fitted predictor if one is saved (loading only; a missing one means None: the estimate
    then falls back to the sample mean and says so)."""
    from hub_lineage.errors import NotFittedError
    from hub_lineage.predict.loading import load_predictor

    try:
        return load_predictor(path, fit_if_missing=False)
    except NotFittedError:
        return None
