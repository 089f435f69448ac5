"""Edge lists: ``source`` (parent), ``target`` (child), ``edge`` (finetuned/merged/quantized/adapter).

The shape of ``hf_lineage_edges_2025-06.csv`` (a crawl of the Hub's ``base_model:*`` tags). Also
reads the project's own export (``child,parent,relation[,weight]``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

from hub_lineage.errors import DataFormatError, DataWarning, InvalidInputError
from hub_lineage.ids import is_repo_id
from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.lineage.weights import check_weight
from hub_lineage.data.sources.text import dict_reader, open_text

CRAWL_COLUMNS = ("source", "target", "edge")
EXPORT_COLUMNS = ("child", "parent", "relation")


def is_edge_list(header: list[str]) -> bool:
    """Whether a CSV header is one of the two edge-list shapes."""
    cols = set(header)
    return set(CRAWL_COLUMNS) <= cols or set(EXPORT_COLUMNS) <= cols


def iter_edges(path: str | Path) -> Iterator[Edge]:
    """Yield the edges of an edge-list CSV; rows with an unknown relation are skipped with a warning."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(f"Edge list {str(path)!r} does not exist.")
    with open_text(path) as handle:
        reader = dict_reader(handle, path)
        header = reader.fieldnames or []
        if set(CRAWL_COLUMNS) <= set(header):
            child_col, parent_col, rel_col = "target", "source", "edge"
        elif set(EXPORT_COLUMNS) <= set(header):
            child_col, parent_col, rel_col = "child", "parent", "relation"
        else:
            raise DataFormatError(
                f"Edge list {str(path)!r} has columns {header}: it needs 'source,target,edge' "
                "(parent, child, relation) or 'child,parent,relation'.")
        bad: list[str] = []
        for line, row in enumerate(reader, start=2):
            child, parent = (row.get(child_col) or "").strip(), (row.get(parent_col) or "").strip()
            if not child or not parent:
                bad.append(f"line {line}: empty model id")
                continue
            invalid = next((m for m in (parent, child) if not is_repo_id(m)), None)
            if invalid is not None:  # the one repo-id rule: no 'bad id/x', '../../x' or NUL stored as a model
                bad.append(f"line {line}: {invalid[:80]!r} is not a valid Hub repo id")
                continue
            try:
                relation = Relation.parse(row.get(rel_col) or "")
                weight = (row.get("weight") or "").strip()
                w = check_weight(weight, f"line {line}") if weight else None
            except InvalidInputError as exc:
                bad.append(f"line {line}: {exc}")
                continue
            yield Edge(child, parent, relation, w)
        if bad:
            warnings.warn(DataWarning(f"Skipped {len(bad)} row(s) of {path.name} (first: {bad[0]}).",
                                      skipped=len(bad)), stacklevel=2)


def load_edge_list(path: str | Path) -> LineageGraph:
    """A LineageGraph from an edge-list CSV (self-loops and cycles broken with one warning)."""
    return LineageGraph(iter_edges(path))
