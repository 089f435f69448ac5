"""cards.py: every card form, tags, adapter and mergekit configs, and bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from hub_lineage.errors import DataFormatError, InvalidRepoIdError, LineageWarning
from hub_lineage.lineage import cards
from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.lineage.recipes import load_recipe

CARDS = Path(__file__).resolve().parents[2] / "fixtures" / "cards"


def _pairs(edges: list[Edge]) -> set[tuple[str, str, Relation, float | None]]:
    return {(e.child, e.parent, e.relation, e.weight) for e in edges}


def test_finetune_card():
    edges = cards.edges_from_card(CARDS / "finetune" / "README.md", "me/ultrachat-sft")
    assert _pairs(edges) == {("me/ultrachat-sft", "Qwen/Qwen2.5-7B-Instruct", Relation.FINETUNE, None)}


def test_adapter_card_infers_adapter_from_adapter_config_next_to_it():
    edges = cards.edges_from_card(CARDS / "adapter" / "README.md", "me/llama-gsm8k-lora")
    assert _pairs(edges) == {("me/llama-gsm8k-lora", "meta-llama/Llama-3.1-8B-Instruct", Relation.ADAPTER, None)}


def test_adapter_config_alone_gives_the_parent():
    text = (CARDS / "adapter" / "adapter_config.json").read_text()
    edges = cards.edges_from_repo("me/lora", files={"adapter_config.json": text})
    assert _pairs(edges) == {("me/lora", "meta-llama/Llama-3.1-8B-Instruct", Relation.ADAPTER, None)}


def test_gguf_card_is_inferred_quantized_from_the_repo_name_and_files():
    text = (CARDS / "gguf" / "README.md").read_text()
    by_name = cards.edges_from_repo("bartowski/Qwen2.5-7B-Instruct-GGUF", text)
    by_files = cards.edges_from_repo("someone/qwen-small", text, siblings=["README.md", "qwen-Q4_K_M.gguf"])
    plain = cards.edges_from_repo("someone/qwen-small", text)
    assert [e.relation for e in by_name] == [Relation.QUANTIZED]
    assert [e.relation for e in by_files] == [Relation.QUANTIZED]
    assert [e.relation for e in plain] == [Relation.FINETUNE]


def test_quantization_config_and_quant_tags_mean_quantized():
    card = "---\nbase_model: org/base\n---\n"
    config = '{"architectures": ["LlamaForCausalLM"], "quantization_config": {"bits": 4}}'
    assert cards.edges_from_repo("a/b", card, files={"config.json": config})[0].relation is Relation.QUANTIZED
    assert cards.edges_from_repo("a/b", card, tags=["awq"])[0].relation is Relation.QUANTIZED
    assert cards.edges_from_repo("a/b", card, tags=["text-generation"])[0].relation is Relation.FINETUNE


def test_mergekit_card_lists_every_parent_with_its_share():
    edges = cards.edges_from_card(CARDS / "merge" / "README.md", "me/Qwen2.5-7B-TIES-Blend")
    # ties, normalised weights 0.6/0.4 at density 0.5 -> task vectors 0.3/0.2, the base keeps 1 - 0.5
    assert {(e.child, e.parent, e.relation, round(e.weight, 6)) for e in edges} == {
        ("me/Qwen2.5-7B-TIES-Blend", "Qwen/Qwen2.5-7B", Relation.MERGE, 0.5),
        ("me/Qwen2.5-7B-TIES-Blend", "Qwen/Qwen2.5-7B-Instruct", Relation.MERGE, 0.3),
        ("me/Qwen2.5-7B-TIES-Blend", "Qwen/Qwen2.5-Math-7B", Relation.MERGE, 0.2),
    }


def test_a_published_mergekit_config_weighs_parents_as_predict_recipe_does():
    """One reader: the card route and ``predict --recipe`` give the same merge the same edges."""
    folder = CARDS / "merge"
    by_card = cards.edges_from_card(folder / "README.md", "me/blend")
    by_recipe = load_recipe(folder / "mergekit_config.yml").edges()
    assert {(e.parent, e.relation, e.weight) for e in by_card} == {(e.parent, e.relation, e.weight) for e in by_recipe}
    config = (folder / "mergekit_config.yml").read_text()
    config_only = cards.edges_from_repo("me/blend", files={"mergekit_config.yml": config})
    assert [(e.parent, e.weight) for e in config_only] == [(e.parent, e.weight) for e in by_recipe]


def test_mergekit_config_alone_and_slices():
    recipe = """
