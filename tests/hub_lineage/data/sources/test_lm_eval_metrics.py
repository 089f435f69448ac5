"""hub_lineage.data.sources.lm_eval_metrics: leaderboard defaults, user mappings, the non-binary policy."""

from __future__ import annotations

import pytest

from hub_lineage.data.sources.lm_eval_metrics import MetricChoice, MetricMap
from hub_lineage.errors import DataFormatError, InvalidInputError


@pytest.mark.parametrize("task, metric", [
    ("leaderboard_bbh_navigate", "acc_norm"),
    ("leaderboard_bbh_boolean_expressions", "acc_norm"),
    ("leaderboard_gpqa_diamond", "acc_norm"),
    ("leaderboard_musr_murder_mysteries", "acc_norm"),
    ("leaderboard_math_algebra_hard", "exact_match"),
    ("leaderboard_math_precalculus_hard", "exact_match"),
    ("leaderboard_mmlu_pro", "acc"),
    ("leaderboard_ifeval", "prompt_level_strict_acc"),
])
def test_leaderboard_defaults(task: str, metric: str) -> None:
    # the defaults win even when the samples carry other metrics first
    choice = MetricMap().choose(task, ["acc", "acc_norm", "exact_match", "prompt_level_strict_acc"])
    assert choice == MetricChoice(metric)


def test_fallback_and_unknown_tasks() -> None:
    assert MetricMap().rule_for("my_task") is None
    assert MetricMap().choose("my_task", ["bleu", "acc"]).metric == "acc"
    with pytest.raises(DataFormatError, match=r"my_task.*bleu.*--metric my_task=METRIC"):
        MetricMap().choose("my_task", ["bleu"])


def test_user_mapping_globs_filters_and_precedence() -> None:
    metrics = MetricMap.from_options(["gsm8k*=exact_match,strict-match", "leaderboard_bbh_*=acc"])
    assert metrics.choose("gsm8k_cot", []) == MetricChoice("exact_match", "strict-match")
    assert str(metrics.choose("gsm8k", [])) == "exact_match,strict-match"
    assert metrics.choose("leaderboard_bbh_navigate", ["acc_norm"]).metric == "acc"  # the user's rule first
    assert metrics.choose("leaderboard_gpqa_main", []).metric == "acc_norm"
    for bad in ["no-equals", "=acc", "task="]:
        with pytest.raises(InvalidInputError, match="TASK=METRIC"):
            MetricMap.from_options([bad])


def test_binary_values_and_non_binary_refused_unless_told() -> None:
    strict = MetricMap()
    assert [strict.convert(v, "t", "acc") for v in (True, False, 1, 0.0, [1.0], "1")] == [1.0, 0.0, 1.0, 0.0, 1.0, 1.0]
    assert strict.convert(None, "t", "acc") is None and strict.convert(float("nan"), "t", "acc") is None
    with pytest.raises(DataFormatError, match=r"non-binary 'bleu' value 0\.4.*--non-binary fraction"):
        strict.convert(0.4, "t", "bleu")
    assert MetricMap(non_binary="fraction").convert(0.4, "t", "bleu") == 0.4
    with pytest.raises(DataFormatError, match="non-binary"):
        MetricMap(non_binary="fraction").convert(3.5, "t", "perplexity")  # outside [0, 1]
    at = MetricMap(non_binary="threshold=0.5")
    assert (at.convert(0.5, "t", "f1"), at.convert(0.49, "t", "f1"), at.convert(7.0, "t", "f1")) == (1.0, 0.0, 1.0)
    for bad in ("threshold=x", "sometimes"):
        with pytest.raises(InvalidInputError, match=repr(bad)):
            MetricMap(non_binary=bad)
