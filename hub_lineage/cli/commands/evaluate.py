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
    return f"{mean:.3f}" if sd is None else f"{mean:.3f}±{sd:.3f}"


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


def _require_torch_for(methods: list[str]) -> None:
    """NCF needs torch (the ``ncf`` extra): say so in one line before any fit, not as a traceback."""
    if "ncf" in methods:
        from hub_lineage.model.factor_models import require_torch

        require_torch("ncf")


@click.command("evaluate")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(dir_okay=True),
              help="Data file (leaderboard contents, edge list, long CSV and its question/model files); repeat.")
@click.option("--setting", default="heterogeneous", show_default=True,
              help="heterogeneous, homogeneous:ROOT (e.g. homogeneous:Qwen/Qwen2.5-7B), instance, or budget:K (K items revealed per benchmark; see --frontier).")
@click.option("--seeds", default=5, show_default=True, type=int, help="Number of shuffled repetitions.")
@click.option("--seed-start", "seed_start", default=0, show_default=True, type=int,
              help="First seed (seeds run are S, S+1, ...): report on seeds nothing was tuned on.")
@click.option("--methods", default=None,
              help="Comma-separated methods (default: lrmf,mla,ncf,mf,mean; instance adds parent,difficulty).")
@click.option("--noise", default=None, help="Lineage-noise ablation: add:FRACTION or remove:FRACTION of edges.")
@click.option("--folds", default=None, type=int, help="Cold-start folds per seed  [default: 5].")
@click.option("--test-fraction", "test_fraction", default=None, type=float,
              help="Instead of folds: one test split per seed holding this fraction of the eligible models.")
@click.option("--coverage", default=0.9, show_default=True, type=float,
              help="Nominal coverage of the conformal intervals (0 = no intervals).")
@click.option("--intervals", "interval_kind", default="constant", show_default=True,
              type=click.Choice(["adaptive", "relatives", "metadata", "constant"]),
              help="constant: one width per benchmark; adaptive: width from a learned difficulty (name, "
                   "metadata, relatives), quantiles per bucket of hops; relatives: width from the relatives' "
                   "spread and agreement; metadata: width from name and metadata alone. The mean baseline always gets "
                   "constant ones.")
@click.option("--correction/--no-correction", "correction", default=True, show_default=True,
              help="Correct LRMF's predictions from name, metadata and relatives (evaluation/stacking.py), "
                   "as the predictor `hub-lineage fit` saves does. --no-correction scores plain LRMF "
                   "(not what fit ships).")
@click.option("--no-tune", is_flag=True, help="Skip the inner hyper-parameter search (use the first grid point).")
@click.option("--limit", default=None, type=int,
              help="Use only the first N eligible models (a quick slice for smoke tests).")
@click.option("--jobs", default=1, show_default=True, type=int,
              help="Run independent fits in N local worker processes (same numbers as 1).")
@click.option("--scheduler", default=None, envvar="DASK_SCHEDULER_ADDRESS",
              help="Run the fits on a Dask cluster at tcp://HOST:PORT (default: $DASK_SCHEDULER_ADDRESS).")
@click.option("--frontier", is_flag=True,
              help="budget:K only: hold out the strongest fifth of the models with item answers; train on the rest.")
@json_option()
@click.option("--quiet", is_flag=True, help="No progress bar on stderr (it shows only on a terminal anyway).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Also save FILE.png: predicted vs actual per benchmark and interval coverage "
                   "(needs matplotlib: pip install 'hub-lineage[plot]').")
