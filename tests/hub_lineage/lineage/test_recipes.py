"""Recipes -> hypothetical lineage nodes: parents agree with mergekit, shares follow the documented rules."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest
import yaml

from hub_lineage.errors import DataFormatError, InvalidInputError
from hub_lineage.lineage.edges import Relation
from hub_lineage.lineage.recipes import MAX_RECIPE_BYTES, load_recipe, parse_recipe

RECIPES = Path(__file__).resolve().parents[2] / "fixtures" / "recipes"
ALL = sorted(RECIPES.glob("*.yml"))
QWEN = "Qwen/Qwen2.5-7B"
ROMBOS = "rombodawg/Rombos-LLM-V2.5-Qwen-7b"
CYBER = "fblgit/cybertron-v4-qw7B-MGS"


def shares(recipe) -> dict[str, float]:
    return {p.model: round(p.weight, 4) for p in recipe.parents}


@pytest.fixture(scope="module")
def merge_configuration():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*numpy\.core.*", category=DeprecationWarning)
        from mergekit.config import MergeConfiguration
    return MergeConfiguration


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_parents_agree_with_mergekit_referenced_models(path, merge_configuration):
    recipe = load_recipe(path)
    cfg = merge_configuration.model_validate(yaml.safe_load(path.read_text()))
    assert recipe.referenced_models() == sorted(str(r) for r in cfg.referenced_models())
    assert sorted(p.model for p in recipe.parents) == sorted({r.model.path for r in cfg.referenced_models()})
    assert recipe.base_model == (cfg.base_model.model.path if cfg.base_model else None)
    assert recipe.method.name == cfg.merge_method
    assert math.isclose(sum(p.weight for p in recipe.parents), 1.0)
    assert all(p.weight >= 0 for p in recipe.parents)


def test_ties_base_plus_task_vectors():
    r = load_recipe(RECIPES / "ties_qwen.yml")
    # normalised weights 0.5/0.5, density 0.5 (no rescale) -> c = 0.25 each; base 1 - 0.5
    assert shares(r) == {QWEN: 0.5, ROMBOS: 0.25, CYBER: 0.25}
    assert [p.model for p in r.parents if p.is_base] == [QWEN]
    edges = r.edges()
    assert {e.parent for e in edges} == {QWEN, ROMBOS, CYBER}
    assert all(e.child == r.name and e.relation is Relation.MERGE for e in edges)


def test_rescaled_task_vectors_give_the_base_its_floor():
    r = load_recipe(RECIPES / "dare_ties.yml")  # rescale: c = 0.6, 0.4; base floor 0.1, then /1.1
    assert shares(r) == {QWEN: round(0.1 / 1.1, 4), ROMBOS: round(0.6 / 1.1, 4), CYBER: round(0.4 / 1.1, 4)}


def test_task_arithmetic_uses_lambda_and_raw_weights():
    r = load_recipe(RECIPES / "task_arithmetic.yml")
    assert shares(r) == {QWEN: 0.2, "Qwen/Qwen2.5-7B-Instruct": 0.56, CYBER: 0.24}


def test_linear_normalises_weights_and_nuslerp_without_base_too():
    assert shares(load_recipe(RECIPES / "linear.yml")) == {ROMBOS: 0.75, CYBER: 0.25}
    assert shares(load_recipe(RECIPES / "nuslerp.yml")) == {ROMBOS: 0.75, CYBER: 0.25}


def test_passthrough_shares_are_layer_counts():
    r = load_recipe(RECIPES / "passthrough.yml")
    assert shares(r) == {"Qwen/Qwen2.5-7B-Instruct": 0.625, CYBER: 0.375}


def test_slerp_conditional_gradient_averages_to_its_mean():
    assert shares(load_recipe(RECIPES / "slerp_slices.yml")) == {
        "Qwen/Qwen2.5-7B-Instruct": 0.5, ROMBOS: 0.5}
    text = f"models:\n  - model: {QWEN}\n  - model: {ROMBOS}\nmerge_method: slerp\nbase_model: {QWEN}\n"
    assert shares(parse_recipe(text + "parameters:\n  t: [0, 0, 1]\n")) == {QWEN: 0.75, ROMBOS: 0.25}
    assert shares(parse_recipe(text + "parameters:\n  t: 0.3\n")) == {QWEN: 0.7, ROMBOS: 0.3}


def test_model_stock_assumes_a_typical_angle():
    r = load_recipe(RECIPES / "model_stock.yml")  # k=3, cos=0.5: t = 1.5/2 = 0.75 -> 0.25 each
    assert set(shares(r).values()) == {0.25}


def test_lora_and_revision_keep_the_reference_but_use_the_repo_as_parent():
    r = load_recipe(RECIPES / "della.yml")
    assert "fblgit/cybertron-v4-qw7B-MGS+some-org/a-lora" in r.referenced_models()
    assert CYBER in shares(r)


def test_dict_form_model_reference(merge_configuration):
    text = (f"models:\n  - model: {{model: {{path: {ROMBOS}, revision: abc}}}}\n    parameters: {{weight: 1}}\n"
            f"  - model: {CYBER}\n    parameters: {{weight: 1}}\nmerge_method: linear\n")
    cfg = merge_configuration.model_validate(yaml.safe_load(text))
    r = parse_recipe(text)
    assert r.referenced_models() == sorted(str(x) for x in cfg.referenced_models())
    assert shares(r) == {ROMBOS: 0.5, CYBER: 0.5}


# -- bad input -----------------------------------------------------------------------------------


def test_unknown_method_is_named_with_a_suggestion():
    with pytest.raises(InvalidInputError, match=r"x\.yml: unknown merge_method 'tie'.*Did you mean 'ties'"):
        parse_recipe(f"models:\n  - model: {QWEN}\nmerge_method: tie\n", source="x.yml")


@pytest.mark.parametrize("body,found", [
    (f"models:\n  - model: {QWEN}\nslices:\n  - sources:\n      - model: {QWEN}\n        layer_range: [0, 2]\n",
     "found 'models' and 'slices'"),
    ("base_model: a/b\n", "found none of them"),
])
def test_both_or_neither_models_and_slices(body, found):
    with pytest.raises(InvalidInputError, match=f"bad.yml: a recipe needs exactly one of .*{found}"):
        parse_recipe(body + "merge_method: passthrough\n", source="bad.yml")


def test_weights_summing_to_zero():
    text = (f"models:\n  - model: {ROMBOS}\n    parameters: {{weight: 0}}\n"
            f"  - model: {CYBER}\n    parameters: {{weight: 0}}\nmerge_method: linear\n")
    with pytest.raises(InvalidInputError, match="sum to zero"):
        parse_recipe(text, source="z.yml")
    ties = text.replace("linear", "ties") + f"base_model: {QWEN}\n"
    with pytest.raises(InvalidInputError, match="z.yml: the weights of 'ties' sum to zero"):
        parse_recipe(ties, source="z.yml")


def test_missing_weight_and_missing_base_are_named():
    with pytest.raises(InvalidInputError, match=f"model '{CYBER}' has no parameters.weight"):
        parse_recipe(f"models:\n  - model: {CYBER}\nmerge_method: linear\n")
    with pytest.raises(InvalidInputError, match="'slerp' needs a base_model"):
        parse_recipe(f"models:\n  - model: {CYBER}\n  - model: {ROMBOS}\nmerge_method: slerp\nparameters: {{t: 0.5}}\n")


def test_local_paths_need_a_hub_id(tmp_path):
    local = tmp_path / "my-model"
    local.mkdir()
    text = (f"models:\n  - model: {local}\n    parameters: {{weight: 1}}\n"
            f"  - model: {CYBER}\n    parameters: {{weight: 1}}\nmerge_method: linear\n")
    with pytest.raises(InvalidInputError, match=r"is a local path, not a Hub repo id.*--model-id"):
        parse_recipe(text)
    r = parse_recipe(text, model_ids={str(local): "me/my-model"})
    assert shares(r) == {"me/my-model": 0.5, CYBER: 0.5}
    with pytest.raises(InvalidInputError, match="'./relative/dir'"):
        parse_recipe(text.replace(str(local), "./relative/dir"))


def test_a_published_config_may_keep_its_local_paths_for_the_caller_to_drop():
    text = (f"models:\n  - model: ./my-dir\n    parameters: {{weight: 1}}\n"
            f"  - model: {CYBER}\n    parameters: {{weight: 3}}\nmerge_method: linear\n")
    assert shares(parse_recipe(text, keep_local_paths=True)) == {"./my-dir": 0.25, CYBER: 0.75}


def test_one_repo_referenced_twice_is_one_parent_with_the_summed_share():
    text = (f"models:\n  - model: {CYBER}@main\n    parameters: {{weight: 1}}\n"
            f"  - model: {CYBER}+org/lora\n    parameters: {{weight: 1}}\n"
            f"  - model: {ROMBOS}\n    parameters: {{weight: 2}}\nmerge_method: linear\n")
    r = parse_recipe(text)
    assert r.shares() == {CYBER: 0.5, ROMBOS: 0.5}
    assert [(e.parent, e.weight) for e in r.edges()] == [(CYBER, 0.5), (ROMBOS, 0.5)]


def test_oversized_recipe_is_refused(tmp_path):
    big = tmp_path / "big.yml"
    big.write_text("# " + "x" * MAX_RECIPE_BYTES + "\nmerge_method: linear\n")
    with pytest.raises(DataFormatError, match="larger than"):
        load_recipe(big)


def test_alias_bomb_and_deep_nesting_are_refused():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefghijklmnopqrst", "bcdefghijklmnopqrstu"))
    with pytest.raises(DataFormatError, match="too many aliases"):
        parse_recipe(bomb)
    with pytest.raises(DataFormatError, match="too deep"):
        parse_recipe("a: " + "[" * 200 + "]" * 200)


def test_unsafe_tags_and_non_mappings_are_refused():
    with pytest.raises(DataFormatError, match="not valid YAML"):
        parse_recipe("!!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(DataFormatError, match="a YAML mapping"):
        parse_recipe("- just\n- a list\n")
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_recipe("/nonexistent/recipe.yml")


def test_mergekit_runtime_error_becomes_a_message_naming_the_file():
    from mergekit_hooks.bridge import merge_configuration

    text = f"models:\n  - model: {QWEN}\nslices:\n  - sources:\n      - model: {QWEN}\n        layer_range: [0, 2]\n"
    with pytest.raises(InvalidInputError, match="both.yml: mergekit rejects the recipe: Exactly one of"):
        merge_configuration(text + "merge_method: passthrough\n", "both.yml")
    cfg = merge_configuration((RECIPES / "ties_qwen.yml").read_text(), "ties_qwen.yml")
    assert cfg.merge_method == "ties"
