"""Results a model repository reports about itself: ``model-index`` in its card, ``.eval_results/*.yaml``.

The Open LLM Leaderboard is archived; newer models' results live in their own repos. Both forms are
read with huggingface_hub's own parsers (``model_index_to_eval_results`` for model-index,
``parse_eval_result_entries`` for ``.eval_results/`` where the installed version has it; a
minimal reader of the same spec otherwise) and mapped to the project's benchmarks **only where the
dataset and the metric match unambiguously** (:data:`REPORTED`): the leaderboard's setup of that
benchmark. ``.eval_results`` entries carry no metric, so their ``task_id`` must be the lm-eval
leaderboard task itself (``leaderboard_bbh``...); GPQA-Diamond, MMLU-Pro with CoT, a different
few-shot count and the like are left out. Two different values for one benchmark in one repo are
ambiguous too, and dropped.

Each score is marked with its source: ``leaderboard`` when the entry names the Open LLM Leaderboard
as its source (values on its normalised 0-100 scale, converted back to accuracy), else
``self-reported`` (lm-eval's accuracy; values above 1 are taken as percentages).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hub_lineage.benchmarks import BY_KEY, accuracy_from_normalised

logger = logging.getLogger(__name__)

LEADERBOARD_SOURCE = "leaderboard"
SELF_REPORTED = "self-reported"


@dataclass(frozen=True)
class Accepted:
    """How a benchmark's leaderboard setup is named: dataset ids/types, metric types, few-shot count."""

    datasets: frozenset[str]
    metrics: frozenset[str]
    shots: int


def _accepted(datasets: Iterable[str], metrics: Iterable[str], shots: int) -> Accepted:
    return Accepted(frozenset(d.lower() for d in datasets), frozenset(metrics), shots)


#: benchmark -> what counts as that benchmark (as the leaderboard's own cards and lm-eval name it).
REPORTED: dict[str, Accepted] = {
    "ifeval": _accepted(["HuggingFaceH4/ifeval", "google/IFEval", "wis-k/instruction-following-eval"],
                        ["inst_level_strict_acc and prompt_level_strict_acc"], 0),
    "bbh": _accepted(["BBH", "SaylorTwift/bbh", "lukaemon/bbh"], ["acc_norm"], 3),
    "math": _accepted(["hendrycks/competition_math", "lighteval/MATH-Hard", "DigitalLearningGmbH/MATH-lighteval"],
                      ["exact_match"], 4),
    "gpqa": _accepted(["Idavidrein/gpqa"], ["acc_norm"], 0),
    "musr": _accepted(["TAUR-Lab/MuSR"], ["acc_norm"], 0),
    "mmlu_pro": _accepted(["TIGER-Lab/MMLU-Pro"], ["acc"], 5),
}


#: lm-eval group names of a benchmark besides its task prefix (the leaderboard's MATH group).
TASK_ALIASES: dict[str, tuple[str, ...]] = {"math": ("leaderboard_math_hard",)}


@dataclass(frozen=True)
class ReportedScore:
    """One benchmark accuracy (in [0, 1]) a repo reports, with where it came from."""

    model: str
    benchmark: str
    value: float
    source: str  # LEADERBOARD_SOURCE or SELF_REPORTED
    origin: str  # "README.md (model-index)" or ".eval_results/<file>"


def _is_leaderboard(name: Any, url: Any) -> bool:
    text = f"{name or ''} {url or ''}".lower()
    return "open llm leaderboard" in text or "open-llm-leaderboard" in text


def _accuracy(bench: str, value: Any, leaderboard: bool) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    if leaderboard:
        x = accuracy_from_normalised(bench, x)
    elif x > 1.0:
        x /= 100.0  # a percentage
    return x if 0.0 <= x <= 1.0 else None


