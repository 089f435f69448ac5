"""Long CSVs of instance-level correctness: ``model,instance,correct`` (one row per answer).

MMLU-Pro's released outputs take the same shape as ``model,question_id,correct``, with the
question text in a second file (``question_id,category,src,question,options,answer``) and a model
map (``model,hf_id,parent_hf_id,relation``) that turns short names into Hub ids and gives the
direct parents that are known.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
import numpy as np

from hub_lineage.errors import DataFormatError, DataWarning
from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.data.sources.text import dict_reader, open_text, read_header  # noqa: F401  (read_header: re-exported)

INSTANCE_COLUMNS = ("instance", "question_id", "doc_hash", "item")
MODEL_MAP_COLUMNS = ("model", "hf_id")
QUESTION_COLUMNS = ("question_id", "question")


def is_long_csv(header: list[str]) -> bool:
    return "model" in header and "correct" in header and any(c in header for c in INSTANCE_COLUMNS)


def is_model_map(header: list[str]) -> bool:
    return set(MODEL_MAP_COLUMNS) <= set(header) and "correct" not in header


def is_question_table(header: list[str]) -> bool:
    return set(QUESTION_COLUMNS) <= set(header)


@dataclass
class LongTable:
    """What a long CSV (plus its optional question and model files) holds."""

    matrix: ObservationMatrix
    graph: LineageGraph


def iter_answers(path: str | Path) -> Iterator[tuple[str, str, float]]:
    """Yield ``(model, instance, correct)``; rows with a value other than 0/1 are skipped with a warning."""
    with open_text(path) as handle:
        reader = dict_reader(handle, path)
        header = reader.fieldnames or []
        if not is_long_csv(header):
            raise DataFormatError(
                f"{str(path)!r} has columns {header}: a long CSV needs 'model', 'correct' and an "
                f"instance column (one of {', '.join(INSTANCE_COLUMNS)}).")
        inst_col = next(c for c in INSTANCE_COLUMNS if c in header)
        skipped, first = 0, ""
        for line, row in enumerate(reader, start=2):
            raw = (row.get("correct") or "").strip().lower()
            value = {"1": 1.0, "0": 0.0, "true": 1.0, "false": 0.0, "1.0": 1.0, "0.0": 0.0}.get(raw)
            model, inst = (row.get("model") or "").strip(), (row.get(inst_col) or "").strip()
            if value is None or not model or not inst:
                skipped += 1
                first = first or f"line {line}: correct={raw!r} (must be 0 or 1)"
                continue
            yield model, inst, value
        if skipped:
            warnings.warn(DataWarning(f"Skipped {skipped} row(s) of {Path(path).name} ({first}).", skipped=skipped),
                          stacklevel=2)


def read_questions(path: str | Path) -> dict[str, tuple[str, str]]:
    """``question_id -> (prompt text, category)`` from an MMLU-Pro style question table."""
    out = {}
    with open_text(path) as handle:
        for row in dict_reader(handle, path):
            text = row["question"]
            if row.get("options"):
                text = f"{text}\nOptions: {row['options']}"
            out[row["question_id"]] = (text, row.get("category") or "")
    return out


def read_model_map(path: str | Path) -> tuple[dict[str, str], LineageGraph]:
    """Short model name -> Hub id, and the known direct parents as a LineageGraph."""
    names: dict[str, str] = {}
    graph = LineageGraph()
    edges = []
    with open_text(path) as handle:
        for row in dict_reader(handle, path):
            hub_id = (row.get("hf_id") or "").strip() or row["model"]
            names[row["model"]] = hub_id
            graph.add_node(hub_id)
            parent = (row.get("parent_hf_id") or "").strip()
            if parent:
                edges.append(Edge(hub_id, parent, Relation.parse(row.get("relation") or "finetune")))
    graph.add_edges(edges)
    return names, graph


def load_long_csv(
    path: str | Path,
    *,
    benchmark: str | None = None,
    questions: str | Path | None = None,
    model_map: str | Path | None = None,
) -> LongTable:
    """Binary instance-level observations from a long CSV.

    Items are ``<benchmark>/<instance>``; ``benchmark`` defaults to the file's stem up to the first
    underscore-separated word ``correctness`` (``mmlu_pro_correctness.csv.gz`` -> ``mmlu_pro``).
    """
    path = Path(path)
    bench = benchmark or _benchmark_from_name(path)
    names, graph = read_model_map(model_map) if model_map else ({}, LineageGraph())
    texts = read_questions(questions) if questions else {}
    records = [(names.get(m, m), f"{bench}/{i}", v) for m, i, v in iter_answers(path)]
    if not records:
        raise DataFormatError(f"{str(path)!r} holds no usable answers.")
    item_ids = sorted({r[1] for r in records}, key=_natural)
    item_texts = {it: texts[it.split("/", 1)[1]][0] for it in item_ids if it.split("/", 1)[1] in texts}
    matrix = ObservationMatrix.from_records(
        records, {it: bench for it in item_ids}, None, item_texts if texts else None)
    for model in matrix.models:
        graph.add_node(model)
    return LongTable(matrix, graph)


def _benchmark_from_name(path: Path) -> str:
    stem = path.name.split(".")[0]
    return stem.removesuffix("_correctness") or stem


def _natural(item: str) -> tuple[str, int | float, str]:
    head, _, tail = item.rpartition("/")
    return (head, int(tail), "") if tail.isdigit() else (head, np.inf, tail)