def evaluate(data: tuple[str, ...], setting: str, seeds: int, seed_start: int, methods: str | None,
             noise: str | None, folds: int | None, test_fraction: float | None, coverage: float,
             interval_kind: str, correction: bool, no_tune: bool, limit: int | None, jobs: int,
             scheduler: str | None, frontier: bool, as_json: bool, quiet: bool, plot_path: str | None) -> None:
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
    from hub_lineage.evaluation.splits import check_split, parse_noise

    if seeds < 1 or seed_start < 0:
        raise InvalidInputError(f"--seeds {seeds} --seed-start {seed_start}: run at least one seed, from a seed >= 0.")
    if setting.strip().partition(":")[0] == "budget":  # few revealed items: hub_lineage.evaluation.budget
        _evaluate_budget(data, setting, seeds, seed_start, methods, folds or 5, coverage, limit, frontier,
                         as_json, quiet)
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
    if folds is not None and test_fraction is not None:
        raise InvalidInputError(f"--folds {folds} and --test-fraction {test_fraction:g}: give one of them.")
    if test_fraction is not None:
        check_split(10, 2, test_fraction)  # the fraction's own rule, before any data is read
    from hub_lineage.cli.progress import StepBar
    from hub_lineage.evaluation.parallel import make_runner

    recorder = None
    if plot_path is not None:
        from hub_lineage.evaluation.plots import Recorder, require_matplotlib

        if task_setting.kind == "instance":
            raise InvalidInputError("--plot draws benchmark-level predictions: use a heterogeneous or "
                                    "homogeneous:ROOT setting, not instance.")
        require_matplotlib()  # before the long run, not after it
        recorder = Recorder()
    opts = evaluation.ProtocolOptions(
        n_folds=folds or 5, test_fraction=test_fraction, seed_start=seed_start, coverage=coverage or None,
        intervals=interval_kind, stack=("lrmf",) if correction else (), tune=not no_tune,
        noise=parse_noise(noise), record=recorder,
        runner=make_runner(jobs, scheduler, None, method_list))  # workers import while the data loads
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # repaired cycles in Hub metadata are expected here
        dataset = load_dataset(list(data))
    task = evaluation.prepare(dataset.matrix, dataset.graph, task_setting)
    if limit is not None:
        task.eligible = task.eligible[:limit]
    if task_setting.kind != "instance":
        check_split(len(task.eligible), opts.n_folds, test_fraction, f"setting {task_setting}")
    if task_setting.kind == "instance":
        task.instance_graph = evaluation.instance_graph_for(task, method_list)
    names = method_list or list(evaluation.INSTANCE_METHODS if task_setting.kind == "instance"
                                else evaluation.DEFAULT_METHODS)
    _require_torch_for(names)
    if task_setting.kind == "instance":
        per_seed = len(task.eligible)
    else:
        per_seed = 1 if test_fraction is not None else min(opts.n_folds, max(len(task.eligible), 1))
    with StepBar(seeds * len(names) * per_seed, "Evaluating", disable=True if quiet else None) as bar:
        opts.progress = bar
        if opts.runner is not None:  # with --jobs/--scheduler the fits run first ("fits k/n")
            opts.runner.progress = bar
        result = evaluation.evaluate(task, method_list, seeds, opts)
    payload = result.to_json()
    if plot_path is not None:
        from hub_lineage.evaluation.plots import plot_evaluation

        assert recorder is not None
        plot_evaluation(recorder, plot_path, coverage=coverage or None,
                        title=f"hub-lineage evaluate: {result.setting}, {seeds} seed(s)")
        click.echo(f"Saved the plots to {plot_path}", err=True)
    if as_json:
        click.echo(json.dumps(payload, indent=2, allow_nan=False))
        return
    click.echo(f"setting {result.setting}: {result.n_models} test models, {seeds} seed(s) from {seed_start}"
               + (f", lineage noise {result.noise}" if result.noise else ""))
    click.echo(render_table(payload))
    for method, models in result.per_model.items():
        click.echo(f"\n{method}: per held-out model (mean over seeds)")
        for model, vals in models.items():
            click.echo(f"  {model:48s} auc {vals['auc']:.3f}  predicted {vals['predicted']:.3f}  "
                       f"actual {vals['actual']:.3f}")


def _evaluate_budget(data: tuple[str, ...], setting: str, seeds: int, seed_start: int, methods: str | None,
                     folds: int, coverage: float, limit: int | None, frontier: bool, as_json: bool,
                     quiet: bool) -> None:
    from hub_lineage.data.sources.detect import load_dataset
    from hub_lineage.evaluation.budget import describe_methods, evaluate_budget, parse_budget

    parse_budget(setting)  # a bad budget fails before the data loads
    if not 0 < coverage < 1:
        raise InvalidInputError(f"--coverage {coverage}: the budget setting needs a level in (0, 1).")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = load_dataset(list(data))
    method_list = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    result = evaluate_budget(dataset.matrix, dataset.graph, setting, methods=method_list, seeds=seeds,
                             frontier=frontier, level=coverage, n_folds=folds, seed_start=seed_start, limit=limit,
                             progress=None if quiet else (lambda msg: click.echo(f"  {msg}", err=True)))
    payload = result.to_json()
    payload["methods"] = describe_methods(method_list)  # e.g. that irt is a 2PL
    if as_json:
        click.echo(json.dumps(payload, indent=2, allow_nan=False))
        return
    click.echo(f"setting {result.setting}: {result.n_models} test models, {seeds} seed(s)")
    click.echo(render_table(payload))
