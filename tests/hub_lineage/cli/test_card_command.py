"""``hub-lineage card``: local cards edited in place, Hub cards pushed as pull requests (loopback Hub)."""

from __future__ import annotations

import pytest
import yaml
from cli_runner import run_main
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


ONE_RESULT = """---
license: mit
base_model: alpha/base
model-index:
- name: my-org/my-model
  results:
  - task: {type: text-generation}
    dataset: {name: BBH (3-Shot), type: BBH, args: {num_few_shot: 3}}
    metrics:
    - {type: acc_norm, value: 41.5, name: normalized accuracy}
    source: {url: https://huggingface.co/spaces/open-llm-leaderboard/open_llm_leaderboard, name: Open LLM Leaderboard}
---
# my-model
"""


def test_default_card_adds_the_section_and_leaves_model_index_at_its_one_entry(predictor_dir, tmp_path):
    card = tmp_path / "README.md"
    card.write_text(ONE_RESULT)
    args = ["card", str(card), "--model", "my-org/my-model", "--offline", "--predictor", str(predictor_dir)]
    first = _invoke(args)
    assert first.exit_code == 0, first.output
    assert "wrote predicted scores for 6 benchmark(s) into a Predicted performance section" in first.output
    once = card.read_text()
    assert once.startswith(ONE_RESULT.split("---\n# my-model")[0])  # the old front matter, byte for byte
    front = yaml.safe_load(once.split("---\n")[1])
    assert front["model-index"] == yaml.safe_load(ONE_RESULT.split("---\n")[1])["model-index"]
    assert set(front["hub_lineage"]["predictions"]) == {"ifeval", "bbh", "math", "gpqa", "musr", "mmlu_pro"}
    body = once.split("\n---\n", 1)[1]
    assert body.startswith("# my-model\n\n<!-- hub-lineage") and "## Predicted performance" in body
    assert "These are predictions, not evaluations." in body and body.count("| BBH (3-shot) |") == 1
    second = _invoke(args)
    assert second.exit_code == 0 and "unchanged" in second.output
    assert card.read_text() == once


def test_model_index_opt_in_adds_unverified_entries_on_the_leaderboard_scale(predictor_dir, tmp_path):
    from hub_lineage.benchmarks import leaderboard_normalised
    from hub_lineage.predict.predictor import Predictor

    card = tmp_path / "README.md"
    card.write_text(ONE_RESULT)
    result = _invoke(["card", str(card), "--model", "my-org/my-model", "--model-index", "--offline",
                      "--predictor", str(predictor_dir)])
    assert result.exit_code == 0, result.output
    front = yaml.safe_load(card.read_text().split("---\n")[1])
    results = front["model-index"][0]["results"]
    assert results[0]["metrics"][0]["value"] == 41.5  # the real BBH result, kept and not shadowed
    predicted = [r for r in results if r.get("source", {}).get("name", "").startswith(SOURCE_PREFIX)]
    assert sorted(r["dataset"]["type"] for r in predicted) == sorted(
        ["HuggingFaceH4/ifeval", "hendrycks/competition_math", "Idavidrein/gpqa", "TAUR-Lab/MuSR", "TIGER-Lab/MMLU-Pro"])
    assert all(r["metrics"][0]["verified"] is False and "predicted" in r["source"]["name"] for r in predicted)
    from hub_lineage.lineage.cards import edges_from_card

    edges = edges_from_card(ONE_RESULT, "my-org/my-model")  # not on the Hub: the card's base_model
    mean = Predictor.load(predictor_dir).predict_edges("my-org/my-model", edges).predicted["gpqa"].mean
    gpqa = next(r for r in predicted if r["dataset"]["type"] == "Idavidrein/gpqa")["metrics"][0]["value"]
    assert gpqa == round(leaderboard_normalised("gpqa", mean), 2) and gpqa > 1  # 0-100, not 0-1


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
    assert card["model-index"] == yaml.safe_load(text.split("---\n")[1])["model-index"]  # untouched
    assert "## Predicted performance" in arrived and set(card["hub_lineage"]["predictions"]) >= {"bbh"}
    assert hub.server.models["alpha/ft-3"].files["README.md"].decode() == text  # main untouched
    # the predictions match what `predict` says for the same model
    from hub_lineage.lineage.hub import HubClient
    from hub_lineage.predict.card_section import predictor_date
    from hub_lineage.predict.modelcard import update_card
    from hub_lineage.predict.predictor import Predictor

    predictor = Predictor.load(predictor_dir)
    expected = update_card(text, predictor.predict("alpha/ft-3", hub=HubClient(hub.api)), model_name="alpha/ft-3",
                           predictor_version=predictor.version, predictor_date=predictor_date(predictor.meta, predictor_dir))
    assert arrived == expected


