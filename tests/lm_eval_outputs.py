"""lm-eval outputs as lm-eval 0.4.x writes them, for the tests that ingest them.

``lm_eval_sample`` and ``details_dataset_files`` shape leaderboard -details runs; ``write_run``
writes a ``--log_samples`` output folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from hub_lineage.data.sources.lm_eval import doc_hash, parse_date, sha256

DETAILS = "open-llm-leaderboard/org__tiny-model-details"
DATE = "2024-06-26T11-42-27.505766"


def lm_eval_sample(i: int, value: float, *, metric: str = "acc_norm", doc: dict | None = None,
                   arguments=None, **extra) -> dict:
    """A sample as lm-eval 0.4.x writes it, keys in its order (metric values last)."""
    doc = doc if doc is not None else {"question": f"Q{i}?", "choices": ["a", "b"], "label": i % 2}
    prompt = f"Few-shot examples...\nQuestion: Q{i}?\nAnswer:"
    out = {"doc_id": i, "doc": doc, "target": "0",
           "arguments": arguments if arguments is not None else
           {"gen_args_0": {"arg_0": prompt, "arg_1": " a"}, "gen_args_1": {"arg_0": prompt, "arg_1": " b"}},
           "resps": [[["-1.5", "False"]], [["-0.5", "True"]]], "filtered_resps": [["-1.5", "False"]],
           "filter": "none", "metrics": [metric], "doc_hash": doc_hash(doc), "prompt_hash": sha256(prompt),
           "target_hash": sha256("0"), **extra}
    out[metric] = value
    return out


def details_dataset_files() -> dict[str, str]:
    tasks = {"leaderboard_bbh_navigate": "acc_norm", "leaderboard_math_algebra_hard": "exact_match"}
    files = {"README.md": "---\npretty_name: details\n---\n"}
    for task, metric in tasks.items():
        lines = [json.dumps(lm_eval_sample(i, float(i % 2), metric=metric)) for i in range(4)]
        files[f"org__tiny-model/samples_{task}_{DATE}.jsonl"] = "\n".join(lines) + "\n"
    results = {"config": {"model_name": "org/tiny-model", "model_args": "pretrained=org/tiny-model"},
               "lm_eval_version": "0.4.3", "versions": {"leaderboard_bbh_navigate": 1.0}}
    files[f"org__tiny-model/results_{DATE}.json"] = json.dumps(results)
    return files


def sample(doc_id: int, value: float | None, metric: str = "acc", **extra) -> dict:
    doc = {"question": f"q{doc_id}", "answer": doc_id % 3}
    out = {"doc_id": doc_id, "doc": doc, "target": str(doc["answer"]),
           "arguments": {"gen_args_0": {"arg_0": f"Question: q{doc_id}\nAnswer:", "arg_1": " a"}},
           "resps": [], "filtered_resps": [], "filter": "none", "metrics": [metric],
           "doc_hash": doc_hash(doc), "prompt_hash": "p", "target_hash": "t"}
    if value is not None:
        out[metric] = value
    out.update(extra)
    return out


def write_run(folder: Path, model: str | None, task: str, values: list[float | None], *,
              date: str = "2025-01-01T10-00-00.000000", metric: str = "acc", version: str = "0.4.13",
              extra_lines: list[bytes] = ()) -> Path:
    """An lm-eval --log_samples output folder, as lm-eval 0.4.x writes it."""
    sub = folder / (model or "anon").replace("/", "__")
    sub.mkdir(parents=True, exist_ok=True)
    results = {"results": {task: {f"{metric},none": 0.5}}, "versions": {task: 1.0},
               "config": {"model": "hf", "model_args": f"pretrained={model}" if model else ""},
               "lm_eval_version": version, "date": parse_date(date)}
    if model:
        results["model_name"] = model
    (sub / f"results_{date}.json").write_text(json.dumps(results))
    lines = [json.dumps(sample(i, v, metric)).encode() for i, v in enumerate(values)]
    path = sub / f"samples_{task}_{date}.jsonl"
    path.write_bytes(b"\n".join([*lines, *extra_lines]) + b"\n")
    return sub
