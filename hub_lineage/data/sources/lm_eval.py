"""lm-eval sample logs: ``--log_samples`` output directories and Open LLM Leaderboard details files.

Both write one file per task, ``samples_<task>_<date>.jsonl`` (the leaderboard's ``-details``
datasets also ship parquet), next to a ``results_<date>.json`` holding the model name, the lm-eval
version and task versions. Each task file becomes one :class:`SampleRun`: per-instance correctness
keyed by ``(task, doc_hash)`` (lm-eval's hash of the document, stable across runs and shuffles,
unlike ``doc_id``), with the prompt text for instance embeddings.

Bad lines (malformed or truncated JSON) are skipped and counted; ``strict=True`` raises instead.
Reading does not import lm_eval.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hub_lineage.benchmarks import benchmark_of_task
from hub_lineage.errors import DataFormatError, DataWarning
from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.data.sources.lm_eval_metrics import MetricMap
from hub_lineage.data.sources.parquet import pyarrow_for
from hub_lineage.data.sources.sample_lines import SampleLine

SAMPLES_RE = re.compile(r"^samples_(?P<task>.+?)_(?P<date>\d{4}-\d{2}-\d{2}T[0-9\-.:]+)$")
RESULTS_RE = re.compile(r"^results_(?P<date>\d{4}-\d{2}-\d{2}T[0-9\-.:]+)$")
SAMPLE_SUFFIXES = (".jsonl", ".parquet")


@dataclass
class SampleRun:
    """One model's per-instance results on one task (one samples file or one live task).

    ``values[k]`` is the correctness (0/1, or a fraction if the user allowed it) on the instance
    ``doc_hashes[k]``; ``prompts``/``prompt_hashes`` align with them. ``run_time`` is when the
    evaluation ran (seconds since the epoch), used to decide which run is newest.
    """

    model: str
    task: str
    metric: str
    doc_hashes: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    prompts: list[str | None] = field(default_factory=list)
    prompt_hashes: list[str | None] = field(default_factory=list)
    source: str = ""
    lm_eval_version: str | None = None
    model_args: str | None = None
    task_version: str | None = None
    run_time: float | None = None
    skipped: int = 0
    kind: str = "lm_eval"

    @property
    def benchmark(self) -> str:
        return benchmark_of_task(self.task)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def doc_hash(doc: Any) -> str:
    """lm-eval's ``doc_hash``, for sample files written before lm-eval logged it."""
    return sha256(json.dumps(doc, indent=2, default=str, ensure_ascii=False))


def prompt_of(arguments: Any) -> str | None:
    """The prompt (context) of a sample's first request, in either ``arguments`` layout.

    lm-eval >= 0.4.3 writes ``{"gen_args_0": {"arg_0": context, "arg_1": ...}}``; older versions
    and some parquet exports write ``[[context, continuation], ...]``.
    """
    first: Any = arguments
    if isinstance(first, Mapping):
        first = first.get("gen_args_0", next(iter(first.values()), None))
    elif isinstance(first, (list, tuple)) and first:
        first = first[0]
    if isinstance(first, Mapping):
        first = first.get("arg_0", next(iter(first.values()), None))
    elif isinstance(first, (list, tuple)) and first:
        first = first[0]
    return first if isinstance(first, str) else None


def is_samples_file(path: Path) -> bool:
    return path.suffix in SAMPLE_SUFFIXES and path.name.startswith("samples_")


def is_lm_eval_dir(path: Path) -> bool:
    """Whether a directory holds lm-eval samples files (at any depth)."""
    return path.is_dir() and any(is_samples_file(p) for p in path.rglob("samples_*"))


def task_of(path: Path) -> tuple[str, str | None]:
    """``(task, date id)`` from a samples file name."""
    stem = path.name.removesuffix(path.suffix)
    match = SAMPLES_RE.match(stem)
    if match:
        return match["task"], match["date"]
    if stem.startswith("samples_"):
        return stem.removeprefix("samples_"), None
    raise DataFormatError(
        f"Cannot tell the task of {str(path)!r}: lm-eval names samples files "
        "samples_<task>_<date>.jsonl.")


def parse_date(date_id: str | None) -> float | None:
    """lm-eval's date id (``2024-06-26T11-42-27.505766``) as epoch seconds."""
    if not date_id:
        return None
    day, _, clock = date_id.partition("T")
    try:
        return datetime.fromisoformat(f"{day}T{clock.replace('-', ':')}").timestamp()
    except ValueError:
        return None


@dataclass
class ResultsInfo:
    """What a ``results_*.json`` says about a run."""

    model: str | None = None
    lm_eval_version: str | None = None
    model_args: str | None = None
    task_versions: dict[str, str] = field(default_factory=dict)
    run_time: float | None = None


