"""``mergekit-preflight``: predict a merge's benchmark scores from its recipe, gate it, then merge.

Exit codes: 0 when every gate passes for every recipe, 1 when one fails, 2 on bad input (an
unknown merge method, an unreadable recipe, an unknown benchmark, no fitted predictor...).
Nothing heavy is imported unless ``--merge`` or ``--validate-with-mergekit`` is given.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from hub_lineage.cli.options import echo_json, json_option, one_blas_thread, predictor_option
from hub_lineage.errors import InvalidInputError

EXAMPLES = """\b
Examples:
  mergekit-preflight ties_qwen.yml --require "bbh>=0.45" --require "ifeval>0.5"
  mergekit-preflight a.yml b.yml c.yml --rank-by mean --json
  mergekit-preflight merge.yml --require "bbh>=0.45" --merge ./merged
"""


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key or not val:
            raise InvalidInputError(f"{what} {v!r} is not of the form KEY=VALUE.")
        out[key] = val
    return out


@click.command(
    "mergekit-preflight",
    help="Score mergekit recipes before any compute is spent: predict the merged model's benchmark "
    "scores from its parents' lineage and results, check gates, rank candidates, and optionally run "
    "the merge when the gates pass.\n\n" + EXAMPLES,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.argument("recipes", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--require", "requires", multiple=True, metavar="BENCH>=X",
              help="A gate on a predicted score (>=, <=, >, <); BENCH may be 'mean'. Repeatable.")
@click.option("--rank-by", metavar="BENCH", help="Rank the recipes by this predicted benchmark (or 'mean').")
@click.option("--strict", is_flag=True, help="Judge gates on the interval's pessimistic end, not the mean.")
@click.option("--merge", "merge_dir", type=click.Path(file_okay=False), metavar="OUT_DIR",
              help="When the gates pass, run the merge (as mergekit-yaml would) into OUT_DIR; with several "
              "recipes, the best-ranked one that passes.")
@click.option("--merge-option", "merge_options", multiple=True, metavar="KEY=VALUE",
              help="A mergekit MergeOptions field for --merge (e.g. cuda=true, allow_crimes=true).")
@predictor_option("A fitted predictor directory (default: the one `hub-lineage fit` saved).")
@click.option("--model-id", "model_ids", multiple=True, metavar="PATH=ORG/NAME",
              help="Which Hub model a local model directory in the recipe holds. Repeatable.")
@click.option("--validate-with-mergekit", is_flag=True, help="Also validate with mergekit's own parser (slow).")
@json_option()
def preflight_command(
    recipes: tuple[str, ...],
    requires: tuple[str, ...],
    rank_by: str | None,
    strict: bool,
    merge_dir: str | None,
    merge_options: tuple[str, ...],
    predictor_dir: str | None,
    model_ids: tuple[str, ...],
    validate_with_mergekit: bool,
    as_json: bool,
) -> int:
    if merge_dir is None:  # scoring only: tiny linear algebra (a merge keeps the default threads)
        one_blas_thread()
    from hub_lineage.lineage.recipes import load_recipe
    from hub_lineage.predict.light import answer
    from hub_lineage.predict.loading import load_predictor
    from mergekit_hooks import preflight as pf

    ids = _pairs(model_ids, "--model-id")
    options: dict[str, Any] = {}
    if merge_dir:
        import yaml

        options = {k: yaml.safe_load(v) for k, v in _pairs(merge_options, "--merge-option").items()}
    if validate_with_mergekit:
        from mergekit_hooks.bridge import validate_with_mergekit as validate

        for r in recipes:
            validate(load_recipe(r, model_ids=ids))

    def score(predictor: Any) -> tuple[Any, list[pf.PreflightResult]]:
        gates = [pf.parse_gate(g, list(predictor.benchmarks)) for g in requires]
        return predictor, pf.preflight(recipes, predictor, gates=gates, rank_by=rank_by.lower() if rank_by else None,
                                       strict=strict, model_ids=ids)

    # the same numbers without numpy where it can (hub_lineage/predict/light.py), else the Predictor
    scored = answer(score, predictor_dir)
    if scored is None:
        scored = score(load_predictor(predictor_dir, fit_if_missing=False))  # never a first-run fit here
    predictor, results = scored
    benchmarks = list(predictor.benchmarks)
    if as_json:
        echo_json({"recipes": [r.to_json() for r in results]}, indent=2)
    else:
        for r in results:
            click.echo(render(r, benchmarks))
    passed = all(r.passed for r in results)
    if merge_dir:
        chosen = next((r for r in results if r.passed), None)
        if chosen is None:
            click.echo(f"Gates failed: not merging (nothing written to {merge_dir}).", err=True)
        else:
            from mergekit_hooks.bridge import run_merge

            from hub_lineage.predict.card_section import predictor_date

            out = run_merge(chosen, merge_dir, predictor_version=str(predictor.version), options=options,
                            predictor_date=predictor_date(predictor.meta, getattr(predictor, "path", None)))
            click.echo(f"Merged {chosen.recipe.path} into {out} (README carries the predicted scores).", err=True)
    return 0 if passed else 1


def _short(model: str, width: int = 28) -> str:
    name = model.rsplit("/", 1)[-1]
    return name if len(name) <= width else name[: width - 1] + "~"


def render(result: Any, benchmarks: list[str]) -> str:
    """A human table: predicted mean and interval per benchmark, the parents' own scores beside."""
    r = result
    verdict = "PASS" if r.passed else "FAIL"
    lines = [f"{r.recipe.path}  ({r.recipe.method.name}, {len(r.parents)} parents)  {verdict if r.gates else ''}".rstrip()]
    heads = [f"{_short(p.model)}{' (base)' if p.is_base else ''} w={p.weight:.2f}" for p in r.parents]
    widths = [max(len(h), 6) for h in heads]
    lines.append(f"  {'benchmark':<10} {'predicted':>9}  {'interval':<15} | " + "  ".join(
        h.rjust(w) for h, w in zip(heads, widths)))
    for bench in benchmarks:
        iv = r.prediction.predicted.get(bench)
        if iv is None:
            continue
        cells = []
        for p, w in zip(r.parents, widths):
            if p.observed is not None and bench in p.observed:
                cell = f"{p.observed[bench]:.3f}"
            elif p.predicted is not None and bench in p.predicted:
                cell = f"{float(p.predicted[bench].mean):.3f}*"
            else:
                cell = "?" if not p.known else "-"
            cells.append(cell.rjust(w))
        interval = f"[{float(iv.low):.3f}, {float(iv.high):.3f}]"
        lines.append(f"  {bench:<10} {float(iv.mean):>9.3f}  {interval:<15} | "
                     + "  ".join(cells))
    notes = []
    if any(p.observed is None and p.predicted is not None for p in r.parents):
        notes.append("* = the parent's own predicted score (never evaluated)")
    if r.prediction.unknown_parents:
        notes.append("unknown to the predictor (interval widened): " + ", ".join(r.prediction.unknown_parents))
    lines += [f"  {n}" for n in notes]
    for g, ok in r.gates:
        lines.append(f"  gate {g}: {'pass' if ok else 'FAIL'} (predicted {r.score(g.bench):.3f})")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Entry point: exit 0 when all gates pass, 1 when one fails, 2 on bad input."""
    from hub_lineage.cli.main import run_command

    code = run_command(preflight_command, argv, "mergekit-preflight", usage_exit_code=2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
