"""What a model's repo id and the leaderboard's contents table say about it, as numeric features.

Known before a model is evaluated (not scores), so legitimate for cold-start prediction:

- name tokens of the repo id (``Instruct``, ``Math``, ``Coder``, ``DPO``, ``abliterated``, merge
  methods...), matched as whole tokens of the lower-cased name split on ``-_./`` and digits;
- the contents table's model type, chat-template flag, merged flag, log size (architecture enters
  through the lineage graph's side nodes).

:func:`model_features` gives a (n_models, n_features) float array with :data:`FEATURE_NAMES` columns.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy loads in model_features only: `hub-lineage predict` reads feature_row
    import numpy as np

#: Token groups: feature name -> tokens any of which sets it.
NAME_TOKENS: dict[str, tuple[str, ...]] = {
    "instruct": ("instruct", "it", "chat", "assistant", "sft"),
    "base": ("base", "pretrained", "pt"),
    "math": ("math", "mathstral", "numina", "gsm8k"),
    "code": ("coder", "code", "coding"),
    "preference": ("dpo", "orpo", "simpo", "kto", "ipo", "rlhf", "ppo", "grpo"),
    "abliterated": ("abliterated", "uncensored", "unalign", "unaligned", "lorablated"),
    "merge_method": ("slerp", "ties", "dare", "della", "linear", "stock", "breadcrumbs", "passthrough",
                     "merge", "merged", "mergekit", "task", "arithmetic", "sce"),
    "roleplay": ("rp", "roleplay", "story", "writer", "creative", "nsfw", "erp"),
    "reasoning": ("reason", "reasoning", "cot", "thinking", "o1", "r1", "distill", "qwq"),
    "long": ("1m", "128k", "long", "32k", "64k"),
    "adapter": ("lora", "qlora", "adapter", "peft"),
    "quantized": ("gguf", "awq", "gptq", "4bit", "8bit", "bnb", "exl2"),
}

#: Contents-table model types (substring of the leaderboard's label) -> feature name.
TYPES = {"pretrained": "type_pretrained", "continuously": "type_continued", "fine-tuned": "type_finetuned",
         "chat": "type_chat", "merge": "type_merge", "base merges": "type_merge"}

FEATURE_NAMES: tuple[str, ...] = (
    *(f"name_{k}" for k in NAME_TOKENS), *dict.fromkeys(TYPES.values()), "chat_template", "merged",
    "log_params", "meta_known")

_COLUMN = {n: k for k, n in enumerate(FEATURE_NAMES)}
_SPLIT = re.compile(r"[^a-z0-9]+|(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])")


def name_tokens(repo_id: str) -> set[str]:
    """``"org/Qwen2.5-7B-Instruct-abliterated"`` -> ``{"qwen", "2", "5", "7b", "instruct", ...}``.

    The organisation is left out (an org name says little about one model); ``7b`` style sizes stay whole.
    """
    name = repo_id.split("/", 1)[-1].lower()
    raw = [t for t in re.split(r"[^a-z0-9]+", name) if t]
    parts = set(raw)
    for t in raw:
        parts.update(p for p in _SPLIT.split(t) if p)
    return parts


def feature_row(model: str, meta: Mapping[str, Mapping[str, Any]]) -> list[float]:
    """One model's features (len(FEATURE_NAMES),); unknown metadata gives zeros and meta_known 0."""
    out = [0.0] * len(FEATURE_NAMES)
    tokens = name_tokens(model)
    for key, words in NAME_TOKENS.items():
        out[_COLUMN[f"name_{key}"]] = float(any(w in tokens for w in words))
    info = meta.get(model) or {}
    if not info:
        return out
    out[_COLUMN["meta_known"]] = 1.0
    kind = str(info.get("type") or "").lower()
    for needle, name in TYPES.items():
        if needle in kind:
            out[_COLUMN[name]] = 1.0
    out[_COLUMN["chat_template"]] = float(bool(info.get("chat_template")))
    out[_COLUMN["merged"]] = float(bool(info.get("merged")))
    size = info.get("params_b")
    out[_COLUMN["log_params"]] = math.log1p(size) if isinstance(size, (int, float)) and size > 0 else 0.0
    return out


def model_features(models: Sequence[str], meta: Mapping[str, Mapping[str, Any]]) -> np.ndarray:
    """Features (len(models), len(FEATURE_NAMES)) of :func:`feature_row`."""
    import numpy as np

    return np.array([feature_row(m, meta) for m in models], dtype=np.float64).reshape(len(models), len(FEATURE_NAMES))


__all__ = ["FEATURE_NAMES", "NAME_TOKENS", "feature_row", "model_features", "name_tokens"]
