"""Detect a data file's format by its content, and load a set of files into one dataset.

``hub-lineage ingest`` and ``hub-lineage evaluate --data`` take the same files; this module is
where a path becomes a known format. Formats: ``lm_eval`` (an lm-eval ``--log_samples`` output directory or a samples/details file),
``contents`` (leaderboard table), ``edges`` (edge
list), ``long_csv`` (``model,instance,correct``), ``questions`` (instance texts for a long CSV),
``model_map`` (short names -> Hub ids with known parents).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hub_lineage.errors import DataFormatError, InvalidInputError
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.data.matrix import ObservationMatrix, combine
from hub_lineage.data.sources import edges, leaderboard, lm_eval, long_csv
from hub_lineage.data.sources.parquet import pyarrow_for

#: format name -> predicate over a CSV header, tried in order.
CSV_FORMATS: dict[str, Callable[[list[str]], bool]] = {
    "contents": leaderboard.is_contents_table,
    "edges": edges.is_edge_list,
    "long_csv": long_csv.is_long_csv,
    "questions": long_csv.is_question_table,
    "model_map": long_csv.is_model_map,
}


def detect_format(path: str | Path) -> str:
    """The format name of ``path``, judged by its header (CSV, CSV.gz or parquet)."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(f"{str(path)!r} does not exist.")
    if path.is_dir() or lm_eval.is_samples_file(path):
        if lm_eval.is_samples_file(path) or lm_eval.is_lm_eval_dir(path):
            return "lm_eval"
        raise DataFormatError(f"Directory {str(path)!r} holds no lm-eval samples files "
                              "(samples_<task>_<date>.jsonl): run lm-eval with --log_samples.")
    if path.suffix == ".parquet":
        header = list(pyarrow_for(f"reading {path.name!r}").parquet.read_schema(path).names)
    else:
        try:
            header = long_csv.read_header(path)
        except (UnicodeDecodeError, OSError) as exc:
            raise DataFormatError(f"{str(path)!r} is not a readable CSV file: {exc}.") from None
    for name, matches in CSV_FORMATS.items():
        if matches(header):
            return name
    raise DataFormatError(
        f"Cannot tell what {str(path)!r} holds from its columns {header[:8]}: expected a leaderboard "
        "contents table, an edge list (source,target,edge), a long CSV (model,instance,correct), "
        "a question table (question_id,question) or a model map (model,hf_id).")


@dataclass
class Dataset:
    """Observations and lineage loaded from local files."""

    matrix: ObservationMatrix | None
    graph: LineageGraph = field(default_factory=LineageGraph)
    formats: dict[str, str] = field(default_factory=dict)


def group_by_format(paths: Sequence[str | Path], fmt: str = "auto") -> dict[str, list[Path]]:
    """The paths grouped by format name, in their given order: ``fmt`` for all, or each path's
    detected format when ``fmt`` is ``"auto"``."""
    known = ("auto", "lm_eval", *CSV_FORMATS)
    if fmt not in known:
        raise InvalidInputError(f"Unknown format {fmt!r}: expected one of {', '.join(known)}.")
    groups: dict[str, list[Path]] = {}
    for path in paths:
        groups.setdefault(detect_format(path) if fmt == "auto" else fmt, []).append(Path(path))
    return groups


def long_csv_sidecars(path: Path, groups: dict[str, list[Path]]) -> tuple[Path | None, Path | None]:
    """The question table and model map of the long CSV ``path``: among the given files (``groups``
    as :func:`group_by_format` returns them), else lying beside it as
    ``<benchmark>_questions.csv[.gz]`` / ``<benchmark>_models.csv``. A sidecar named for no
    benchmark goes with the long CSV only when it is the only long CSV given: with several, the
    MMLU-Pro question table would otherwise lend its texts (and its model map its names) to MuSR."""
    bench = path.name.split(".")[0].removesuffix("_correctness")
    sole = len(groups.get("long_csv", [])) <= 1
    return (_sidecar(path, groups.get("questions", []), f"{bench}_questions", sole),
            _sidecar(path, groups.get("model_map", []), f"{bench}_models", sole))


def load_dataset(paths: Sequence[str | Path]) -> Dataset:
    """Load files of any known format into one matrix (union of models and items) and one graph.

    A long CSV picks up its question table and model map (see :func:`long_csv_sidecars`).
    """
    by_format = group_by_format(list(dict.fromkeys(map(str, paths))))  # a path given twice loads once
    formats = {str(p): fmt for fmt, group in by_format.items() for p in group}
    graph = LineageGraph()
    matrices: list[ObservationMatrix] = []
    for path in by_format.get("edges", []):
        graph.update(edges.load_edge_list(path))
    for path in by_format.get("contents", []):
        entries = leaderboard.read_contents(path)
        matrices.append(leaderboard.contents_matrix(entries))
        graph.update(leaderboard.contents_graph(entries))
    for path in by_format.get("long_csv", []):
        questions, model_map = long_csv_sidecars(path, by_format)
        table = long_csv.load_long_csv(path, questions=questions, model_map=model_map)
        matrices.append(table.matrix)
        graph.update(table.graph)
    for path in by_format.get("lm_eval", []):
        runs = lm_eval.read_output(path)
        matrices.append(lm_eval.runs_matrix(runs))
        for run in runs:
            graph.add_node(run.model)
    return Dataset(combine(matrices) if matrices else None, graph, formats)


def _sidecar(path: Path, given: list[Path], stem: str, sole: bool) -> Path | None:
    for candidate in given:
        if candidate.name.startswith(stem):
            return candidate
    for suffix in (".csv", ".csv.gz"):
        sibling = path.with_name(stem + suffix)
        if sibling.exists():
            return sibling
    # a lone sidecar under another name belongs to the lone long CSV, never to one of several
    return given[0] if len(given) == 1 and sole else None