def read_results(path: Path) -> ResultsInfo:
    """Model name, lm-eval version, model args and task versions of a results file."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8", "replace"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataFormatError(f"Results file {str(path)!r} is not valid JSON: {exc}.") from None
    data = _shaped(data, Mapping, path, "the file")
    config = _shaped(data.get("config") or {}, Mapping, path, "'config'")
    model_args = config.get("model_args")
    if isinstance(model_args, Mapping):
        model_args = json.dumps(model_args, sort_keys=True, default=str)
    model = _shaped(data.get("model_name"), (str, type(None)), path, "'model_name'") or _pretrained(model_args)
    version = data.get("lm_eval_version") or data.get("git_hash")
    date = data.get("date")
    run_time = float(date) if isinstance(date, (int, float)) and math.isfinite(date) else parse_date(
        RESULTS_RE.match(path.stem)["date"] if RESULTS_RE.match(path.stem) else None)
    versions = {str(k): str(v) for k, v in _shaped(data.get("versions") or {}, Mapping, path, "'versions'").items()}
    return ResultsInfo(model or None, str(version) if version else None, model_args, versions, run_time)


def _shaped(value: Any, kind: type | tuple[type, ...], path: Path, what: str) -> Any:
    """``value`` when it is a ``kind``; else the one-line error naming the file and the field."""
    if not isinstance(value, kind):
        expected = "a JSON object" if kind is Mapping else "a string"
        raise DataFormatError(f"Results file {str(path)!r}: {what} is {type(value).__name__} "
                              f"{json.dumps(value, default=str)[:40]}, expected {expected} (lm-eval's results_*.json).")
    return value


def _pretrained(model_args: Any) -> str | None:
    if isinstance(model_args, str):
        for key in ("peft", "delta", "pretrained", "model", "path"):
            match = re.search(rf"(?:^|[,{{\"' ]){key}[\"']?\s*[=:]\s*[\"']?([^,\"'}}]+)", model_args)
            if match:
                return match[1].strip()
    return None


def _results_for(sample_path: Path, date: str | None) -> ResultsInfo | None:
    folder = sample_path.parent
    candidates = sorted(folder.glob("results_*.json"))
    exact = [p for p in candidates if date and p.stem == f"results_{date}"]
    if exact:
        return read_results(exact[0])
    return read_results(candidates[-1]) if candidates else None


def model_from_dirname(folder: Path) -> str | None:
    """``org__name`` (lm-eval's sanitized name, the leaderboard details layout) -> ``org/name``."""
    name = folder.name.removesuffix("-details")
    if name.count("__") == 1 and not name.startswith("__"):
        return name.replace("__", "/")
    return None


def iter_lines(path: Path, strict: bool) -> Iterator[tuple[int, SampleLine | None, str]]:
    """Yield ``(line number, lazily decoded line, "")`` for each non-empty JSONL line.

    Lines are decoded by :func:`fill_run` (fast field extraction, ``json.loads`` as the fallback),
    which reports malformed ones.
    """
    bad_utf8 = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.isspace() or not raw:
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                if strict:
                    raise DataFormatError(f"{path.name} line {number} is not UTF-8 ({exc}); "
                                          "drop --strict to read it with replacement characters.") from None
                text, bad_utf8 = raw.decode("utf-8", "replace"), bad_utf8 + 1
            yield number, SampleLine(text), ""
    if bad_utf8:
        warnings.warn(f"{path.name}: {bad_utf8} line(s) were not valid UTF-8 and were read with "
                      "replacement characters.", DataWarning, stacklevel=3)


#: Columns of a parquet details file that the store never reads (model outputs: the bulk of it).
_UNREAD_COLUMNS = frozenset({"resps", "filtered_resps", "target", "target_hash"})


def iter_parquet(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """Rows of a parquet details file as records, reading only the columns the store uses."""
    pq = pyarrow_for(f"reading {path.name!r}").parquet
    try:
        names = pq.read_schema(path).names
        skip = set(_UNREAD_COLUMNS) | ({"doc"} if "doc_hash" in names else set())
        table = pq.read_table(path, columns=[n for n in names if n not in skip])
    except Exception as exc:  # pyarrow raises its own ArrowInvalid/OSError family
        raise DataFormatError(f"{str(path)!r} is not a readable parquet file: {exc}.") from None
    for number, record in enumerate(table.to_pylist(), start=1):
        yield number, record, ""


def iter_records(path: Path, strict: bool) -> Iterator[tuple[int, Any, str]]:
    if path.suffix == ".parquet":
        yield from iter_parquet(path)
    else:
        yield from iter_lines(path, strict)


def read_samples_file(
    path: str | Path,
    metrics: MetricMap | None = None,
    *,
    model_id: str | None = None,
    strict: bool = False,
) -> SampleRun:
    """Read one samples file (JSONL or parquet) into a SampleRun.

    ``metrics`` is a :class:`hub_lineage.data.sources.lm_eval_metrics.MetricMap` (default: leaderboard defaults, binary
    only). The model comes from ``model_id``, else the results file beside it, else a
    ``org__name`` folder name; without any, DataFormatError asks for ``--model-id``.
    """
    path = Path(path)
    metrics = metrics or MetricMap()
    task, date = task_of(path)
    info = _results_for(path, date) or ResultsInfo(run_time=parse_date(date))
    model = model_id or info.model or model_from_dirname(path.parent)
    if not model:
        raise DataFormatError(
            f"Cannot tell which model produced {str(path)!r}: its results file names no model. "
            "Pass --model-id ORG/NAME.")
    run = SampleRun(model, task, "", source=str(path.resolve()), lm_eval_version=info.lm_eval_version,
                    model_args=info.model_args, task_version=info.task_versions.get(task),
                    run_time=info.run_time if info.run_time is not None else parse_date(date))
    fill_run(run, iter_records(path, strict), metrics, strict, path.name)
    return run


def fill_run(run: SampleRun, records: Iterable[tuple[int, Any, str]],
             metrics: MetricMap, strict: bool, name: str) -> SampleRun:
    """Append the usable samples of ``records`` to ``run``; count (or, if strict, raise on) bad ones.

    A record is a dict, a :class:`SampleLine` (decoded lazily) or None (with its problem).
    """
    choice = None
    seen: set[str] = set()
    problems: list[str] = []
    for number, record, problem in records:
        fields = None
        if isinstance(record, SampleLine):
            fields = record.fields(choice.metric) if choice is not None else None
            if fields is None:
                try:
                    record = record.record()
                except ValueError as exc:
                    detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                    record, problem = None, f"line {number}: malformed JSON ({detail})"
        if record is None:
            problems.append(problem)
            continue
        if choice is None:
            available = record.get("metrics") or [k for k in record if k not in _SAMPLE_KEYS]
            choice = metrics.choose(run.task, list(available))
            run.metric = str(choice)
        if fields is None:
            args = record.get("arguments")
            fields = (record.get("filter"), record.get(choice.metric), record.get("doc_hash"),
                      prompt_of(args) if args is not None else None, record.get("prompt_hash"))
        filt, raw, key, prompt, prompt_hash = fields
        if choice.filter is not None and filt is not None and filt != choice.filter:
            continue
        if choice.filter is None and filt is not None:
            choice = type(choice)(choice.metric, filt)  # read one filter's view only
        value = metrics.convert(raw, run.task, choice.metric)
        if value is None:
            problems.append(f"line {number}: no {choice.metric!r} value")
            continue
        key = key or doc_hash((record if isinstance(record, dict) else record.record()).get("doc"))
        if key in seen:
            problems.append(f"line {number}: the same document (doc_hash {key[:12]}...) again")
            continue
        seen.add(key)
        run.doc_hashes.append(key)
        run.values.append(value)
        run.prompts.append(prompt)
        run.prompt_hashes.append(prompt_hash or (sha256(prompt) if prompt else None))
    if problems:
        if strict:
            raise DataFormatError(f"{name}: {problems[0]} ({len(problems)} bad sample(s)); "
                                  "nothing was stored (drop --strict to skip bad lines).")
        run.skipped += len(problems)
        warnings.warn(f"Skipped {len(problems)} sample(s) of {name} ({problems[0]}).", DataWarning, stacklevel=3)
    if choice is not None and choice.filter not in (None, "none"):
        run.metric = str(choice)
    return run


_SAMPLE_KEYS = {"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter",
                "metrics", "doc_hash", "prompt_hash", "target_hash", "task_name"}


def samples_files(path: str | Path) -> list[Path]:
    """The samples files under a directory (or the file itself), sorted."""
    path = Path(path)
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("samples_*") if is_samples_file(p))


def read_output(path: str | Path, metrics: MetricMap | None = None, *, model_id: str | None = None,
                strict: bool = False) -> list[SampleRun]:
    """Every samples file of an lm-eval output directory (or one file), one SampleRun per file."""
    files = samples_files(path)
    if not files:
        raise DataFormatError(f"{str(path)!r} holds no lm-eval samples files (samples_<task>_<date>.jsonl): "
                              "run lm-eval with --log_samples.")
    return [read_samples_file(p, metrics, model_id=model_id, strict=strict) for p in files]


def runs_matrix(runs: Iterable[SampleRun]) -> ObservationMatrix:
    """An instance-level ObservationMatrix of sample runs (a later run wins a repeated cell)."""
    records, benches, texts = [], {}, {}
    for run in runs:
        for key, value, prompt in zip(run.doc_hashes, run.values, run.prompts or [None] * len(run.values)):
            item = f"{run.task}/{key}"
            records.append((run.model, item, value))
            benches[item] = run.benchmark
            texts[item] = prompt or ""
    return ObservationMatrix.from_records(records, benches, None, texts)
