"""Budgeted lm-eval runs: which docs of each task to evaluate, drawn at random with a recorded seed.

A simple random draw (without replacement) keeps the sample mean, and the AIPW estimator, unbiased
for the full task. lm-eval takes the draw as ``simple_evaluate(samples={task: [doc indices]})``.
Nothing here imports lm_eval.
"""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hub_lineage.errors import InvalidInputError


@dataclass(frozen=True)
class Draw:
    """The docs drawn per task: ``docs[task]`` is a sorted list of ``budget`` indices into the
    task's ``sizes[task]`` evaluation docs, drawn with ``seed``."""

    seed: int
    budget: int
    docs: dict[str, list[int]]
    sizes: dict[str, int]

    def record(self, task: str) -> dict[str, Any]:
        """What is written next to lm-eval's output for ``task``."""
        return {"task": task, "budget": self.budget, "seed": self.seed, "items": self.sizes[task],
                "doc_ids": self.docs[task], "draw": "simple random sample without replacement, "
                "numpy default_rng(SeedSequence([seed, crc32(task)]))"}


def check_budget(budget: int | None, *, limit: float | None = None, samples: Any = None) -> None:
    """Refuse a budget that is zero or negative, or given with ``--limit`` or ``--samples``."""
    if budget is None:
        return
    if budget <= 0:
        raise InvalidInputError(f"--budget {budget}: the number of docs to evaluate per task must be at least 1.")
    if limit is not None:
        raise InvalidInputError(f"--budget {budget} with --limit {limit:g}: give one of them (--budget draws "
                                "docs at random; --limit takes the first ones).")
    if samples is not None:
        raise InvalidInputError(f"--budget {budget} with --samples: give one of them (--budget chooses the docs).")


def new_seed() -> int:
    """A fresh seed for a draw (recorded with it, so the draw can be repeated)."""
    return secrets.randbits(32)


def draw_docs(sizes: Mapping[str, int], budget: int, seed: int | None = None) -> Draw:
    """Draw ``budget`` doc indices of each task in ``sizes`` (task -> number of docs).

    Each task's draw depends only on ``seed`` and the task's name, so adding a task to a run does
    not change another task's docs. Raises InvalidInputError for a budget larger than a task.
    """
    check_budget(budget)
    seed = new_seed() if seed is None else int(seed)
    if seed < 0:
        raise InvalidInputError(f"--budget-seed {seed}: a seed must be 0 or more.")
    docs = {}
    for task, size in sizes.items():
        if budget > size:
            raise InvalidInputError(f"--budget {budget}: larger than task {task!r}, which has {size} docs "
                                    f"(a budget must be at most the task's size).")
        rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(task.encode("utf-8"))]))
        # sorted: lm-eval maps the k-th selected doc back to samples[task][k] in doc order
        docs[task] = sorted(int(i) for i in rng.choice(size, size=budget, replace=False))
    return Draw(seed, budget, docs, dict(sizes))
