"""``hub-lineage rank-bases``: which base model to fine-tune (or merge) from, ranked by prediction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from hub_lineage.cli.options import echo_json, json_option, offline_option, predictor_option, store_option
from hub_lineage.errors import InvalidInputError, NoLineageError

if TYPE_CHECKING:
    from hub_lineage.predict.prediction import Prediction
    from hub_lineage.predict.predictor import Predictor


@dataclass
class RankedBase:
    """One candidate base: the predicted scores of a child made from it, and its own scores."""

    candidate: str
    score: float
    prediction: Prediction

    def to_json(self, benchmark: str) -> dict:
        out = self.prediction.to_json()
        return {"candidate": self.candidate, "benchmark": benchmark, "score": round(self.score, 4),
                "predicted": out["predicted"], "candidate_observed": out["observed"],
                "candidate_actual": out["observed"]}  # deprecated alias (docs/json.md), removed in 0.3.0


def rank_bases(predictor: Predictor, candidates: list[str], benchmark: str, relation: str = "finetune"
               ) -> tuple[list[RankedBase], list[str]]:
    """Rank ``candidates`` by the predicted ``benchmark`` score (or ``mean``) of a child made from each.

    Returns (ranked best first, candidates unknown to the predictor). Each child is a hypothetical
    node with one ``relation`` edge to the candidate, folded in like ``--parent``.
    """
    from hub_lineage.ids import check_repo_id
    from hub_lineage.predict.predictor import parse_parent

    benchmark = benchmark.strip().lower()  # BBH is bbh, as mergekit-preflight's gates read it
    if benchmark != "mean" and benchmark not in predictor.benchmarks:
        raise InvalidInputError(
            f"Unknown benchmark {benchmark!r}: this predictor has {', '.join(predictor.benchmarks)} (or 'mean').")
    ranked, unknown = [], []
    for cand in dict.fromkeys(candidates):
        child = f"planned/{cand.replace('/', '--')}-{relation}"
        try:
            check_repo_id(cand, namespace=True)  # named as a candidate, not as a --parent
            pred = predictor.predict_edges(child, [parse_parent(f"{cand}:{relation}", child)])
        except NoLineageError:
            unknown.append(cand)
            continue
        pred.actual = predictor.observed(cand)  # beside the child's prediction: the candidate's own scores
        means = [iv.mean for iv in pred.predicted.values()]
        score = sum(means) / len(means) if benchmark == "mean" else pred.predicted[benchmark].mean
        ranked.append(RankedBase(cand, score, pred))
    if not ranked:
        raise NoLineageError(f"None of the candidates is known to the predictor: {', '.join(unknown)}.")
    ranked.sort(key=lambda r: -r.score)
    return ranked, unknown


@click.command("rank-bases")
@click.argument("candidates", nargs=-1, required=True)
@click.option("--benchmark", "benchmark", default="mean", show_default=True,
              help="Benchmark to rank by (ifeval, bbh, math, gpqa, musr, mmlu_pro) or 'mean'.")
@click.option("--relation", default="finetune", show_default=True,
              type=click.Choice(["finetune", "merge", "adapter"]), help="How the planned model is made from the base.")
@json_option("Print JSON instead of a table.")
@offline_option("Do not contact the Hub (first run: no pull).")
@predictor_option()
@store_option("Store to fit from on first run")
def rank_bases_command(candidates: tuple[str, ...], benchmark: str, relation: str, as_json: bool,
                       offline: bool, predictor_dir: str | None, store_path: str | None) -> None:
    """Rank candidate base models for a planned fine-tune or merge by the child's predicted score.

    \b
    Example:
      hub-lineage rank-bases --benchmark bbh Qwen/Qwen2.5-7B Qwen/Qwen2.5-7B-Instruct \\
          meta-llama/Llama-3.1-8B-Instruct --offline
    """
    from hub_lineage.predict.loading import load_predictor

    benchmark = benchmark.strip().lower()
    predictor = load_predictor(predictor_dir, store_path, offline)
    ranked, unknown = rank_bases(predictor, list(candidates), benchmark, relation)
    if as_json:
        echo_json({"benchmark": benchmark, "relation": relation,
                   "ranking": [r.to_json(benchmark) for r in ranked], "unknown": unknown}, indent=2)
        return
    width = max(len(r.candidate) for r in ranked)
    click.echo(f"Predicted {benchmark} of a model {relation}d from each candidate "
               f"(hub-lineage {predictor.version}):\n")
    click.echo(f"{'#':>3}  {'candidate':<{width}}  {'child':>6}  {'interval':<11}  {'base itself':>11}")
    shown = [f"{r.score:.3f}" for r in ranked]
    places = [shown.index(x) + 1 for x in shown]  # equal shown scores share a place, marked '='
    for k, r in enumerate(ranked, 1):
        tied = shown.count(shown[k - 1]) > 1
        place = f"{places[k - 1]}{'=' if tied else ''}"
        actual = r.prediction.actual or {}
        if benchmark == "mean":
            own = sum(actual.values()) / len(actual) if actual else None
            interval = "-"
        else:
            own = actual.get(benchmark)
            iv = r.prediction.predicted[benchmark]
            interval = f"{iv.low:.3f}-{iv.high:.3f}"
        own_s = f"{own:.3f}" if own is not None else "-"
        click.echo(f"{place:>3}  {r.candidate:<{width}}  {r.score:>6.3f}  {interval:<11}  {own_s:>11}")
    if unknown:
        click.echo(f"\nUnknown to the predictor (not ranked): {', '.join(unknown)}")
