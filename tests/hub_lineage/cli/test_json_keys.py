"""One name per thing across commands' --json (issue 13, docs/json.md): a measured score is
``observed`` everywhere, the old names stay as aliases with the same value until 0.3.0, a stated
``weight`` and a prediction's ``influence`` are different numbers, and issue contracts keep their keys."""

from __future__ import annotations

import json

import pytest
from cli_runner import run_main
from tiny_predictor import tiny_predictor_dir

from mergekit_hooks.cli import main as preflight_main

RECIPE = """merge_method: linear
models:
  - model: alpha/ft-0
    parameters: {weight: 0.5}
  - model: beta/ft-0
    parameters: {weight: 0.5}
dtype: float16
"""


@pytest.fixture(scope="module")
def predictor_dir(tmp_path_factory):
    return tiny_predictor_dir(tmp_path_factory.mktemp("predictor"))


def _json(argv, capsys, main=None):
    code, out, err = run_main(argv, capsys, main) if main else run_main(argv, capsys)
    assert code == 0, err
    return json.loads(out)


def test_predict_names_measured_scores_observed_with_the_old_aliases_equal(predictor_dir, capsys):
    for model in ("alpha/ft-0", "alpha/mid-unscored"):  # scored: a dict; never scored: null
        out = _json(["predict", model, "--json", "--offline", "--predictor", str(predictor_dir)], capsys)
        assert "observed" in out and out["actual"] == out["observed"]
        assert (out["observed"] is None) == (model == "alpha/mid-unscored")
        assert out["drivers"]
        for d in out["drivers"]:
            assert set(d) >= {"model", "relation", "hops", "influence", "observed"}
            assert d["scores"] == d["observed"] and d["observed"]  # drivers are scored relatives


def test_rank_bases_names_the_candidates_own_scores_candidate_observed(predictor_dir, capsys):
    out = _json(["rank-bases", "alpha/base", "alpha/mid-unscored", "--json", "--offline",
                 "--predictor", str(predictor_dir)], capsys)
    rows = {r["candidate"]: r for r in out["ranking"]}
    assert rows["alpha/base"]["candidate_observed"]["bbh"] > 0
    assert rows["alpha/mid-unscored"]["candidate_observed"] is None
    for r in rows.values():
        assert r["candidate_actual"] == r["candidate_observed"]


def test_preflight_parents_state_weight_and_observed_unlike_predicts_influence(predictor_dir, tmp_path, capsys):
    recipe = tmp_path / "merge.yml"
    recipe.write_text(RECIPE)
    pre = _json([str(recipe), "--predictor", str(predictor_dir), "--json"], capsys, preflight_main)
    parents = {p["model"]: p for p in pre["recipes"][0]["parents"]}
    assert {m: p["weight"] for m, p in parents.items()} == {"alpha/ft-0": 0.5, "beta/ft-0": 0.5}
    pred = _json(["predict", "--recipe", str(recipe), "--json", "--offline", "--predictor", str(predictor_dir)],
                 capsys)
    drivers = {d["model"]: d for d in pred["drivers"]}
    for model, p in parents.items():
        assert p["observed"] == drivers[model]["observed"]  # the same measured scores, the same name
    # every parent scored: each parent's influence is its stated (normalised) weight
    assert [drivers[m]["influence"] for m in parents] == [p["weight"] for p in parents.values()]
    for b, iv in pred["predicted"].items():  # predict rounds to 4 decimals, preflight to 6 digits
        assert iv == pytest.approx(pre["recipes"][0]["predicted"][b], abs=1e-4)
    # a never-evaluated parent has a stated weight but passes its pull on to scored relatives: two numbers
    recipe.write_text(RECIPE.replace("alpha/ft-0", "alpha/mid-unscored"))
    pre = _json([str(recipe), "--predictor", str(predictor_dir), "--json"], capsys, preflight_main)
    assert [p["weight"] for p in pre["recipes"][0]["parents"]] == [0.5, 0.5]
    pred = _json(["predict", "--recipe", str(recipe), "--json", "--offline", "--predictor", str(predictor_dir)],
                 capsys)
    influence = {d["model"]: d["influence"] for d in pred["drivers"]}
    assert "alpha/mid-unscored" not in influence and any(m.startswith("alpha/") for m in influence)


def test_fit_json_keeps_its_contract_exactly():
    # the edge counts fit now explains go to its table, not into its JSON (issue 12's contract)
    from hub_lineage.cli.commands.fit import describe

    meta = {"n_models": 1, "n_nodes": 2, "params": {}, "validation": {}, "seconds": 1.0, "n_edges": 5}
    assert set(describe(meta)) == {"models", "nodes", "params", "validation", "seconds"}
