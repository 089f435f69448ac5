"""What ``hub-lineage eval`` does: lm-eval's ``simple_evaluate`` with the store's tracker, lineage added.

lm-eval runs through its public API (``lm_eval.simple_evaluate``) with a :class:`StoreTracker`,
so each task's samples go into the store from lm-eval's own per-task hook and lm-eval writes its
usual files under ``output_path``. With a budget, N docs per task are drawn at random and lm-eval
evaluates exactly those (``samples={task: [doc indices]}``); the full-task estimates follow.
The evaluated model's lineage is resolved from the Hub when it is a Hub id.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness_ext.budget import Draw, check_budget, draw_docs
from hub_lineage.data.sources.lm_eval_metrics import MetricMap
from hub_lineage.data.store.database import IngestReport, Store
from hub_lineage.errors import HubLineageError, InvalidInputError, LineageWarning
from hub_lineage.lineage.hub import HubClient

if TYPE_CHECKING:
    from hub_lineage.predict.partial import Estimate


@dataclass
class LmEvalArgs:
    """lm-eval's run options, by lm-eval's own names and meanings (``lm-eval run --help``).

    ``model_args``, ``gen_kwargs`` are lm-eval's ``key=value,key2=value2`` strings; ``seed`` is
    lm-eval's ``--seed`` (one integer for all four seeds, or ``python,numpy,torch,fewshot`` with
    ``None`` to leave one unset); ``samples`` is ``{task: [doc indices]}``; ``metadata`` a JSON object.
    """

    tasks: list[str]
    model: str = "hf"
    model_args: str = ""
    include_path: str | None = None
    limit: float | None = None
    samples: dict[str, list[int]] | None = None
    output_path: str | None = None
    batch_size: str | None = None
    max_batch_size: int | None = None
    device: str | None = None
    num_fewshot: int | None = None
    seed: str | None = None
    gen_kwargs: str | None = None
    apply_chat_template: bool | str = False
    fewshot_as_multiturn: bool | None = None
    system_instruction: str | None = None
    use_cache: str | None = None
    write_out: bool = False
    trust_remote_code: bool = False
    confirm_run_unsafe_code: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)

    def task_names(self) -> list[str]:
        """``--tasks`` split on commas (lm-eval takes both spellings)."""
        names = [t.strip() for spec in self.tasks for t in spec.split(",") if t.strip()]
        if not names:
            raise InvalidInputError("hub-lineage eval needs --tasks (lm-eval's task names), e.g. --tasks leaderboard_ifeval.")
        return names

    def full_model_args(self) -> str:
        parts = [self.model_args] if self.model_args else []
        if self.trust_remote_code:
            parts.append("trust_remote_code=True")
        return ",".join(parts)

    def evaluate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``simple_evaluate`` (model, tasks and samples excluded)."""
        kwargs: dict[str, Any] = {
            # lm-eval's CLI default: HFLM takes cuda:0 when there is one, else falls back to the CPU
            "num_fewshot": self.num_fewshot, "device": self.device or "cuda:0", "max_batch_size": self.max_batch_size,
            "use_cache": self.use_cache, "limit": _limit(self.limit), "write_out": self.write_out,
            "system_instruction": self.system_instruction, "apply_chat_template": self.apply_chat_template,
            "gen_kwargs": self.gen_kwargs, "confirm_run_unsafe_code": self.confirm_run_unsafe_code,
            "metadata": self.metadata or None}
        if self.batch_size is not None:
            kwargs["batch_size"] = int(self.batch_size) if self.batch_size.isdigit() else self.batch_size
        if self.fewshot_as_multiturn is not None:
            kwargs["fewshot_as_multiturn"] = self.fewshot_as_multiturn
        elif self.apply_chat_template:
            kwargs["fewshot_as_multiturn"] = True  # lm-eval's CLI turns it on with a chat template
        if self.seed is not None:
            names = ("random_seed", "numpy_random_seed", "torch_random_seed", "fewshot_random_seed")
            kwargs.update(zip(names, parse_seed(self.seed)))
        return kwargs


def parse_seed(spec: str) -> list[int | None]:
    """lm-eval's ``--seed``: ``S`` (all four) or 3-4 comma-separated values, ``None`` leaving one unset."""
    parts = [p.strip() for p in spec.split(",")]
    try:
        values = [None if p == "None" else int(p) for p in parts]
    except ValueError:
        raise InvalidInputError(f"--seed {spec!r}: give an integer, or python,numpy,torch[,fewshot] integers "
                                "(None leaves one unset).") from None
    if len(values) == 1:
        return values * 4
    if len(values) not in (3, 4):
        raise InvalidInputError(f"--seed {spec!r}: give 1, 3 or 4 comma-separated values.")
    return values + [1234] * (4 - len(values))  # lm-eval's default fewshot seed


def _limit(limit: float | None) -> int | float | None:
    # lm-eval: a limit below 1 is a fraction of each task, else a count
    return int(limit) if limit is not None and limit >= 1 and float(limit).is_integer() else limit


@dataclass
class EvalOutcome:
    """What an eval run left behind: this call's store counts, lm-eval's results and output folder,
    the model id the samples were stored under, and for a budgeted run the draw and the estimates."""

    report: IngestReport
    output_path: Path | None
    model: str
    results: dict[str, Any]
    lineage_note: str = ""
    draw: Draw | None = None
    estimates: dict[str, Estimate] = field(default_factory=dict)


