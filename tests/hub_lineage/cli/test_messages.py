"""Messages that must not mislead (issue 13): what was not read, which file, which Hub."""

from __future__ import annotations

import pytest
from cli_runner import run_main
from tiny_predictor import tiny_predictor_dir

from hub_lineage.errors import DataFormatError, GatedRepoError
from hub_lineage.lineage.cards import edges_from_card
from hub_lineage.lineage.hub import HubClient


@pytest.fixture(scope="module")
def predictor_dir(tmp_path_factory):
    return tiny_predictor_dir(tmp_path_factory.mktemp("predictor"))


def test_a_card_with_a_byte_order_mark_still_states_its_parents():
    edges = edges_from_card("\ufeff---\nbase_model: alpha/base\n---\n# card\n", "org/x")
    assert [e.parent for e in edges] == ["alpha/base"]


def test_unclosed_front_matter_is_said():
    with pytest.raises(DataFormatError, match="never closed"):
        edges_from_card("---\nbase_model: alpha/base\n# card\n", "org/x")


def test_a_card_without_parents_is_named_not_a_made_up_local_id(predictor_dir, tmp_path, capsys):
    card = tmp_path / "mymodel" / "README.md"
    card.parent.mkdir()
    for text, says in (("# just a title\n", "no YAML front matter"), ("---\nlicense: mit\n---\n", "no base_model")):
        card.write_text(text)
        code, _, err = run_main(["predict", "--card", str(card), "--predictor", str(predictor_dir)], capsys)
        assert code == 2 and str(card) in err and says in err, err
        assert "No parents were given" not in err and "local/" not in err


def test_offline_unknown_model_does_not_claim_its_card_was_read(predictor_dir, capsys):
    code, _, err = run_main(["predict", "org/never-seen", "--offline", "--predictor", str(predictor_dir)], capsys)
    assert code == 2 and "no base_model on its card" not in err


def test_rank_bases_errors_name_the_candidate_not_parent(predictor_dir, capsys):
    code, _, err = run_main(["rank-bases", "bad id", "--predictor", str(predictor_dir)], capsys)
    assert code == 2 and "--parent" not in err


def test_gated_errors_point_at_the_hub_that_was_asked(hub):
    hub.add_model("org/gated-adapter", files={"adapter_config.json": '{"base_model_name_or_path": "a/b"}'},
                  gated="manual")
    with pytest.raises(GatedRepoError) as info:
        HubClient(hub.api, backoff_s=0.01, timeout_s=5.0).direct_parents("org/gated-adapter")
    assert f"{hub.url}/org/gated-adapter" in str(info.value) and "huggingface.co" not in str(info.value)


def test_a_details_download_says_what_it_waits_for_before_the_first_request(hub, tmp_path, caplog):
    import logging

    from hub_lineage.data.sources import details_hub
    from hub_lineage.errors import RepoNotFoundError

    with caplog.at_level(logging.INFO, logger="hub_lineage"), pytest.raises(RepoNotFoundError):
        details_hub.fetch_details("open-llm-leaderboard/org__nobody-details", api=hub.api, dest=tmp_path / "n")
    assert f"Fetching the details dataset open-llm-leaderboard/org__nobody-details from {hub.url}" in caplog.text


def test_offline_lineage_errors_suggest_what_every_command_can_do(tmp_path):
    from hub_lineage.errors import HubUnavailableError

    with pytest.raises(HubUnavailableError) as info:
        HubClient(offline=True, cache_dir=tmp_path).direct_parents("org/unknown")
    assert "hub-lineage ingest" in str(info.value) and "Pass an edge list (--edges FILE)" not in str(info.value)
