"""``hub-lineage predict``: predicted benchmark scores of a Hub model, a card, a recipe or named parents.

Also the helpers the other predicting commands share: naming a hypothetical model, and rendering a
prediction as a table. The predictor itself comes from :func:`hub_lineage.predict.loading.load_predictor`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hub_lineage.cli.options import (echo_json, json_option, offline_option, one_blas_thread, predictor_option,
                                     store_option)
from hub_lineage.errors import InvalidInputError

if TYPE_CHECKING:
    from hub_lineage.predict.light import LightPredictor
    from hub_lineage.predict.prediction import Prediction
    from hub_lineage.predict.predictor import Predictor


def render(prediction: Prediction, version: str) -> str:
    """A readable table: predicted (with interval) beside actual, then the relatives that drove it."""
    level = round(100 * prediction.coverage)
    actual = prediction.actual or {}
    lines = [f"{prediction.model}  (predicted from lineage by hub-lineage {version}; {level}% intervals)",
             "", f"{'benchmark':<10} {'predicted':>9}   {'interval':<13} {'actual':>7}"]
    for bench, iv in prediction.predicted.items():
        act = f"{actual[bench]:.3f}" if bench in actual else "-"
        lines.append(f"{bench:<10} {iv.mean:>9.3f}   {iv.low:.3f}-{iv.high:.3f}   {act:>7}")
    if prediction.actual is None:
        lines.append("(no actual scores known for this model)")
    if prediction.unknown_parents:
        lines += ["", "Unknown to the predictor (ignored, interval widened): " + ", ".join(prediction.unknown_parents)]
    if prediction.drivers:
        width = max(len(d.model) for d in prediction.drivers)
        lines += ["", "Relatives it came from:",
                  f"  {'model':<{width}}  {'relation':<11} {'hops':>4} {'influence':>9}  scores"]
        for d in prediction.drivers:
            scores = " ".join(f"{b}={v:.2f}" for b, v in (d.scores or {}).items()) or "-"
            lines.append(f"  {d.model:<{width}}  {d.relation:<11} {d.hops:>4} {d.influence:>9.2f}  {scores}")
    return "\n".join(lines)


def hypothetical_name(name: str | None, fallback: str) -> str:
    if name:
        return name
    return "local/" + (re.sub(r"[^\w.\-]+", "-", fallback).strip("-.") or "model")


@click.command("predict")
@click.argument("repo_id", required=False)
@click.option("--card", "card", type=click.Path(dir_okay=False, path_type=Path),
              help="Predict from a model card's stated parents (base_model metadata).")
@click.option("--recipe", "recipe", type=click.Path(dir_okay=False, path_type=Path),
              help="Predict a planned mergekit merge from its recipe YAML.")
@click.option("--parent", "parents", multiple=True, metavar="ID[:relation[:weight]]",
              help="A parent of a planned model (repeatable), e.g. Qwen/Qwen2.5-7B:finetune or A/B:merge:0.5.")
@json_option()
@offline_option("Do not contact the Hub: the predictor's lineage graph and the Hub cache only (also HF_HUB_OFFLINE=1).")
@predictor_option()
@store_option("Store to fit from on first run")
@click.option("--lineage-only", is_flag=True,
              help="Leave the model's own stored item answers out (the prediction from lineage alone).")
def predict(repo_id: str | None, card: Path | None, recipe: Path | None, parents: tuple[str, ...],
            as_json: bool, offline: bool, predictor_dir: str | None, store_path: str | None,
            lineage_only: bool = False) -> None:
    """Predict a model's benchmark scores from its lineage, with intervals and the relatives behind them.

    REPO_ID is a model on the Hub; its own scores are never used for the prediction (they are
    shown beside it when known). With --card, --recipe or --parent the model is hypothetical and
    REPO_ID, if given, only names it.

    \b
    Examples:
      hub-lineage predict ZeroXClem/Qwen2.5-7B-HomerAnvita-NerdMix --offline
      hub-lineage predict --parent Qwen/Qwen2.5-7B-Instruct:finetune --json
      hub-lineage predict --card README.md
      hub-lineage predict --recipe merge.yml
    """
    sources = [name for name, given in (("--card", card), ("--recipe", recipe), ("--parent", parents)) if given]
    if len(sources) > 1:
        raise InvalidInputError(f"Give only one of --card, --recipe and --parent (got {', '.join(sources)}).")
    if not sources and not repo_id:
        raise InvalidInputError("Name a model: REPO_ID, or --card README.md, --recipe merge.yml or --parent ID.")
    if sources or offline:  # no Hub: the same prediction without numpy where it can (predict/light.py)
        from hub_lineage.predict.light import answer, has_own_answers

        if sources or lineage_only or not has_own_answers(store_path, repo_id):
            light = answer(lambda p: (predict_any(p, repo_id, card=card, recipe=recipe, parents=parents,
                                                  offline=offline), p.version), predictor_dir, store_path)
            if light is not None:
                show(*light, {}, as_json)
                return
    one_blas_thread()  # before numpy: a prediction's linear algebra is tiny
    from hub_lineage.predict.loading import load_predictor

    predictor = load_predictor(predictor_dir, store_path, offline)
    prediction = predict_any(predictor, repo_id, card=card, recipe=recipe, parents=parents, offline=offline)
    estimates = {}
    if repo_id and not sources and not lineage_only:  # the model's own partial evaluation (issue 11)
        from hub_lineage.predict.partial import own_estimates

        estimates = own_estimates(store_path, predictor, repo_id, prediction.coverage)
    show(prediction, predictor.version, estimates, as_json)


def show(prediction: Prediction, version: str, estimates: dict[str, Any], as_json: bool) -> None:
    """Print a prediction (and the model's own estimates, ``partial.Estimate`` by benchmark)."""
    if as_json:
        payload = {**prediction.to_json(), "predictor_version": version}
        if estimates:
            payload["estimates"] = {b: e.as_json() for b, e in estimates.items()}
        echo_json(payload, indent=2)
    else:
        click.echo(render(prediction, version))
        if estimates:
            click.echo("\nFrom its own evaluated items (with the lineage prediction):")
            for b, e in estimates.items():
                click.echo(f"  {b:<10} {e.estimate:.3f}   {e.low:.3f}-{e.high:.3f}   {e.evaluated}/{e.items} items  ({e.method})")


def predict_any(predictor: Predictor | LightPredictor, repo_id: str | None, *, card: Path | None = None,
                recipe: Path | None = None, parents: tuple[str, ...] = (), offline: bool = False) -> Prediction:
    """Dispatch one CLI request (repo id, card, recipe or parents) to a :class:`Predictor`, or to a
    :class:`LightPredictor` (the same methods; it may raise ``HandBack``)."""
    from hub_lineage.lineage.edges import parse_parent

    if parents:
        name = hypothetical_name(repo_id, "planned-model")
        return predictor.predict_edges(name, [parse_parent(p, name) for p in parents])
    if card is not None:
        from hub_lineage.lineage.cards import edges_from_card

        name = hypothetical_name(repo_id, card.resolve().parent.name)
        edges = edges_from_card(card, name)
        if not edges:  # say why, naming the card file (not the made-up local/... name)
            from hub_lineage.errors import NoLineageError
            from hub_lineage.lineage.cards import no_parents_reason

            raise NoLineageError(no_parents_reason(card.read_text(encoding="utf-8", errors="replace"), str(card)) + ".")
        return predictor.predict_edges(name, edges)
    if recipe is not None:
        from hub_lineage.lineage.recipes import load_recipe

        plan = load_recipe(recipe)
        return predictor.predict_edges(plan.name, plan.edges())
    assert repo_id is not None
    return predictor.predict(repo_id, offline=offline)
