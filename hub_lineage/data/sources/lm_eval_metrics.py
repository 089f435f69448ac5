"""Which per-sample metric of an lm-eval task counts as "answered correctly".

Defaults follow the Open LLM Leaderboard v2; other tasks take the user's mapping, or else the
first binary-looking metric the samples carry (``acc_norm``, ``acc``, ``exact_match``...).
Non-binary values (BLEU, perplexity, partial credit) are refused unless the user says how to treat
them: ``fraction`` keeps a value in [0, 1] as a fraction, ``threshold=X`` maps ``value >= X`` to 1.

Pure Python: importing this module does not import lm_eval.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub_lineage.errors import DataFormatError, InvalidInputError

#: task glob -> metric, for the Open LLM Leaderboard v2 tasks (first match wins).
LEADERBOARD_METRICS: tuple[tuple[str, str], ...] = (
    ("leaderboard_bbh_*", "acc_norm"),
    ("leaderboard_gpqa_*", "acc_norm"),
    ("leaderboard_musr_*", "acc_norm"),
    ("leaderboard_math_*_hard", "exact_match"),
    ("leaderboard_mmlu_pro", "acc"),
    ("leaderboard_ifeval", "prompt_level_strict_acc"),
)

#: Metrics tried, in order, for a task with no rule: the usual per-sample correctness metrics.
FALLBACK_METRICS: tuple[str, ...] = (
    "acc_norm", "acc", "exact_match", "prompt_level_strict_acc", "em", "correct")


@dataclass(frozen=True)
class MetricChoice:
    """A metric name and, optionally, the lm-eval filter whose samples to read (``strict-match``)."""

    metric: str
    filter: str | None = None

    @classmethod
    def parse(cls, text: str) -> MetricChoice:
        """Read lm-eval's own spelling ``metric[,filter]`` (as in results files)."""
        metric, _, filt = text.strip().partition(",")
        if not metric:
            raise InvalidInputError(f"Empty metric in {text!r}: expected 'metric' or 'metric,filter'.")
        return cls(metric.strip(), filt.strip() or None)

    def __str__(self) -> str:
        return self.metric if self.filter is None else f"{self.metric},{self.filter}"


@dataclass
class MetricMap:
    """Per-task metric rules (task glob -> ``metric[,filter]``) and the non-binary policy.

    ``non_binary`` is ``"refuse"`` (default), ``"fraction"`` or ``"threshold=X"``.
    """

    rules: Mapping[str, str] = field(default_factory=dict)
    non_binary: str = "refuse"

    def __post_init__(self) -> None:
        self._threshold: float | None = None
        policy = self.non_binary.strip().lower()
        if policy.startswith("threshold"):
            _, _, raw = policy.partition("=")
            try:
                self._threshold = float(raw)
            except ValueError:
                raise InvalidInputError(
                    f"Bad non-binary policy {self.non_binary!r}: write threshold=X with a number X, "
                    "e.g. threshold=0.5.") from None
            policy = "threshold"
        if policy not in ("refuse", "fraction", "threshold"):
            raise InvalidInputError(
                f"Unknown non-binary policy {self.non_binary!r}: expected refuse, fraction or threshold=X.")
        self._policy = policy
        self._rules = [(glob, MetricChoice.parse(m)) for glob, m in self.rules.items()]

    @classmethod
    def from_options(cls, pairs: Iterable[str] = (), non_binary: str = "refuse") -> MetricMap:
        """Build from CLI options ``TASK=METRIC[,FILTER]`` (TASK may be a glob such as ``my_*``)."""
        rules: dict[str, str] = {}
        for pair in pairs:
            task, sep, metric = pair.partition("=")
            if not sep or not task.strip() or not metric.strip():
                raise InvalidInputError(
                    f"Bad metric mapping {pair!r}: write TASK=METRIC (e.g. my_task=acc or "
                    "gsm8k=exact_match,strict-match).")
            rules[task.strip()] = metric.strip()
        return cls(rules, non_binary)

    def rule_for(self, task: str) -> MetricChoice | None:
        """The user's rule, else the leaderboard default, else None."""
        for glob, choice in self._rules:
            if fnmatch.fnmatchcase(task, glob):
                return choice
        for glob, metric in LEADERBOARD_METRICS:
            if fnmatch.fnmatchcase(task, glob):
                return MetricChoice(metric)
        return None

    def choose(self, task: str, available: Sequence[str]) -> MetricChoice:
        """The metric to read for ``task`` given the metric names its samples carry."""
        rule = self.rule_for(task)
        if rule is not None:
            return rule
        for metric in FALLBACK_METRICS:
            if metric in available:
                return MetricChoice(metric)
        raise DataFormatError(
            f"No per-sample correctness metric known for task {task!r} (its samples carry "
            f"{', '.join(available) or 'no metric'}): pass --metric {task}=METRIC.")

    def convert(self, value: Any, task: str, metric: str) -> float | None:
        """A sample's metric value as a number in [0, 1]; None when absent or not a number.

        Raises DataFormatError for a non-binary value under the ``refuse`` policy.
        """
        if isinstance(value, bool):
            return float(value)
        if isinstance(value, list) and len(value) == 1:  # some tasks log [value]
            value = value[0]
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(number):
            return None
        if number in (0.0, 1.0):
            return number
        if self._policy == "threshold":
            return 1.0 if number >= self._threshold else 0.0  # type: ignore[operator]
        if self._policy == "fraction" and 0.0 <= number <= 1.0:
            return number
        raise DataFormatError(
            f"Task {task!r} has a non-binary {metric!r} value {number!r}: the store holds "
            "correctness (0/1). Pass --non-binary fraction (keep values in [0, 1]) or "
            "--non-binary threshold=X (1 when value >= X), or choose another metric with "
            f"--metric {task}=METRIC.")
