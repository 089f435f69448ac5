"""``hub-lineage predict``: predicted benchmark scores of a Hub model, a card, a recipe or named parents.

Also the helpers the other predicting commands share: finding the fitted predictor (fitting it on
first run), and rendering a prediction as a table.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hub_lineage.errors import InvalidInputError, NotFittedError

if TYPE_CHECKING:
    from hub_lineage.predict.predictor import Prediction, Predictor

OFFLINE_EMPTY = (
    "No fitted predictor and the store is empty, and the Hub is not reachable (offline). Ingest local "
    "data and fit, e.g.\n"
    "  hub-lineage ingest ../shared/data/open_llm_leaderboard_contents_2025-02-08.csv "
    "../shared/data/hf_lineage_edges_2025-06.csv\n"
    "  hub-lineage fit")


def load_predictor(predictor_dir: str | None, store_path: str | None, offline: bool) -> Predictor:
    """The saved predictor; on first run fit one from the store (pulling the leaderboard when the
    store is empty and the Hub is reachable)."""
    from hub_lineage.predict.predictor import Predictor

    try:
        return Predictor.load(predictor_dir)
    except NotFittedError:
        if predictor_dir is not None:
            raise
    from hub_lineage.data.store.database import Store

    store = Store(store_path)
    if store.is_empty():
        if offline:
            raise NotFittedError(OFFLINE_EMPTY)
        from hub_lineage.cli.commands.fit import pull_leaderboard

        click.echo("First run: pulling open-llm-leaderboard/contents and its models' lineage "
                   "from the Hub into the store.", err=True)
        pull_leaderboard(store)
    click.echo("No fitted predictor yet: fitting one from the store (once; `hub-lineage fit` refits).", err=True)
    predictor = Predictor.fit(store)
    predictor.save()
    return predictor


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
                  f"  {'model':<{width}}  {'relation':<10} {'hops':>4} {'influence':>9}  scores"]
        for d in prediction.drivers:
            scores = " ".join(f"{b}={v:.2f}" for b, v in (d.scores or {}).items()) or "-"
            lines.append(f"  {d.model:<{width}}  {d.relation:<10} {d.hops:>4} {d.influence:>9.2f}  {scores}")
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
@click.option("--json", "as_json", is_flag=True, help="Print the JSON contract instead of a table.")
@click.option("--offline", is_flag=True, default=None,
              help="Do not contact the Hub: the predictor's lineage graph and the Hub cache only (also HF_HUB_OFFLINE=1).")
@click.option("--predictor", "predictor_dir", type=click.Path(file_okay=False), default=None,
              help="Fitted predictor directory (default: $HUB_LINEAGE_HOME/predictor).")
@click.option("--store", "store_path", type=click.Path(dir_okay=False), default=None,
              help="Store to fit from on first run (default: $HUB_LINEAGE_HOME/store.sqlite).")
def predict(repo_id: str | None, card: Path | None, recipe: Path | None, parents: tuple[str, ...],
            as_json: bool, offline: bool | None, predictor_dir: str | None, store_path: str | None) -> None:
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
    from hub_lineage import paths

    sources = [name for name, given in (("--card", card), ("--recipe", recipe), ("--parent", parents)) if given]
    if len(sources) > 1:
        raise InvalidInputError(f"Give only one of --card, --recipe and --parent (got {', '.join(sources)}).")
    if not sources and not repo_id:
        raise InvalidInputError("Name a model: REPO_ID, or --card README.md, --recipe merge.yml or --parent ID.")
    offline = paths.env_offline() if offline is None else offline
    predictor = load_predictor(predictor_dir, store_path, offline)
    prediction = predict_any(predictor, repo_id, card=card, recipe=recipe, parents=parents, offline=offline)
    if as_json:
        click.echo(json.dumps(prediction.to_json(), indent=2))
    else:
        click.echo(render(prediction, predictor.version))


def predict_any(predictor: Predictor, repo_id: str | None, *, card: Path | None = None, recipe: Path | None = None,
                parents: tuple[str, ...] = (), offline: bool = False) -> Prediction:
    """Dispatch one CLI request to :class:`Predictor` (repo id, card, recipe or parents)."""
    from hub_lineage.predict.predictor import parse_parent

    if parents:
        name = hypothetical_name(repo_id, "planned-model")
        return predictor.predict_edges(name, [parse_parent(p, name) for p in parents])
    if card is not None:
        from hub_lineage.lineage.cards import edges_from_card

        name = hypothetical_name(repo_id, card.resolve().parent.name)
        return predictor.predict_edges(name, edges_from_card(card, name))
    if recipe is not None:
        from hub_lineage.lineage.recipes import load_recipe

        plan = load_recipe(recipe)
        return predictor.predict_edges(plan.name, plan.edges())
    assert repo_id is not None
    return predictor.predict(repo_id, offline=offline)