slices:
  - sources:
      - model: org/left
        layer_range: [0, 16]
      - model: org/right
        layer_range: [0, 16]
merge_method: slerp
base_model: org/left
parameters:
  t: 0.5
dtype: bfloat16
"""
    edges = cards.edges_from_repo("me/slerp", files={"mergekit_config.yml": recipe})
    assert _pairs(edges) == {("me/slerp", "org/left", Relation.MERGE, 0.5),
                             ("me/slerp", "org/right", Relation.MERGE, 0.5)}


def test_local_paths_in_a_published_mergekit_config_are_dropped_with_a_warning():
    recipe = ("models:\n  - model: /home/me/ckpt\n    parameters: {weight: 0.5}\n"
              "  - model: org/real\n    parameters: {weight: 0.5}\nmerge_method: linear\n")
    with pytest.warns(LineageWarning, match="'/home/me/ckpt'.*local path"):
        edges = cards.edges_from_repo("me/m", files={"mergekit_config.yml": recipe})
    assert _pairs(edges) == {("me/m", "org/real", Relation.MERGE, 0.5)}


@pytest.mark.parametrize("recipe,problem", [
    ("merge_method: ties\n", "exactly one of 'models'"),
    ("models: [a, b\n  - c: :", "not valid YAML"),
    ("models:\n  - model: org/a\nmerge_method: tie\n", "unknown merge_method 'tie'"),
])
def test_a_mergekit_config_that_breaks_the_recipe_rules_is_a_data_format_error(recipe, problem):
    with pytest.raises(DataFormatError, match=f"me/m/mergekit_config.yml: .*{problem}"):
        cards.edges_from_repo("me/m", files={"mergekit_config.yml": recipe})


def test_card_without_metadata_has_no_parents():
    assert cards.edges_from_card(CARDS / "no_metadata" / "README.md", "someone/my-first-model") == []


def test_malformed_yaml_names_the_file_and_the_problem():
    path = CARDS / "malformed" / "README.md"
    with pytest.raises(DataFormatError) as info:
        cards.edges_from_card(path, "me/broken")
    assert "malformed/README.md" in str(info.value) and "YAML" in str(info.value)


@pytest.mark.parametrize("value", ["{name: org/x}", "42", "[org/x, 3]", "true"])
def test_base_model_of_the_wrong_type_is_a_clear_error(value):
    with pytest.raises(DataFormatError, match="base_model .* must be a repo id string"):
        cards.edges_from_repo("me/model", f"---\nbase_model: {value}\n---\n")


def test_unknown_base_model_relation_is_refused():
    with pytest.raises(DataFormatError, match="base_model_relation"):
        cards.edges_from_repo("me/model", "---\nbase_model: a/b\nbase_model_relation: distilled\n---\n")


def test_explicit_relation_wins_over_inference():
    card = "---\nbase_model: [a/b, c/d]\nbase_model_relation: finetune\n---\n"
    assert {e.relation for e in cards.edges_from_repo("me/m", card)} == {Relation.FINETUNE}
    several = cards.edges_from_repo("me/m", "---\nbase_model: [a/b, c/d]\n---\n")
    assert {e.relation for e in several} == {Relation.MERGE}


def test_hub_tags_with_and_without_relation():
    tags = ["transformers", "base_model:org/base", "base_model:finetune:org/base",
            "base_model:org/other", "base_model:quantized:org/q", "base_model:adapter:org/a"]
    assert cards.parents_from_tags(tags) == {"org/base": Relation.FINETUNE, "org/other": None,
                                             "org/q": Relation.QUANTIZED, "org/a": Relation.ADAPTER}
    merge_tags = ["base_model:merge:org/x", "base_model:merge:org/y", "base_model:org/x", "base_model:org/y"]
    edges = cards.edges_from_repo("me/merged", tags=merge_tags)
    assert _pairs(edges) == {("me/merged", "org/x", Relation.MERGE, None), ("me/merged", "org/y", Relation.MERGE, None)}
    bare = cards.edges_from_repo("me/ft", tags=["base_model:org/x"])
    assert _pairs(bare) == {("me/ft", "org/x", Relation.FINETUNE, None)}


def test_precedence_card_over_tags_over_configs():
    adapter = '{"base_model_name_or_path": "org/from-config"}'
    card = "---\nbase_model: org/from-card\n---\n"
    tags = ["base_model:adapter:org/from-tags"]
    assert [e.parent for e in cards.edges_from_repo("me/m", card, tags, {"adapter_config.json": adapter})] == ["org/from-card"]
    assert [e.parent for e in cards.edges_from_repo("me/m", None, tags, {"adapter_config.json": adapter})] == ["org/from-tags"]
    only_config = cards.edges_from_repo("me/m", None, (), {"adapter_config.json": adapter})
    assert _pairs(only_config) == {("me/m", "org/from-config", Relation.ADAPTER, None)}


def test_card_data_from_the_hub_is_used_when_no_card_text():
    edges = cards.edges_from_repo("me/m", card_data={"base_model": "org/x", "base_model_relation": "adapter"})
    assert _pairs(edges) == {("me/m", "org/x", Relation.ADAPTER, None)}


@pytest.mark.parametrize("path", ["./checkpoints/run-3", "/data/models/llama", "~/models/x", "C:\\models\\x", "out/run/ckpt-100"])
def test_local_path_parents_are_dropped_with_a_warning_naming_them(path):
    with pytest.warns(LineageWarning, match="local path") as caught:
        edges = cards.edges_from_repo("me/m", f"---\nbase_model:\n- '{path}'\n- org/real\n---\n")
    assert [e.parent for e in edges] == ["org/real"]
    assert any(repr(path) in str(w.message) for w in caught)


def test_invalid_parent_ids_are_dropped_with_a_warning():
    with pytest.warns(LineageWarning, match="org--bad"):
        edges = cards.edges_from_repo("me/m", "---\nbase_model: [org--bad/x, org/ok]\n---\n")
    assert [e.parent for e in edges] == ["org/ok"]


@pytest.mark.parametrize("bad", ["", "a//b", "org/na me", "org/x..y", "-org/x", "a/b/c", "x" * 100])
def test_invalid_model_ids_raise(bad):
    with pytest.raises(InvalidRepoIdError, match="Invalid repo id"):
        cards.edges_from_repo(bad, "---\nbase_model: org/x\n---\n")


def test_card_text_inline_and_missing_card_file(tmp_path):
    edges = cards.edges_from_card("---\nbase_model: org/x\n---\n# inline", "me/m")
    assert [e.parent for e in edges] == ["org/x"]
    with pytest.raises(DataFormatError, match="does not exist"):
        cards.edges_from_card(tmp_path / "README.md", "me/m")


def test_parsing_a_card_does_not_import_mergekit_or_torch():
    import subprocess
    import sys

    code = ("import sys; from hub_lineage.lineage import cards; "
            f"cards.edges_from_card({str(CARDS / 'merge' / 'README.md')!r}, 'me/x'); "
            "print(sorted(m for m in ('torch', 'mergekit', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_warning_for_clean_cards():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("finetune", "adapter", "gguf", "merge", "no_metadata"):
            cards.edges_from_card(CARDS / name / "README.md", "me/x")


@pytest.mark.parametrize("field", ["tags: false", "tags: 5", "license: [1, 2]", "pipeline_tag: 5"])
def test_a_known_field_of_the_wrong_type_still_gives_the_base_model(field):
    # `tags: false` made huggingface_hub's ModelCardData raise TypeError: exit 3 (found by the fuzzer)
    text = f"---\nbase_model: alpha/base\n{field}\n---\n# card\n"
    assert [(e.child, e.parent) for e in cards.edges_from_card(text, "org/x")] == [("org/x", "alpha/base")]