def task_manager(args: LmEvalArgs, names: Sequence[str]) -> Any:
    """lm-eval's TaskManager for ``names``: the include path alone when it defines them all (indexing
    lm-eval's 14k built-in tasks takes half a minute), else the built-in tasks too.

    Raises InvalidInputError for a task, group or tag that lm-eval does not know.
    """
    from lm_eval.tasks import TaskManager
    from lm_eval.utils import simple_parse_args_string

    metadata = simple_parse_args_string(args.full_model_args()) | (args.metadata or {})
    manager = None
    if args.include_path:
        manager = TaskManager(include_path=args.include_path, include_defaults=False, metadata=metadata)
        if _unknown(manager, names):
            manager = None
    manager = manager or TaskManager(include_path=args.include_path, metadata=metadata)
    unknown = _unknown(manager, names)
    if unknown:
        where = f"built-in or under --include_path {args.include_path}" if args.include_path else "built-in"
        raise InvalidInputError(f"--tasks {unknown[0]}: lm-eval knows no such task, group or tag ({where}); "
                                "`lm-eval ls tasks` lists them.")
    return manager


def _unknown(manager: Any, names: Sequence[str]) -> list[str]:
    known = set(manager.all_tasks)
    return [n for n in names if n not in known and not Path(n).is_file() and not manager.match_tasks([n])]


def load_tasks(manager: Any, names: Sequence[str]) -> tuple[list[Any], dict[str, int]]:
    """Build the tasks once: the top-level tasks/groups to hand to ``simple_evaluate`` and each leaf
    task's number of evaluation docs."""
    expanded = [m for n in names for m in ([n] if n in manager.all_tasks or Path(n).is_file()
                                            else manager.match_tasks([n]))]
    loaded = manager.load(list(dict.fromkeys(expanded)))
    children = {c for kids in (loaded.get("group_map") or {}).values() for c in kids}
    top = [g for name, g in loaded["groups"].items() if name not in children]
    top += [t for name, t in loaded["tasks"].items() if name not in children]
    return top, {name: len(task.eval_docs) for name, task in loaded["tasks"].items()}


def run_eval(
    args: LmEvalArgs,
    *,
    store: Store | str | Path | None = None,
    model_id: str | None = None,
    metrics: MetricMap | None = None,
    resolve_lineage: bool = True,
    budget: int | None = None,
    budget_seed: int | None = None,
    predictor: Any = None,
) -> EvalOutcome:
    """Run lm-eval (``simple_evaluate``, samples logged) and store each task's samples as it ends.

    With ``budget``, evaluate ``budget`` docs per task drawn with ``budget_seed`` (default: a fresh
    seed, recorded) and estimate each full task with
    :func:`hub_lineage.predict.partial.estimate_from_items` (``predictor`` optional).
    """
    check_budget(budget, limit=args.limit, samples=args.samples)
    names = args.task_names()
    from lm_eval import simple_evaluate

    from harness_ext.tracker import StoreTracker

    manager = task_manager(args, names)
    top, sizes = load_tasks(manager, names)
    draw = draw_docs(sizes, budget, budget_seed) if budget is not None else None
    own = store if isinstance(store, Store) else Store(store)
    try:
        tracker = StoreTracker(own, model_id=model_id, metrics=metrics, draw=draw, output_path=args.output_path)
        results = simple_evaluate(
            model=args.model, model_args=args.full_model_args(), tasks=top, task_manager=manager,
            samples=draw.docs if draw is not None else args.samples, log_samples=True,
            evaluation_tracker=tracker, **args.evaluate_kwargs())
        if results is None:  # not rank 0 of a distributed run: that rank saves
            raise InvalidInputError("lm-eval returned no results in this process (a non-zero rank).")
        tracker.save(results)
        model = tracker.model_name
        note = resolve_into(own, [model]) if resolve_lineage else ""
        estimates = {}
        if draw is not None:
            from hub_lineage.predict.partial import estimate_from_items

            estimates = {task: estimate_from_items(own, model, task, predictor=predictor, items=sizes[task])
                         for task in draw.docs}
    finally:
        if own is not store:
            own.close()
    out = Path(args.output_path) if args.output_path else None
    return EvalOutcome(tracker.report, out, model, results, note, draw, estimates)


def results_table(results: dict[str, Any]) -> str:
    """lm-eval's own results table."""
    from lm_eval.utils import make_table

    table = make_table(results)
    return table + ("\n" + make_table(results, "groups") if results.get("groups") else "")


def parse_samples(spec: str | None) -> dict[str, list[int]] | None:
    """lm-eval's ``--samples``: a JSON object (or a JSON file) ``{task: [doc indices]}``."""
    if spec is None:
        return None
    text = Path(spec).read_text(encoding="utf-8") if Path(spec).is_file() else spec
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(v, list) for v in value.values()):
        raise InvalidInputError(f"--samples {spec!r}: give a JSON object {{task: [doc indices]}} or a file holding one.")
    return {str(k): sorted(int(i) for i in v) for k, v in value.items()}


def resolve_into(store: Store, models: Sequence[str]) -> str:
    """Add the Hub lineage of ``models`` to the store; local paths and failures are noted, not raised."""
    notes = []
    client = HubClient()
    for model in models:
        if Path(model).exists() or model.count("/") != 1:
            notes.append(f"{model}: a local model has no Hub lineage")
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LineageWarning)
                graph = client.resolve(model)
        except HubLineageError as exc:
            notes.append(f"{model}: lineage not resolved ({exc})")
            continue
        added = store.add_edges(graph.edges)
        notes.append(f"{model}: {added} lineage edge(s) added")
    return "; ".join(notes)
