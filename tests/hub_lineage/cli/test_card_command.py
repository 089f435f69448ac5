"""``hub-lineage card``: local cards edited in place, Hub cards pushed as pull requests (loopback Hub)."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner
from tiny_predictor import tiny_predictor_dir

from hub_lineage.cli.main import cli, main
from hub_lineage.predict.modelcard import SOURCE_PREFIX

TOKEN = "hf_loopbackSecretToken123"


@pytest.fixture(scope="module")
def predictor_dir(tmp_path_factory):
    return tiny_predictor_dir(tmp_path_factory.mktemp("predictor"))


def _card_with_results(card_fixtures) -> str:
    return (card_fixtures / "with_results" / "README.md").read_text()


def _invoke(args, env=None):
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def test_local_card_twice_keeps_results_and_second_run_changes_nothing(predictor_dir, card_fixtures, tmp_path):
    original = _card_with_results(card_fixtures)
    card = tmp_path / "README.md"
    card.write_text(original)
    args = ["card", str(card), "--model", "alpha/ft-3", "--offline", "--predictor", str(predictor_dir)]
    first = _invoke(args)
    assert first.exit_code == 0, first.output
    assert "added predicted scores for 6 benchmark(s)" in first.output
    once = card.read_bytes()
    head = original.split("# a comment that must survive\n")[0]
    assert once.decode().startswith(head)  # existing results byte for byte
    front = yaml.safe_load(once.decode().split("---\n")[1])
    results = front["model-index"][0]["results"]
    assert len(results) == 8
    predicted = [r for r in results if r.get("source", {}).get("name", "").startswith(SOURCE_PREFIX)]
    assert len(predicted) == 6 and all(r["metrics"][0]["verified"] is False for r in predicted)
    second = _invoke(args)
    assert second.exit_code == 0 and "unchanged" in second.output
    assert card.read_bytes() == once


def test_malformed_card_is_refused_and_left_untouched(predictor_dir, card_fixtures, tmp_path, capsys):
    card = tmp_path / "README.md"
    original = (card_fixtures / "malformed" / "README.md").read_bytes()
    card.write_bytes(original)
    with pytest.raises(SystemExit) as exc:
        main(["card", str(card), "--model", "alpha/ft-3", "--offline", "--predictor", str(predictor_dir)])
    assert exc.value.code == 2 and "YAML" in capsys.readouterr().err
    assert card.read_bytes() == original


def _host(hub, card_fixtures) -> str:
    text = _card_with_results(card_fixtures).replace(
        "- newsbang/Homer-v0.5-Qwen2.5-7B\n- jeffmeloy/Qwen2.5-7B-nerd-uncensored-v1.0\n", "- alpha/base\n")
    hub.add_model("alpha/base", card_text="# root\n")
    hub.add_model("alpha/ft-3", card_text=text)
    return text


def test_push_opens_a_pull_request_with_the_new_readme(predictor_dir, card_fixtures, hub):
    text = _host(hub, card_fixtures)
    result = _invoke(["card", "alpha/ft-3", "--push", "--endpoint", hub.url, "--predictor", str(predictor_dir)],
                     env={"HF_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    assert "pull request" in result.output and TOKEN not in result.output
    commit = hub.server.commits[-1]
    assert commit.repo_id == "alpha/ft-3" and commit.create_pr and commit.authorization
    arrived = commit.files["README.md"].decode()
    assert arrived.startswith(text.split("# a comment that must survive\n")[0])
    card = yaml.safe_load(arrived.split("---\n")[1])
    predicted = [r for r in card["model-index"][0]["results"] if "hub-lineage" in r.get("source", {}).get("name", "")]
    assert len(predicted) == 6 and all(r["metrics"][0]["verified"] is False for r in predicted)
    assert hub.server.models["alpha/ft-3"].files["README.md"].decode() == text  # main untouched
    # the predictions match what `predict` says for the same model
    from hub_lineage.predict.modelcard import add_predictions
    from hub_lineage.predict.predictor import Predictor

    predictor = Predictor.load(predictor_dir)
    from hub_lineage.lineage.hub import HubClient

    expected = add_predictions(text, predictor.predict("alpha/ft-3", hub=HubClient(hub.api)),
                               model_name="alpha/ft-3", predictor_version=predictor.version)
    assert arrived == expected


def test_push_to_main_only_when_asked(predictor_dir, card_fixtures, hub):
    text = _host(hub, card_fixtures)
    result = _invoke(["card", "alpha/ft-3", "--push", "--no-create-pr", "--endpoint", hub.url,
                      "--predictor", str(predictor_dir)], env={"HF_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    assert not hub.server.commits[-1].create_pr
    on_main = hub.server.models["alpha/ft-3"].files["README.md"].decode()
    assert on_main != text and SOURCE_PREFIX in on_main


def test_push_without_a_token_is_a_clear_error(predictor_dir, card_fixtures, hub, capsys):
    _host(hub, card_fixtures)
    with pytest.raises(SystemExit) as exc:
        main(["card", "alpha/ft-3", "--push", "--endpoint", hub.url, "--predictor", str(predictor_dir)])
    assert exc.value.code == 2
    assert "HF_TOKEN" in capsys.readouterr().err
    assert hub.server.commits == []


def test_card_of_a_missing_repo(predictor_dir, hub, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["card", "alpha/nope", "--endpoint", hub.url, "--predictor", str(predictor_dir)])
    assert exc.value.code == 2 and "alpha/nope" in capsys.readouterr().err


@pytest.mark.parametrize("target", ["a--b/c", "no-namespace", "a/b/c"])
def test_a_target_that_is_no_file_and_no_hub_repo_id_is_refused(predictor_dir, target, capsys):
    """The card command checks repo ids with huggingface_hub's rules (hub_lineage.ids), as predict does."""
    with pytest.raises(SystemExit) as exc:
        main(["card", target, "--offline", "--predictor", str(predictor_dir)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and f"{target!r} is neither an existing README.md file nor a Hub repo id" in err
