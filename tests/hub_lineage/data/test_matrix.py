"""ObservationMatrix: missing stays missing, counts weight aggregates, bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest

from hub_lineage.benchmarks import BENCHMARK_KEYS, benchmark_of_task
from hub_lineage.errors import InvalidInputError
from hub_lineage.data.matrix import ObservationMatrix, combine

NAN = np.nan


def small() -> ObservationMatrix:
    return ObservationMatrix(
        models=["a/x", "b/y"],
        items=["bbh/1", "bbh/2", "gpqa/1"],
        values=[[1, 0, NAN], [NAN, 1, 0]],
        item_benchmarks=["bbh", "bbh", "gpqa"],
    )


def test_missing_cells_stay_missing_and_index_maps_agree():
    m = small()
    assert m.n_observed == 4
    assert m.mask.tolist() == [[True, True, False], [False, True, True]]
    assert m.model_index["b/y"] == 1 and m.item_index["gpqa/1"] == 2
    assert list(m.benchmark_items("bbh")) == [0, 1]
    assert sorted(m.to_records()) == [("a/x", "bbh/1", 1.0), ("a/x", "bbh/2", 0.0),
                                      ("b/y", "bbh/2", 1.0), ("b/y", "gpqa/1", 0.0)]


def test_benchmark_scores_weight_by_instance_count_and_ignore_missing():
    m = ObservationMatrix(["a/x"], ["bbh", "bbh/extra", "gpqa"], [[0.5, 1.0, NAN]],
                          ["bbh", "bbh", "gpqa"], item_counts=[3, 1, 1])
    scores = m.benchmark_scores()
    assert scores[0, 0] == pytest.approx((0.5 * 3 + 1.0) / 4)
    assert np.isnan(scores[0, 1])


@pytest.mark.parametrize("bad", [1.5, -0.1, np.inf])
def test_out_of_range_values_are_refused_with_the_value_named(bad):
    with pytest.raises(InvalidInputError, match="out of range"):
        ObservationMatrix(["a/x"], ["i"], [[bad]], ["b"])


def test_shape_mismatch_and_duplicates_are_refused():
    with pytest.raises(InvalidInputError, match="shape"):
        ObservationMatrix(["a/x"], ["i", "j"], [[1.0]], ["b", "b"])
    with pytest.raises(InvalidInputError, match="Duplicate model id 'a/x'"):
        ObservationMatrix(["a/x", "a/x"], ["i"], [[1.0], [0.0]], ["b"])
    with pytest.raises(InvalidInputError, match="item_counts"):
        ObservationMatrix(["a/x"], ["i"], [[1.0]], ["b"], item_counts=[0])


def test_from_records_last_value_wins_and_unknown_item_is_named():
    m = ObservationMatrix.from_records(
        [("a/x", "i", 0.0), ("b/y", "j", 1.0), ("a/x", "i", 1.0)], {"i": "b", "j": "b"})
    assert m.models == ["a/x", "b/y"]
    assert m.values[0, 0] == 1.0 and np.isnan(m.values[0, 1])
    with pytest.raises(InvalidInputError, match="'zzz'"):
        ObservationMatrix.from_records([("a/x", "zzz", 1.0)], {"i": "b"})


def test_select_and_without_models_keep_alignment():
    m = small()
    held = m.without_models(["a/x"])
    assert held.models == ["b/y"] and held.values.tolist()[0][1] == 1.0
    cols = m.select_items(m.benchmark_items("gpqa"))
    assert cols.items == ["gpqa/1"] and cols.item_benchmarks == ["gpqa"]
    with pytest.raises(InvalidInputError, match="'nope/z'"):
        m.select_models(["nope/z"])


def test_combine_unions_models_and_items_without_inventing_zeros():
    left = small()
    right = ObservationMatrix(["c/z", "a/x"], ["bbh"], [[0.4], [0.6]], ["bbh"], item_counts=[5761],
                              model_meta={"c/z": {"architecture": "LlamaForCausalLM"}})
    both = combine([left, right])
    assert both.models == ["a/x", "b/y", "c/z"]
    assert both.items == ["bbh/1", "bbh/2", "gpqa/1", "bbh"]
    assert np.isnan(both.values[both.model_index["c/z"], :3]).all()
    assert both.values[0, 3] == pytest.approx(0.6)
    assert both.item_counts[3] == 5761
    assert both.model_meta["c/z"]["architecture"] == "LlamaForCausalLM"


def test_benchmark_names_and_task_mapping():
    assert BENCHMARK_KEYS == ("ifeval", "bbh", "math", "gpqa", "musr", "mmlu_pro")
    assert benchmark_of_task("leaderboard_bbh_navigate") == "bbh"
    assert benchmark_of_task("leaderboard_math_algebra_hard") == "math"
    assert benchmark_of_task("leaderboard_mmlu_pro") == "mmlu_pro"
    assert benchmark_of_task("my_task") == "my_task"
