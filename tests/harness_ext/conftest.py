"""A tiny real model and a local lm-eval task, for real (offline, CPU) lm-eval runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tiny_models import make_tiny_llama

QUESTIONS = [
    ("What is the capital of France?", ["Paris", "Rome", "Berlin"], 0),
    ("How many legs does a spider have?", ["six", "eight", "ten"], 1),
    ("Which is a colour?", ["blue", "dog", "seven"], 0),
    ("Which number is largest?", ["two", "three", "nine"], 2),
    ("Which animal barks?", ["cat", "dog", "fox"], 1),
    ("What is one plus one?", ["two", "three", "four"], 0),
]

TASK_YAML = """\
task: tiny_qa
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: answer
metric_list:
  - metric: acc
metadata:
  version: 2.0
"""


#: A 40-question task: "What is K plus one?" with the right answer at a rotating position.
QUESTIONS_40 = [(f"What is {k} plus one?", [str(k + 1 + (j - k % 3) % 3) for j in range(3)], k % 3)
                for k in range(40)]


def write_task(folder: Path, name: str, questions: list[tuple[str, list[str], int]]) -> Path:
    """A local multiple-choice lm-eval task ``name`` (YAML + JSONL data) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"{name}.jsonl"
    data.write_text("".join(json.dumps({"question": q, "choices": c, "answer": a}) + "\n"
                            for q, c, a in questions), encoding="utf-8")
    (folder / f"{name}.yaml").write_text(TASK_YAML.replace("tiny_qa", name, 1).format(data=data), encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama", seed=0)


@pytest.fixture(scope="session")
def task_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_task(tmp_path_factory.mktemp("tasks"), "tiny_qa", QUESTIONS)


@pytest.fixture(scope="session")
def task_dir_40(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``qa40``, a 40-question local task."""
    return write_task(tmp_path_factory.mktemp("tasks40"), "qa40", QUESTIONS_40)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
