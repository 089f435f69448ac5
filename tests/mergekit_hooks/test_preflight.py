"""Preflight: predictions with intervals, parents' own scores, gates and ranking, against a fitted predictor."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub_lineage.benchmarks import BENCHMARK_KEYS
from hub_lineage.errors import InvalidInputError, NoLineageError
from mergekit_hooks.preflight import Gate, gate_interval, parse_gate, predict_recipe, preflight

from preflight_data import CYBER, QWEN, ROMBOS, UNSCORED

RECIPES = Path(__file__).resolve().parents[1] / "fixtures" / "recipes"
TIES = RECIPES / "ties_qwen.yml"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_parse_gate_reads_all_comparisons_and_refuses_unknown_benchmarks():
    assert parse_gate("bbh>=0.45", BENCHMARK_KEYS) == Gate("bbh", ">=", 0.45)
    assert parse_gate(" MATH < 2e-1 ", BENCHMARK_KEYS) == Gate("math", "<", 0.2)
    assert parse_gate("mean>0.3", BENCHMARK_KEYS).bench == "mean"
    with pytest.raises(InvalidInputError, match=r"Unknown benchmark 'bhh'.*ifeval, bbh, math, gpqa, musr, mmlu_pro"):
        parse_gate("bhh>=0.4", BENCHMARK_KEYS)
    with pytest.raises(InvalidInputError, match="not of the form BENCH>=X"):
        parse_gate("bbh=0.4", BENCHMARK_KEYS)


def test_ties_recipe_predicts_six_benchmarks_with_parents_observed_scores(fitted):
    predictor, _, scores = fitted
    [result] = preflight([TIES], predictor)
    assert set(result.prediction.predicted) == set(BENCHMARK_KEYS)
    for iv in result.prediction.predicted.values():
        assert 0.0 <= iv.low <= iv.mean <= iv.high <= 1.0
    by_model = {p.model: p for p in result.parents}
    assert set(by_model) == {QWEN, ROMBOS, CYBER}
    for model, parent in by_model.items():
        assert parent.observed == pytest.approx(dict(zip(BENCHMARK_KEYS, scores[model])), abs=1e-6)
    assert result.passed and result.prediction.unknown_parents == []
    # the merge sits among its parents, not somewhere unrelated
    bbh = [scores[m][1] for m in by_model]
    assert min(bbh) - 0.1 <= result.score("bbh") <= max(bbh) + 0.1


def test_json_contract(fitted):
    predictor, _, _ = fitted
    [result] = preflight([TIES], predictor, gates=[Gate("bbh", ">=", 0.0)])
    out = result.to_json()
    assert out["recipe"] == str(TIES) and out["passed"] is True
    assert set(out["predicted"]) == set(BENCHMARK_KEYS)
    assert all(set(v) == {"mean", "low", "high"} for v in out["predicted"].values())
    assert [set(p) >= {"model", "weight", "observed"} for p in out["parents"]] == [True] * 3
    assert sum(p["weight"] for p in out["parents"]) == pytest.approx(1.0)


def test_gates_pass_and_fail_and_strict_uses_the_interval(fitted):
    predictor, _, _ = fitted
    [r] = preflight([TIES], predictor)
    bbh = r.prediction.predicted["bbh"]
    [ok] = preflight([TIES], predictor, gates=[Gate("bbh", ">=", bbh.mean - 1e-6)])
    [bad] = preflight([TIES], predictor, gates=[Gate("bbh", ">=", 0.99)])
    [strict] = preflight([TIES], predictor, gates=[Gate("bbh", ">=", bbh.mean - 1e-6)], strict=True)
    assert ok.passed and not bad.passed
    assert strict.passed is (bbh.low >= bbh.mean - 1e-6)
    assert not strict.passed  # an interval has width
    [mean_gate] = preflight([TIES], predictor, gates=[Gate("mean", "<", 0.0)])
    assert not mean_gate.passed


def test_strict_judges_a_mean_gate_on_the_mean_interval(fitted):
    predictor, _, _ = fitted
    [r] = preflight([TIES], predictor)
    mean = gate_interval(r.prediction.predicted, "mean")
    n = len(BENCHMARK_KEYS)
    assert mean.mean == pytest.approx(r.score("mean"))
    assert mean.low == pytest.approx(sum(iv.low for iv in r.prediction.predicted.values()) / n)
    assert mean.high == pytest.approx(sum(iv.high for iv in r.prediction.predicted.values()) / n)
    assert mean.low < mean.mean < mean.high
    for gate in (Gate("mean", ">=", mean.mean - 1e-6), Gate("mean", "<", mean.mean + 1e-6)):
        [loose] = preflight([TIES], predictor, gates=[gate])
        [strict] = preflight([TIES], predictor, gates=[gate], strict=True)
        assert loose.passed and not strict.passed, gate  # the pessimistic end crosses the threshold


def test_rank_by_a_benchmark_and_the_mean(fitted, tmp_path):
    predictor, _, _ = fitted
    low = write(tmp_path, "low.yml", "models:\n  - model: tiny/llama-a\n    parameters: {weight: 1}\n"
                "  - model: tiny/llama-b\n    parameters: {weight: 1}\nmerge_method: linear\n")
    results = preflight([low, TIES], predictor, rank_by="bbh")
    assert [r.recipe.path for r in results] == [str(TIES), str(low)]
    assert results[0].score("bbh") > results[1].score("bbh")
    assert [r.recipe.path for r in preflight([low, TIES], predictor, rank_by="mean")][0] == str(TIES)
    with pytest.raises(InvalidInputError, match="Unknown benchmark 'nope' in --rank-by"):
        preflight([TIES], predictor, rank_by="nope")


def test_unknown_parents_widen_the_interval_and_all_unknown_refuses(fitted, tmp_path):
    predictor, _, _ = fitted
    body = ("models:\n  - model: {a}\n    parameters: {{weight: 1}}\n"
            "  - model: {b}\n    parameters: {{weight: 1}}\nmerge_method: linear\n")
    only_known = predict_recipe(write(tmp_path, "known.yml", body.format(a=ROMBOS, b=CYBER)), predictor)
    partly = predict_recipe(write(tmp_path, "partly.yml", body.format(a=ROMBOS, b="nobody/never-heard-of")), predictor)
    assert only_known.unknown_parents == [] and partly.unknown_parents == ["nobody/never-heard-of"]
    width = {name: p.predicted["bbh"].high - p.predicted["bbh"].low
             for name, p in (("known", only_known), ("partly", partly))}
    assert width["partly"] > width["known"]
    nothing = write(tmp_path, "nothing.yml", body.format(a="nobody/a", b="nobody/b"))
    with pytest.raises(NoLineageError, match=r"nothing.yml: none of the recipe's parents \(nobody/a, nobody/b\)"):
        predict_recipe(nothing, predictor)


def test_unevaluated_parent_is_predicted_and_marked(fitted, tmp_path):
    predictor, _, _ = fitted
    path = write(tmp_path, "u.yml", f"models:\n  - model: {UNSCORED}\n    parameters: {{weight: 1}}\n"
                 f"  - model: {CYBER}\n    parameters: {{weight: 1}}\nmerge_method: linear\n")
    [r] = preflight([path], predictor)
    parent = next(p for p in r.parents if p.model == UNSCORED)
    assert parent.observed is None and set(parent.predicted) == set(BENCHMARK_KEYS)
    out = next(p for p in r.to_json()["parents"] if p["model"] == UNSCORED)
    assert out["observed"] is None and set(out["predicted"]["bbh"]) == {"mean", "low", "high"}


def test_the_numpy_free_predictor_gives_the_same_preflight(fitted):
    """`mergekit-preflight` asks hub_lineage.predict.light's predictor first: every recipe fixture
    gets the same predictions, parents, gates and ranking from it as from the numpy Predictor."""
    import math
    import warnings

    from hub_lineage.predict.light import HandBack, LightPredictor
    from hub_lineage.predict.predictor import Predictor

    _, directory, _ = fitted
    full, light = Predictor.load(directory), LightPredictor(directory)
    recipes = sorted(str(p) for p in RECIPES.glob("*.yml"))
    gates = [parse_gate("bbh>=0.3", full.benchmarks), parse_gate("mean>=0.2", full.benchmarks)]
    answered = 0
    for recipe in recipes:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = preflight([recipe], full, gates=gates, rank_by="bbh")
            try:
                got = preflight([recipe], light, gates=gates, rank_by="bbh")
            except HandBack:
                continue
        answered += 1
        a, b = want[0].to_json(), got[0].to_json()
        assert (b["passed"], b["gates"], b["parents"], b["unknown_parents"]) == \
               (a["passed"], a["gates"], a["parents"], a["unknown_parents"]), recipe
        for bench, iv in a["predicted"].items():
            for end, value in iv.items():
                assert math.isclose(b["predicted"][bench][end], value, abs_tol=1e-6), (recipe, bench, end)
    assert answered == len(recipes)
