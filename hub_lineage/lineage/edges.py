"""Lineage edges: how a child was made from a parent (:class:`Relation`) and the :class:`Edge` itself.

Pure data, no I/O. Every source of lineage (cards, tags, configs, recipes, edge lists, the store)
produces :class:`Edge` objects; :class:`~hub_lineage.lineage.graph.LineageGraph` holds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from hub_lineage.errors import DataFormatError, InvalidInputError, InvalidRepoIdError
from hub_lineage.ids import check_repo_id
from hub_lineage.lineage.weights import check_weight


class Relation(str, Enum):
    """How a child was made from a parent (the Hub's ``base_model_relation`` values)."""

    FINETUNE = "finetune"
    MERGE = "merge"
    ADAPTER = "adapter"
    QUANTIZED = "quantized"

    @classmethod
    def parse(cls, label: str | Relation) -> Relation:
        """Read a relation label as the Hub and edge lists spell it (``finetuned``, ``merged``...)."""
        if isinstance(label, Relation):
            return label
        key = str(label).strip().lower().replace("-", "").replace("_", "")
        relation = _RELATION_ALIASES.get(key)
        if relation is None:
            allowed = ", ".join(r.value for r in cls)
            raise InvalidInputError(f"Unknown lineage relation {label!r}: expected one of {allowed}.")
        return relation


_RELATION_ALIASES = {
    "finetune": Relation.FINETUNE,
    "finetuned": Relation.FINETUNE,
    "finetuning": Relation.FINETUNE,
    "merge": Relation.MERGE,
    "merged": Relation.MERGE,
    "adapter": Relation.ADAPTER,
    "adapters": Relation.ADAPTER,
    "lora": Relation.ADAPTER,
    "quantized": Relation.QUANTIZED,
    "quantization": Relation.QUANTIZED,
    "quantised": Relation.QUANTIZED,
}

#: Key of ``relation_weights`` that weighs root edges in :meth:`LineageGraph.laplacian`.
ROOT = "root"


@dataclass(frozen=True)
class Edge:
    """``child`` was made from ``parent``; ``weight`` is a merge's mixing weight when known."""

    child: str
    parent: str
    relation: Relation = Relation.FINETUNE
    weight: float | None = None
    root: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"child", "parent", "relation", "weight"}`` (+ ``"root": true``)."""
        out: dict[str, Any] = {
            "child": self.child,
            "parent": self.parent,
            "relation": self.relation.value,
            "weight": self.weight,
        }
        if self.root:
            out["root"] = True
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Edge:
        try:
            weight = data.get("weight")
            return cls(
                child=str(data["child"]),
                parent=str(data["parent"]),
                relation=Relation.parse(data.get("relation", "finetune")),
                weight=None if weight is None else float(weight),
                root=bool(data.get("root", False)),
            )
        except KeyError as exc:
            raise DataFormatError(f"Lineage edge {dict(data)!r} lacks the field {exc.args[0]!r}.") from None


def parse_parent(spec: str, child: str) -> Edge:
    """``ID[:relation[:weight]]`` (the ``--parent`` option) -> an :class:`Edge` from ``child``."""
    parent, _, rest = spec.partition(":")
    relation, _, weight = rest.partition(":")
    try:
        check_repo_id(parent, namespace=True)
    except InvalidRepoIdError as exc:
        raise InvalidRepoIdError(f"--parent {spec!r}: {exc}") from None
    w = check_weight(weight, f"--parent {spec!r}") if weight else None
    return Edge(child, parent, Relation.parse(relation or "finetune"), w)
