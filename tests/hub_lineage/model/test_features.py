"""Name tokens and contents-table metadata as features."""

from __future__ import annotations

import math

from hub_lineage.model.features import FEATURE_NAMES, model_features, name_tokens


def test_name_tokens_split_words_and_sizes_but_not_the_org():
    tokens = name_tokens("Instruct-org/Qwen2.5-7B-Math-Instruct_abliterated.v2")
    assert {"qwen", "7b", "math", "instruct", "abliterated"} <= tokens
    assert "instruct" in tokens and "org" not in tokens


def test_features_from_name_and_metadata():
    meta = {"a/Llama-3-8B-DPO-slerp": {"type": "🤝 base merges and moerges", "chat_template": True,
                                       "merged": True, "params_b": 8.0}}
    X = model_features(["a/Llama-3-8B-DPO-slerp", "b/Coder-Base"], meta)
    col = {n: k for k, n in enumerate(FEATURE_NAMES)}
    assert X.shape == (2, len(FEATURE_NAMES))
    first, second = X
    assert first[col["name_preference"]] == 1 and first[col["name_merge_method"]] == 1
    assert first[col["type_merge"]] == 1 and first[col["chat_template"]] == 1 and first[col["merged"]] == 1
    assert math.isclose(first[col["log_params"]], math.log1p(8.0)) and first[col["meta_known"]] == 1
    assert second[col["name_code"]] == 1 and second[col["name_base"]] == 1
    assert second[col["meta_known"]] == 0 and second[col["chat_template"]] == 0
