"""harness_ext.budget: the random draw of docs per task (no lm-eval needed)."""

from __future__ import annotations

import pytest

from harness_ext.budget import check_budget, draw_docs
from hub_lineage.errors import InvalidInputError


def test_draw_is_a_seeded_sorted_sample_per_task() -> None:
    draw = draw_docs({"a": 40, "b": 40, "c": 10}, 10, seed=3)
    for task, docs in draw.docs.items():
        assert len(docs) == len(set(docs)) == 10 and docs == sorted(docs)
        assert all(0 <= d < draw.sizes[task] for d in docs)
    assert draw.docs["c"] == list(range(10))  # the whole task
    assert draw.docs["a"] != draw.docs["b"]  # each task draws on its own
    assert draw_docs({"a": 40}, 10, seed=3).docs["a"] == draw.docs["a"]  # other tasks do not shift a's draw
    assert draw_docs({"a": 40}, 10, seed=4).docs["a"] != draw.docs["a"]
    record = draw.record("a")
    assert record["seed"] == 3 and record["doc_ids"] == draw.docs["a"] and record["items"] == 40


def test_fresh_seed_is_recorded() -> None:
    first = draw_docs({"a": 100}, 5)
    assert draw_docs({"a": 100}, 5, seed=first.seed).docs == first.docs


def test_every_doc_equally_likely() -> None:
    counts = [0] * 8
    for seed in range(2000):
        for d in draw_docs({"t": 8}, 2, seed=seed).docs["t"]:
            counts[d] += 1
    assert all(abs(c / 2000 - 0.25) < 0.04 for c in counts)  # 2 of 8: each doc with probability 1/4


@pytest.mark.parametrize(("budget", "kwargs", "message"), [
    (0, {}, "--budget 0: the number of docs to evaluate per task must be at least 1."),
    (-3, {}, "--budget -3: the number of docs to evaluate per task must be at least 1."),
    (5, {"limit": 10.0}, "--budget 5 with --limit 10: give one of them"),
    (5, {"samples": {"a": [1]}}, "--budget 5 with --samples: give one of them"),
])
def test_bad_budgets(budget: int, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        check_budget(budget, **kwargs)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_budget_larger_than_a_task() -> None:
    with pytest.raises(InvalidInputError, match=r"^--budget 11: larger than task 'small', which has 10 docs"):
        draw_docs({"big": 100, "small": 10}, 11, seed=0)