def test_push_to_main_only_when_asked(predictor_dir, card_fixtures, hub):
    text = _host(hub, card_fixtures)
    result = _invoke(["card", "alpha/ft-3", "--push", "--no-create-pr", "--endpoint", hub.url,
                      "--predictor", str(predictor_dir)], env={"HF_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    assert not hub.server.commits[-1].create_pr
    on_main = hub.server.models["alpha/ft-3"].files["README.md"].decode()
    assert on_main != text and "## Predicted performance" in on_main


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


def test_a_local_card_is_predicted_from_the_base_model_it_states(predictor_dir, tmp_path):
    # --model names a model the predictor knows (alpha/merge, an alpha-family merge); the card in hand
    # says it is a fine-tune of beta/base: the card is the model's own statement of its lineage.
    def predicted(base: str) -> dict:
        card = tmp_path / base.replace("/", "_") / "README.md"
        card.parent.mkdir()
        card.write_text(f"---\nbase_model: {base}\n---\n# card\n")
        result = _invoke(["card", str(card), "--model", "alpha/merge", "--offline", "--predictor", str(predictor_dir)])
        assert result.exit_code == 0, result.output
        return yaml.safe_load(card.read_text().split("---\n")[1])["hub_lineage"]["predictions"]

    from_beta, from_alpha = predicted("beta/base"), predicted("alpha/base")
    assert all(from_beta[b] < from_alpha[b] for b in from_alpha)  # beta's family scores 0.35, alpha's 0.65


def test_card_says_what_it_waits_for_on_a_failing_hub_and_ends_in_one_line(predictor_dir, card_fixtures, hub,
                                                                          capsys):
    import time

    _host(hub, card_fixtures)
    hub.server.fail_next(1000, status=503)  # every request fails: huggingface_hub's retries, then one error
    start = time.monotonic()
    code, out, err = run_main(["card", "alpha/ft-3", "--endpoint", hub.url, "--predictor", str(predictor_dir)],
                              capsys)
    lines = err.strip().splitlines()
    assert code == 2 and out == ""
    assert lines[0] == f"Reading the card and lineage of alpha/ft-3 from the Hub at {hub.url} ..."
    assert lines[-1].startswith("Error: ") and "alpha/ft-3" in lines[-1] and hub.url in lines[-1]
    assert "after huggingface_hub's retries" in lines[-1]  # not "after 1 attempt(s)"
    # (not "Traceback" not in err: huggingface_hub's own log handler may hold a stream an earlier
    # test captured, and logging then prints its "--- Logging error ---" traceback here; a CLI run
    # shows none, see the notes' subprocess run)
    assert [x for x in lines if x.startswith("Error")] == [lines[-1]] and "Internal error" not in err
    # README.md is retried by huggingface_hub alone (about 23 s), no longer again by hub-lineage (~100 s)
    assert time.monotonic() - start < 60


def test_a_cards_lineage_request_says_each_wait_on_a_failing_hub(predictor_dir, hub, tmp_path, capsys):
    card = tmp_path / "README.md"
    card.write_text("# a card that states no base_model\n")
    hub.server.fail_next(1000, status=503)
    code, _, err = run_main(["card", str(card), "--model", "org/never-seen", "--endpoint", hub.url,
                             "--predictor", str(predictor_dir)], capsys)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert lines[0] == f"Reading the lineage of org/never-seen from the Hub at {hub.url} ..."
    waits = [x for x in lines if x.startswith("Waiting for the Hub: ")]
    assert [w.split("retry ")[1].split(" in")[0] for w in waits] == ["1 of 3", "2 of 3", "3 of 3"]
    assert "model info of org/never-seen" in waits[0] and hub.url in waits[0] and "HTTP 503" in waits[0]
    assert lines[-1].startswith("Error: ") and "org/never-seen" in lines[-1]
    assert card.read_text() == "# a card that states no base_model\n"  # nothing written


def test_card_on_a_slow_hub_says_what_it_waits_for_before_the_answer(predictor_dir, card_fixtures, hub, capsys):
    _host(hub, card_fixtures)
    hub.server.delay(1.0, count=1)
    code, out, err = run_main(["card", "alpha/ft-3", "--endpoint", hub.url, "--predictor", str(predictor_dir)],
                              capsys)
    assert code == 0, err
    assert err.startswith(f"Reading the card and lineage of alpha/ft-3 from the Hub at {hub.url} ...")
    assert "## Predicted performance" in out and "Error" not in err


@pytest.mark.parametrize("text", ["", "---\nlicense: mit\n---\n# x\n"])
def test_a_local_card_without_parents_names_the_file_and_cards_own_option(predictor_dir, tmp_path, capsys, text):
    card = tmp_path / "mymodel" / "README.md"
    card.parent.mkdir()
    card.write_text(text)
    code, _, err = run_main(["card", str(card), "--offline", "--predictor", str(predictor_dir)], capsys)
    assert code == 2 and str(card) in err and "--model ORG/NAME" in err, err
    assert "--parent" not in err and "local/" not in err  # card has no --parent option
    assert card.read_text() == text
