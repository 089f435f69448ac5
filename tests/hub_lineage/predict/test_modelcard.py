"""Opt-in model-index predictions: huggingface_hub reads them, existing bytes never change, real
results are never shadowed, and values are on the leaderboard's normalised 0-100 scale."""

from __future__ import annotations

import pytest
import yaml
from huggingface_hub import ModelCard

from hub_lineage.errors import DataFormatError
from hub_lineage.predict.modelcard import SOURCE_PREFIX, add_predictions
from hub_lineage.predict.prediction import Driver, Interval, Prediction

VERSION = "0.1.0+abcdef12"


def _prediction(model: str = "ZeroXClem/Qwen2.5-7B-HomerAnvita-NerdMix") -> Prediction:
    predicted = {"ifeval": Interval(0.58, 0.30, 0.86), "bbh": Interval(0.5377, 0.4761, 0.5999),
                 "mmlu_pro": Interval(0.4215, 0.3566, 0.4864)}
    return Prediction(model, predicted, None, [Driver("a/b", "merge", 1, 0.5)], [])


def _front(text: str) -> str:
    return text.split("---\n", 2)[1]


def _predicted_results(text: str) -> list:
    card = ModelCard(text, ignore_metadata_errors=False)
    return [r for r in card.data.eval_results or [] if (r.source_name or "").startswith(SOURCE_PREFIX)]


def test_existing_results_kept_byte_for_byte_and_second_run_is_a_no_op(card_fixtures):
    """The card has real (leaderboard) IFEval and BBH results: only MMLU-Pro is added."""
    original = (card_fixtures / "with_results" / "README.md").read_text()
    updated = add_predictions(original, _prediction(), model_name="ZeroXClem/Qwen2.5-7B-HomerAnvita-NerdMix",
                              predictor_version=VERSION)
    assert updated != original
    # everything before the insertion point and everything after it is untouched, comment included
    head, _, tail = original.partition("# a comment that must survive\n")
    assert updated.startswith(head)
    assert updated.endswith("# a comment that must survive\n" + tail)
    # huggingface_hub reads old and new results; the new ones are unverified predictions
    card = ModelCard(updated)
    results = card.data.eval_results
    assert [r.dataset_type for r in results[:2]] == ["HuggingFaceH4/ifeval", "BBH"]
    assert results[0].metric_value == 77.08 and results[1].metric_value == 36.58
    predicted = _predicted_results(updated)
    # MMLU-Pro accuracy 0.4215 on the leaderboard's scale (chance 0.1): 100 * 0.3215 / 0.9
    assert {r.dataset_type: r.metric_value for r in predicted} == {"TIGER-Lab/MMLU-Pro": 35.72}
    assert all(r.verified is False for r in predicted)
    assert all(VERSION in r.source_name and "predicted" in r.source_name for r in predicted)
    assert "90% interval 28.51-42.93" in predicted[0].metric_name and predicted[0].metric_type == "acc"
    # the new entries went into the existing model-index entry, not a second one
    data = yaml.safe_load(_front(updated))
    assert len(data["model-index"]) == 1 and len(data["model-index"][0]["results"]) == 3
    again = add_predictions(updated, _prediction(), model_name="ZeroXClem/Qwen2.5-7B-HomerAnvita-NerdMix",
                            predictor_version=VERSION)
    assert again == updated
    # another predictor version does not overwrite or duplicate the existing predictions either
    assert add_predictions(updated, _prediction(), model_name="x", predictor_version="9.9") == updated


def test_card_without_model_index_gets_one_and_keeps_other_keys(card_fixtures):
    original = (card_fixtures / "merge" / "README.md").read_text()
    updated = add_predictions(original, _prediction(), model_name="org/merged", predictor_version=VERSION)
    assert updated.startswith(original.split("\n---\n", 1)[0])  # old front matter bytes first
    assert updated.endswith(original.split("\n---\n", 1)[1])  # body untouched
    data = yaml.safe_load(_front(updated))
    assert data["base_model"][0] == "Qwen/Qwen2.5-7B"
    assert data["model-index"][0]["name"] == "org/merged"
    assert len(_predicted_results(updated)) == 3


def test_card_without_front_matter():
    body = "# My model\n\nNo metadata here.\n"
    updated = add_predictions(body, _prediction(), model_name="org/m", predictor_version=VERSION)
    assert updated.startswith("---\nmodel-index:\n") and updated.endswith("---\n" + body)
    assert len(_predicted_results(updated)) == 3


def test_other_model_index_entry_and_flow_style_are_extended_not_rewritten():
    flow = ("---\nmodel-index: [{name: other/model, results: [{task: {type: text-generation}, dataset: "
            "{name: X, type: x}, metrics: [{type: acc, value: 0.5}]}]}]\n---\nbody\n")
    updated = add_predictions(flow, _prediction(), model_name="org/m", predictor_version=VERSION)
    data = yaml.safe_load(_front(updated))
    assert data["model-index"][0]["name"] == "other/model"
    assert data["model-index"][0]["results"][0]["metrics"][0]["value"] == 0.5
    assert [e["name"] for e in data["model-index"]] == ["other/model"]
    # a single entry is treated as the model's own, so its results list gets the predictions
    assert len(data["model-index"][0]["results"]) == 4
    two = ("---\nmodel-index:\n- name: a/one\n  results: []\n- name: b/two\n  results:\n  - task: {type: t}\n"
           "    dataset: {name: D, type: d}\n    metrics: [{type: acc, value: 1}]\n---\n")
    updated = add_predictions(two, _prediction(), model_name="c/three", predictor_version=VERSION)
    data = yaml.safe_load(_front(updated))
    assert [e["name"] for e in data["model-index"]] == ["a/one", "b/two", "c/three"]
    assert updated.startswith(two.rsplit("---\n", 1)[0])


def test_empty_model_index_key_and_crlf_card():
    empty = "---\nlicense: mit\nmodel-index:\ntags: [a]\n---\n"
    data = yaml.safe_load(_front(add_predictions(empty, _prediction(), model_name="o/m", predictor_version=VERSION)))
    assert data["tags"] == ["a"] and len(data["model-index"][0]["results"]) == 3
    crlf = "---\r\nlicense: mit\r\n---\r\nbody\r\n"
    updated = add_predictions(crlf, _prediction(), model_name="o/m", predictor_version=VERSION)
    assert "\n" not in updated.replace("\r\n", "")
    assert updated.startswith("---\r\nlicense: mit\r\n") and updated.endswith("---\r\nbody\r\n")


@pytest.mark.parametrize("text", [
    "---\nlicense: [mit\n---\nbody\n",
    "---\n- just\n- a list\n---\n",
    "---\nmodel-index: {name: x}\n---\n",
])
def test_malformed_front_matter_raises(text):
    with pytest.raises(DataFormatError):
        add_predictions(text, _prediction(), model_name="o/m", predictor_version=VERSION)


def test_real_malformed_fixture_raises(card_fixtures):
    text = (card_fixtures / "malformed" / "README.md").read_text()
    with pytest.raises(DataFormatError, match="YAML"):
        add_predictions(text, _prediction(), model_name="o/m", predictor_version=VERSION)
