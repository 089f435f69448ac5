"""``hub-lineage evaluate``: the paper's cold-start protocol on local data files."""

from __future__ import annotations

import json
import math
import warnings

import click

from hub_lineage.cli.options import json_option
from hub_lineage.errors import InvalidInputError


def _fmt(stat: dict[str, float | None]) -> str:
    mean, sd = stat.get("mean"), stat.get("sd")
    if mean is None or math.isnan(mean):
        return "-"
    return f"{mean:.3f}±{(sd or 0.0):.3f}"


def render_table(data: dict) -> str:
    """A plain-text table of ``EvaluationResult.to_json()``: one row per method, mean±sd per metric."""
    results = data["results"]
    names = list(dict.fromkeys(k for per in results.values() for k in per))
    order = ["pearson_all", "spearman_all", "mae_all", "auc", "coverage", "interval_width"]
    names = [n for n in order if n in names] + [n for n in names if n not in order]
    width = max(len(m) for m in results) + 2
    cols = [max(len(n), 11) + 2 for n in names]
    head = "method".ljust(width) + "".join(n.rjust(c) for n, c in zip(names, cols))
    lines = [head, "-" * len(head)]
    for method, per in results.items():
        lines.append(method.ljust(width) + "".join(_fmt(per.get(n, {})).rjust(c) for n, c in zip(names, cols)))
    return "\n".join(lines)


@click.command("evaluate")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(dir_okay=True),
              help="Data file (leaderboard contents, edge list, long CSV and its question/model files); repeat.")
@click.option("--setting", default="heterogeneous", show_default=True,
              help="heterogeneous, homogeneous:ROOT (e.g. homogeneous:Qwen/Qwen2.5-7B), instance, or budget:K (K items revealed per benchmark; see --frontier).")
@click.option("--seeds", default=5, show_default=True, type=int, help="Number of shuffled repetitions.")
@click.option("--methods", default=None,
              help="Comma-separated methods (default: lrmf,mla,ncf,mf,mean; instance adds parent,difficulty).")
@click.option("--noise", default=None, help="Lineage-noise ablation: add:FRACTION or remove:FRACTION of edges.")
@click.option("--folds", default=5, show_default=True, type=int, help="Cold-start folds per seed.")
@click.option("--coverage", default=0.9, show_default=True, type=float,
              help="Nominal coverage of the conformal intervals (0 = no intervals).")
@click.option("--no-tune", is_flag=True, help="Skip the inner hyper-parameter search (use the first grid point).")
@click.option("--limit", default=None, type=int,
              help="Use only the first N eligible models (a quick slice for smoke tests).")
@click.option("--frontier", is_flag=True,
              help="budget:K only: hold out the strongest fifth of the models with item answers; train on the rest.")
@json_option()
@click.option("--quiet", is_flag=True, help="No progress lines on stderr.")
def evaluate(data: tuple[str, ...], setting: str, seeds: int, methods: str | None, noise: str | None,
             folds: int, coverage: float, no_tune: bool, limit: int | None, frontier: bool, as_json: bool,
             quiet: bool) -> None:
    """Score predictors by cold-start cross-validation over models with known lineage.

    Each eligible model (one with a scored lineage relative) is predicted once per seed by a fit
    that never saw its scores; hyper-parameters and intervals use training models only.

    \b
    Example:
      hub-lineage evaluate --data ../shared/data/open_llm_leaderboard_contents_2025-02-08.csv \\
          --data ../shared/data/hf_lineage_edges_2025-06.csv --setting homogeneous:Qwen/Qwen2.5-7B --seeds 5
    """
    from hub_lineage.evaluation import protocol as evaluation
    from hub_lineage.data.sources.detect import load_dataset
    from hub_lineage.evaluation.splits import parse_noise

    if setting.strip().partition(":")[0] == "budget":  # few revealed items: hub_lineage.evaluation.budget
        _evaluate_budget(data, setting, seeds, methods, folds, coverage, limit, frontier, as_json, quiet)
        return
    if frontier:
        raise InvalidInputError("--frontier applies to --setting budget:K only.")
    task_setting = evaluation.Setting.parse(setting)
    method_list = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    if method_list is not None:
        from hub_lineage.model.registry import get_method

        for m in method_list:
            get_method(m)
    if coverage < 0 or coverage >= 1:
        raise InvalidInputError(f"--coverage {coverage}: give a level in (0, 1), or 0 for no intervals.")
    opts = evaluation.ProtocolOptions(
        n_folds=folds, coverage=coverage or None, tune=not no_tune, noise=parse_noise(noise),
        progress=None if quiet else (lambda msg: click.echo(f"  {msg}", err=True)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # repaired cycles in Hub metadata are expected here
        dataset = load_dataset(list(data))
    task = evaluation.prepare(dataset.matrix, dataset.graph, task_setting)
    if limit is not None:
        task.eligible = task.eligible[:limit]
    if task_setting.kind == "instance":
        task.instance_graph = evaluation.instance_graph_for(task, method_list)
    result = evaluation.evaluate(task, method_list, seeds, opts)
    payload = result.to_json()
    if as_json:
        click.echo(json.dumps(payload, indent=2, allow_nan=False))
        return
    click.echo(f"setting {result.setting}: {result.n_models} test models, {seeds} seed(s)"
               + (f", lineage noise {result.noise}" if result.noise else ""))
    click.echo(render_table(payload))
    for method, models in result.per_model.items():
        click.echo(f"\n{method}: per held-out model (mean over seeds)")
        for model, vals in models.items():
            click.echo(f"  {model:48s} auc {vals['auc']:.3f}  predicted {vals['predicted']:.3f}  "
                       f"actual {vals['actual']:.3f}")


def _evaluate_budget(data: tuple[str, ...], setting: str, seeds: int, methods: str | None, folds: int,
                     coverage: float, limit: int | None, frontier: bool, as_json: bool, quiet: bool) -> None:
    from hub_lineage.data.sources.detect import load_dataset
    from hub_lineage.evaluation.budget import evaluate_budget, parse_budget

    parse_budget(setting)  # a bad budget fails before the data loads
    if not 0 < coverage < 1:
        raise InvalidInputError(f"--coverage {coverage}: the budget setting needs a level in (0, 1).")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = load_dataset(list(data))
    method_list = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    result = evaluate_budget(dataset.matrix, dataset.graph, setting, methods=method_list, seeds=seeds,
                             frontier=frontier, level=coverage, n_folds=folds, limit=limit,
                             progress=None if quiet else (lambda msg: click.echo(f"  {msg}", err=True)))
    payload = result.to_json()
    if as_json:
        click.echo(json.dumps(payload, indent=2, allow_nan=False))
        return
    click.echo(f"setting {result.setting}: {result.n_models} test models, {seeds} seed(s)")
    click.echo(render_table(payload))