def from_model_index(model: str, card_data: Mapping[str, Any] | None) -> list[ReportedScore]:
    """Scores in a card's ``model-index`` (``card_data`` is its parsed front matter)."""
    index = (card_data or {}).get("model-index")
    if not index or not isinstance(index, list):
        return []
    from huggingface_hub.repocard_data import model_index_to_eval_results

    try:
        _, results = model_index_to_eval_results(index)
    except Exception as exc:  # a malformed model-index: huggingface_hub raises KeyError/TypeError/...
        logger.warning("Ignored the malformed model-index of %s: %s.", model, exc)
        return []
    out = []
    for r in results:
        if r.source_name and "hub-lineage" in r.source_name:
            continue  # our own predictions are never observations
        dataset = {str(r.dataset_type or "").lower(), str(r.dataset_name or "").lower()}
        shots = (r.dataset_args or {}).get("num_few_shot") if isinstance(r.dataset_args, dict) else None
        for bench, spec in REPORTED.items():
            if dataset & spec.datasets and r.metric_type in spec.metrics and shots in (None, spec.shots):
                leaderboard = _is_leaderboard(r.source_name, r.source_url)
                value = _accuracy(bench, r.metric_value, leaderboard)
                if value is not None:
                    out.append(ReportedScore(model, bench, value, LEADERBOARD_SOURCE if leaderboard else SELF_REPORTED,
                                             "README.md (model-index)"))
    return out


def parse_entries(data: list[dict[str, Any]]) -> list[Any]:
    """``.eval_results`` entries as huggingface_hub's ``EvalResultEntry``, parsed by huggingface_hub
    itself where the installed version has the format, else by :func:`parse_entries_fallback`."""
    try:
        from huggingface_hub import parse_eval_result_entries
    except ImportError:  # huggingface_hub older than the .eval_results format
        return parse_entries_fallback(data)
    return parse_eval_result_entries(data)


def parse_entries_fallback(data: list[dict[str, Any]]) -> list[Any]:
    """The same spec read without huggingface_hub's parser: objects with the fields we use."""
    from types import SimpleNamespace

    out = []
    for item in data:
        if "error" in item:  # a file the Hub failed to validate
            continue
        body = item.get("data", item)
        dataset, source = body["dataset"], body.get("source") or {}
        out.append(SimpleNamespace(dataset_id=dataset["id"], task_id=dataset["task_id"], value=body["value"],
                                   source_name=source.get("name"), source_url=source.get("url")))
    return out


def from_eval_results(model: str, files: Mapping[str, Any]) -> list[ReportedScore]:
    """Scores in ``.eval_results/*.yaml`` files (``files``: file name -> parsed YAML list)."""
    out = []
    for name, data in files.items():
        if not isinstance(data, list):
            logger.warning("Ignored %s of %s: expected a list of results.", name, model)
            continue
        try:
            entries = parse_entries([d for d in data if isinstance(d, dict)])
        except (KeyError, TypeError, ValueError) as exc:
            logger.warning("Ignored the malformed %s of %s: %s.", name, model, exc)
            continue
        for entry in entries:
            dataset, task = str(entry.dataset_id or "").lower(), str(entry.task_id or "")
            for bench, spec in REPORTED.items():
                if dataset in spec.datasets and task in (BY_KEY[bench].task_prefix, *TASK_ALIASES.get(bench, ())):
                    leaderboard = _is_leaderboard(entry.source_name, entry.source_url)
                    value = _accuracy(bench, entry.value, leaderboard)
                    if value is not None:
                        out.append(ReportedScore(model, bench, value,
                                                 LEADERBOARD_SOURCE if leaderboard else SELF_REPORTED, name))
    return out


def unambiguous(scores: Iterable[ReportedScore]) -> list[ReportedScore]:
    """One score per (model, benchmark): repeats of the same value collapse (leaderboard first), a
    benchmark reported with different values is dropped (which one is right is not knowable)."""
    by_cell: dict[tuple[str, str], list[ReportedScore]] = {}
    for s in scores:
        by_cell.setdefault((s.model, s.benchmark), []).append(s)
    out = []
    for (model, bench), found in by_cell.items():
        if max(s.value for s in found) - min(s.value for s in found) > 5e-4:
            logger.info("%s reports %s with different values (%s): left out.", model, bench,
                        ", ".join(f"{s.value:.4f} in {s.origin}" for s in found))
            continue
        out.append(min(found, key=lambda s: s.source != LEADERBOARD_SOURCE))
    return out
