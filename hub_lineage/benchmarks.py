"""The Open LLM Leaderboard v2 benchmarks: canonical names, sizes, and lm-eval task mapping.

Every JSON contract of the project names benchmarks by these keys: ``ifeval, bbh, math, gpqa,
musr, mmlu_pro``. Instance-level predictors may add lm-eval task names of their own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Benchmark:
    """One leaderboard benchmark.

    ``exact_counts`` says whether the leaderboard's ``Raw`` score is exactly k/n over
    ``n_instances`` (GPQA, MATH, MMLU-Pro); BBH and MuSR are macro-averages over subtasks and IFEval
    mixes prompt- and instruction-level accuracy, so those are fractions, not counts.
    ``chance`` is the accuracy of random guessing (0 for generation tasks).
    """

    key: str
    contents_column: str
    n_instances: int
    exact_counts: bool
    chance: float
    task_prefix: str


LEADERBOARD: tuple[Benchmark, ...] = (
    Benchmark("ifeval", "IFEval Raw", 541, False, 0.0, "leaderboard_ifeval"),
    Benchmark("bbh", "BBH Raw", 5761, False, 0.33, "leaderboard_bbh"),
    Benchmark("math", "MATH Lvl 5 Raw", 1324, True, 0.0, "leaderboard_math"),
    Benchmark("gpqa", "GPQA Raw", 1192, True, 0.25, "leaderboard_gpqa"),
    Benchmark("musr", "MUSR Raw", 756, False, 0.33, "leaderboard_musr"),
    Benchmark("mmlu_pro", "MMLU-PRO Raw", 12032, True, 0.1, "leaderboard_mmlu_pro"),
)

#: The canonical benchmark keys, in the leaderboard's column order.
BENCHMARK_KEYS: tuple[str, ...] = tuple(b.key for b in LEADERBOARD)

BY_KEY: dict[str, Benchmark] = {b.key: b for b in LEADERBOARD}


def benchmark_of_task(task: str) -> str:
    """The benchmark key of an lm-eval task name (``leaderboard_bbh_navigate`` -> ``bbh``).

    Tasks outside the leaderboard are their own benchmark (the task name itself).
    """
    for bench in LEADERBOARD:
        if task == bench.task_prefix or task.startswith(bench.task_prefix + "_"):
            return bench.key
    return task


def leaderboard_normalised(key: str, accuracy: float) -> float:
    """An accuracy in [0, 1] on the Open LLM Leaderboard's normalised 0-100 scale.

    The leaderboard rescales so random guessing scores 0: ``100 * (acc - chance) / (1 - chance)``,
    clipped at 0. It does so per subtask for BBH and MuSR; with their mean chance level this is
    close but not exact for those two.
    """
    chance = BY_KEY[key].chance
    return max(0.0, 100.0 * (accuracy - chance) / (1.0 - chance))


def accuracy_from_normalised(key: str, score: float) -> float:
    """The inverse of :func:`leaderboard_normalised` (a score of 0 maps to chance)."""
    chance = BY_KEY[key].chance
    return chance + (1.0 - chance) * score / 100.0
