"""``hub-lineage card``: add predicted scores to a model card (a local README.md or a Hub repo)."""

from __future__ import annotations

from pathlib import Path

import click

from hub_lineage.cli.options import endpoint_option, offline_option, predictor_option, store_option
from hub_lineage.errors import InvalidInputError, InvalidRepoIdError
from hub_lineage.ids import check_repo_id


@click.command("card")
@click.argument("target")
@click.option("--model", "model_id", default=None,
              help="The model the card describes (Hub id): predicted from its lineage. Without it a local "
                   "card is predicted from the parents it states.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the new card here (default: a local card is updated in place; a Hub card is printed).")
@click.option("--push", is_flag=True, help="Send the new card to the model's Hub repository (a pull request by default).")
@click.option("--model-index", "model_index", is_flag=True,
              help="Also add model-index entries (verified: false, the leaderboard's 0-100 scale, source "
                   "saying 'predicted') for benchmarks the card has no real result for.")
@click.option("--create-pr/--no-create-pr", "create_pr", default=True, show_default=True,
              help="With --push: open a pull request (default) or, with --no-create-pr, write to main.")
@offline_option("Predict without contacting the Hub (not with --push).")
@predictor_option()
@store_option("Store to fit from on first run")
@endpoint_option()
def card(target: str, model_id: str | None, out_path: Path | None, push: bool, model_index: bool,
         create_pr: bool, offline: bool, predictor_dir: str | None, store_path: str | None, endpoint: str | None) -> None:
    """Add predicted benchmark scores to a model card, marked as predictions.

    TARGET is a README.md file or a Hub repo id. The card gets a "Predicted performance" section
    (benchmark, predicted score, interval, the relatives it was predicted from, predictor version
    and date) and a `hub_lineage:` front-matter key; running again replaces both (same predictor:
    no byte changes). model-index and .eval_results/ are left alone unless --model-index.

    \b
    Examples:
      hub-lineage card README.md --model ZeroXClem/Qwen2.5-7B-HomerAnvita-NerdMix --offline
      hub-lineage card README.md --model my-org/my-model --model-index   # opt-in model-index entries
      hub-lineage card my-org/my-model --push              # opens a pull request
      hub-lineage card my-org/my-model --push --no-create-pr   # writes to main
    """
    from hub_lineage.cli.commands.predict import hypothetical_name
    from hub_lineage.files import write_atomic
    from hub_lineage.predict.loading import load_predictor
    from hub_lineage.predict.card_section import predictor_date
    from hub_lineage.predict.modelcard import update_card

    local = Path(target)
    is_file = local.is_file()
    if not is_file:
        try:
            check_repo_id(target, namespace=True)
        except InvalidRepoIdError as exc:
            raise InvalidRepoIdError(f"{target!r} is neither an existing README.md file nor a Hub repo id "
                                     f"('org/name'): {exc}") from None
    repo_id = model_id if is_file else target
    if push and offline:
        raise InvalidInputError("--push needs the Hub: drop --offline (or HF_HUB_OFFLINE=1).")
    if push and not repo_id:
        raise InvalidInputError(f"--push needs to know which repository {target!r} belongs to: pass --model ORG/NAME.")
    hub = None if offline else _hub_client(endpoint)
    predictor = load_predictor(predictor_dir, store_path, offline)
    if is_file:
        text = _read(local)
        from hub_lineage.lineage.cards import edges_from_card

        # The card describes the model: the parents its front matter states are its lineage, even
        # where the Hub or the store say otherwise (or nothing yet). Without any, --model's lineage.
        name = model_id or hypothetical_name(None, local.resolve().parent.name)
        stated = edges_from_card(local, name)
        if not stated and not model_id:  # say why, naming the card (not a made-up local/... id)
            from hub_lineage.errors import NoLineageError
            from hub_lineage.lineage.cards import no_parents_reason

            raise NoLineageError(no_parents_reason(text, str(local), "--model ORG/NAME (the model it describes)") + ".")
        if stated or not model_id:
            prediction = predictor.predict_edges(name, stated)
        else:
            _say_hub(hub, f"Reading the lineage of {model_id}")
            prediction = predictor.predict(model_id, hub=hub, offline=offline)
    else:
        assert hub is not None or offline
        from hub_lineage.lineage.hub import HubClient

        client = hub if hub is not None else HubClient(offline=True)
        _say_hub(hub, f"Reading the card and lineage of {target}")
        text = client.model_card_text(target)
        prediction = predictor.predict(target, hub=hub, offline=offline)
    name = repo_id or prediction.model
    new_text = update_card(text, prediction, model_name=name, predictor_version=predictor.version,
                           predictor_date=predictor_date(predictor.meta, predictor.path), model_index=model_index)
    changed = new_text != text
    added = len(prediction.predicted) if changed else 0
    if push:
        if not changed:
            click.echo(f"The card of {repo_id} already carries these hub-lineage predictions: nothing to push.")
            return
        from hub_lineage.predict.modelcard import push_card

        assert hub is not None and repo_id is not None
        url = push_card(repo_id, new_text, api=hub.api, create_pr=create_pr, predictor_version=predictor.version,
                        model_index=model_index)
        what = "Opened a pull request" if create_pr else "Committed to main"
        click.echo(f"{what} adding predicted scores to {repo_id}: {url}")
        return
    destination = out_path or (local if is_file else None)
    if destination is None:
        click.echo(new_text, nl=False)
        return
    if changed or destination != local:
        write_atomic(destination, new_text)  # newline="" keeps a CRLF card CRLF
    where = "a Predicted performance section" + (" and model-index (verified: false)" if model_index else "")
    click.echo(f"{destination}: " + (f"wrote predicted scores for {added} benchmark(s) into {where}."
                                     if changed else "already carries these hub-lineage predictions; unchanged."))


def _say_hub(hub, what: str) -> None:
    if hub is not None:  # online: the Hub may be slow or failing, so say what is awaited, and where
        from hub_lineage.cli.progress import waiting

        waiting(f"{what} from the Hub at {hub.endpoint}")


def _hub_client(endpoint: str | None):
    from huggingface_hub import HfApi

    from hub_lineage.lineage.hub import HubClient

    return HubClient(HfApi(endpoint=endpoint) if endpoint else None, offline=False)


def _read(path: Path) -> str:
    from hub_lineage.errors import DataFormatError

    try:
        # newline="" keeps CRLF cards byte for byte
        with path.open(encoding="utf-8", newline="") as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"Model card {str(path)!r} is not UTF-8 text: {exc}.") from None
