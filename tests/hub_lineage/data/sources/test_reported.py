"""Reported results (model-index, .eval_results) mapped to the leaderboard's benchmarks, strictly."""

from __future__ import annotations

import pytest

from hub_lineage.data.sources.reported import (
    LEADERBOARD_SOURCE,
    SELF_REPORTED,
    ReportedScore,
    from_eval_results,
    from_model_index,
    unambiguous,
)

LB_URL = "https://huggingface.co/spaces/open-llm-leaderboard/open_llm_leaderboard?query=o/m"


def _result(dtype, metric, value, shots=None, source=None):
    dataset = {"name": dtype, "type": dtype, **({"args": {"num_few_shot": shots}} if shots is not None else {})}
    out = {"task": {"type": "text-generation"}, "dataset": dataset, "metrics": [{"type": metric, "value": value}]}
    if source:
        out["source"] = {"name": source, "url": LB_URL if "Leaderboard" in source else "https://example.org"}
    return out


def test_model_index_leaderboard_values_go_back_to_accuracy_and_self_reported_stay():
    card = {"model-index": [{"name": "o/m", "results": [
        _result("TIGER-Lab/MMLU-Pro", "acc", 30.0, 5, "Open LLM Leaderboard"),  # normalised: 0.1 + 0.9 * 0.3
        _result("Idavidrein/gpqa", "acc_norm", 0.31),  # self-reported accuracy
        _result("HuggingFaceH4/ifeval", "inst_level_strict_acc and prompt_level_strict_acc", 55.0),  # a percentage
        _result("TIGER-Lab/MMLU-Pro", "exact_match", 0.5),  # another metric: not the leaderboard's setup
        _result("BBH", "acc_norm", 0.6, shots=0),  # another few-shot count: left out
        _result("cais/mmlu", "acc", 0.7),  # not a project benchmark
    ]}]}
    got = {s.benchmark: (round(s.value, 4), s.source) for s in from_model_index("o/m", card)}
    assert got == {"mmlu_pro": (0.37, LEADERBOARD_SOURCE), "gpqa": (0.31, SELF_REPORTED),
                   "ifeval": (0.55, SELF_REPORTED)}
    assert from_model_index("o/m", None) == [] and from_model_index("o/m", {"license": "mit"}) == []


def test_our_own_predictions_in_model_index_are_never_observations():
    card = {"model-index": [{"name": "o/m", "results": [
        _result("Idavidrein/gpqa", "acc_norm", 12.0, 0, "Lineage prediction by hub-lineage 0.1 (predicted, not evaluated)")]}]}
    assert from_model_index("o/m", card) == []


def test_eval_results_need_the_leaderboard_task_id():
    files = {".eval_results/lb.yaml": [
        {"dataset": {"id": "Idavidrein/gpqa", "task_id": "leaderboard_gpqa"}, "value": 0.3},
        {"dataset": {"id": "Idavidrein/gpqa", "task_id": "gpqa_diamond"}, "value": 0.5},  # a subset: ambiguous
        {"dataset": {"id": "TIGER-Lab/MMLU-Pro", "task_id": "leaderboard_mmlu_pro"}, "value": 40.0,
         "source": {"url": LB_URL, "name": "Open LLM Leaderboard"}},
    ], ".eval_results/broken.yaml": {"not": "a list"}}
    got = {s.benchmark: (round(s.value, 4), s.source, s.origin) for s in from_eval_results("o/m", files)}
    assert got == {"gpqa": (0.3, SELF_REPORTED, ".eval_results/lb.yaml"),
                   "mmlu_pro": (0.46, LEADERBOARD_SOURCE, ".eval_results/lb.yaml")}


def test_conflicting_values_are_dropped_and_repeats_collapse():
    a = ReportedScore("o/m", "bbh", 0.5, SELF_REPORTED, "README.md (model-index)")
    b = ReportedScore("o/m", "bbh", 0.5001, LEADERBOARD_SOURCE, ".eval_results/x.yaml")
    c = ReportedScore("o/m", "gpqa", 0.3, SELF_REPORTED, "README.md (model-index)")
    d = ReportedScore("o/m", "gpqa", 0.4, SELF_REPORTED, ".eval_results/x.yaml")
    assert unambiguous([a, b, c, d]) == [b]


@pytest.mark.parametrize("value", ["n/a", None, 250.0, -3])
def test_unreadable_values_are_skipped(value):
    card = {"model-index": [{"name": "o/m", "results": [_result("Idavidrein/gpqa", "acc_norm", value)]}]}
    assert from_model_index("o/m", card) == []


def test_fallback_parser_reads_what_huggingface_hubs_parser_reads():
    """Older huggingface_hub versions lack the .eval_results parser: ours gives the same fields."""
    from huggingface_hub import parse_eval_result_entries

    from hub_lineage.data.sources.reported import parse_entries_fallback

    data = [{"dataset": {"id": "Idavidrein/gpqa", "task_id": "leaderboard_gpqa"}, "value": 0.3,
             "source": {"url": LB_URL, "name": "Open LLM Leaderboard"}},
            {"data": {"dataset": {"id": "cais/hle", "task_id": "default"}, "value": 20.9}},
            {"error": "invalid", "filename": "bad.yaml"}]
    fields = ("dataset_id", "task_id", "value", "source_name", "source_url")
    ours = [tuple(getattr(e, f) for f in fields) for e in parse_entries_fallback(data)]
    theirs = [tuple(getattr(e, f) for f in fields) for e in parse_eval_result_entries(data)]
    assert ours == theirs and len(ours) == 2
