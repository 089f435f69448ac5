"""The fitted state of an LRMF: factors, biases, node and item index, and what fold-in needs.

:class:`FittedFactors` is what :meth:`LRMF.fit <hub_lineage.model.lrmf.LRMF.fit>` produces and
:meth:`LRMF.save` writes; :mod:`hub_lineage.model.foldin` and the predictor read it, never the
estimator's private attributes. It is a frozen value: its arrays are read-only, so one fitted state
can be shared by an estimator, its fold-ins and a predictor without copies.

On disk (no pickle): ``lrmf.npz`` (the arrays) and ``lrmf.json`` (format, the estimator's
parameters, node and item names, fit statistics), written atomically, the JSON last.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hub_lineage.errors import InvalidInputError, NotFittedError
from hub_lineage.files import write_atomic

FORMAT = "hub-lineage-lrmf/1"
_ARRAYS = ("model_factors", "instance_factors", "model_bias", "item_bias", "item_counts", "supported")


@dataclass(frozen=True, eq=False)
class FittedFactors:
    """Fitted LRMF parameters and the fit settings a fold-in reuses.

    Attributes
    ----------
    nodes : list of str, (n_nodes,)
        Lineage nodes: the matrix's models first, then unevaluated graph nodes.
    items, item_benchmarks : list of str, (n_items,)
    item_counts : ndarray (n_items,), float32
        Instances behind each item (1 for a binary item).
    model_factors : ndarray (n_nodes, d)
    instance_factors : ndarray (n_items, d)
    model_bias : ndarray (n_nodes,)
        Zeros without ``biases``.
    item_bias : ndarray (n_items,)
    kappa : ndarray (n_items,) or None
        Chance level per item (``chance="items"``), else None.
    supported : ndarray (n_nodes,), bool
        Nodes that are evaluated or linked to an evaluated node (others cannot be predicted).
    count_scale : float
        Mean instance count per evaluated model: a cell's likelihood weight is ``count / count_scale``.
    biases : bool
    lambda_lineage, reg : float
        The lineage-Laplacian and L2 weights of the fit (fold-in solves the same objective).
    relation_weights : mapping or None
        Edge weight per relation, as given to the fit.
    """

    nodes: list[str]
    items: list[str]
    item_benchmarks: list[str]
    item_counts: np.ndarray
    model_factors: np.ndarray
    instance_factors: np.ndarray
    model_bias: np.ndarray
    item_bias: np.ndarray
    kappa: np.ndarray | None
    supported: np.ndarray
    count_scale: float
    biases: bool
    lambda_lineage: float
    reg: float
    relation_weights: Mapping[str, float] | None = None
    node_index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "node_index", {n: i for i, n in enumerate(self.nodes)})
        for name in (*_ARRAYS, "kappa"):
            value = getattr(self, name)
            if value is not None:
                value.flags.writeable = False

    @classmethod
    def from_params(cls, P: np.ndarray, Q: np.ndarray, *, n_factors: int, biases: bool, **fields: Any
                    ) -> FittedFactors:
        """Split solver parameters ``P`` (n_nodes, k) and ``Q`` (n_items, k), ``k = d (+1 bias)``."""
        d = n_factors
        n_nodes, n_items = P.shape[0], Q.shape[0]
        return cls(
            model_factors=np.ascontiguousarray(P[:, :d]),
            instance_factors=np.ascontiguousarray(Q[:, :d]),
            model_bias=P[:, d].copy() if biases else np.zeros(n_nodes),
            item_bias=Q[:, d].copy() if biases else np.zeros(n_items),
            biases=biases, **fields)

    # -- shapes and parameter rows ----------------------------------------------------------------

    @property
    def n_factors(self) -> int:
        return int(self.model_factors.shape[1])

    @property
    def width(self) -> int:
        """Columns of a parameter row: ``d`` (+1 for the bias)."""
        return self.n_factors + int(self.biases)

    def rows(self, rows: Any) -> np.ndarray:
        """Parameter rows ``[u | b]`` of fitted nodes (float64), gathered on demand: copying all of
        them (30,000 x 33 at the Hub's scale) would cost more than a one-model fold-in."""
        P = np.asarray(self.model_factors[rows], dtype=np.float64)
        if self.biases:
            return np.concatenate([P, np.asarray(self.model_bias[rows], dtype=np.float64)[..., None]], axis=-1)
        return P

    def item_params(self) -> np.ndarray:
        """``[v | c]`` per item, (n_items, width)."""
        if self.biases:
            return np.column_stack([self.instance_factors, self.item_bias])
        return self.instance_factors

    def proba(self, P: np.ndarray) -> np.ndarray:
        """``p = kappa + (1 - kappa) sigmoid(u . v (+ b + c))`` for parameter rows ``P`` (n, width): (n, n_items)."""
        d = self.n_factors
        x = P[:, :d] @ self.instance_factors.T
        if self.biases:
            x = x + P[:, d][:, None] + self.item_bias[None, :]
        s = 1.0 / (1.0 + np.exp(-x))
        return s if self.kappa is None else self.kappa + (1 - self.kappa) * s

    # -- persistence ------------------------------------------------------------------------------

    def save(self, directory: str | Path, *, params: Mapping[str, Any], n_iter: int,
             loss_curve: Sequence[float]) -> None:
        """Write ``lrmf.npz`` then ``lrmf.json`` into ``directory``, each atomically.

        ``params`` are the estimator's parameters (``LRMF.get_params()``), stored so that
        :meth:`load` rebuilds the same estimator.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        if self.kappa is not None:
            arrays["kappa"] = self.kappa
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        meta = {"format": FORMAT, "params": dict(params), "nodes": self.nodes, "items": self.items,
                "item_benchmarks": self.item_benchmarks, "n_iter": int(n_iter),
                "loss_curve": [float(v) for v in loss_curve], "count_scale": self.count_scale}
        write_atomic(directory / "lrmf.npz", buffer.getvalue())
        write_atomic(directory / "lrmf.json", json.dumps(meta))

    @classmethod
    def load(cls, directory: str | Path) -> tuple[FittedFactors, dict[str, Any]]:
        """Read what :meth:`save` wrote: ``(factors, meta)``, ``meta`` holding ``params``,
        ``n_iter`` and ``loss_curve``."""
        directory = Path(directory)
        if not (directory / "lrmf.json").is_file() or not (directory / "lrmf.npz").is_file():
            raise NotFittedError(f"No saved LRMF in {str(directory)!r}: expected lrmf.json and lrmf.npz there.")
        meta = json.loads((directory / "lrmf.json").read_text())
        if meta.get("format") != FORMAT:
            raise InvalidInputError(f"{str(directory)!r} holds format {meta.get('format')!r}, not {FORMAT!r}.")
        with np.load(directory / "lrmf.npz", allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        params = meta["params"]
        d = int(params["n_factors"])
        biases = bool(params["biases"])
        factors = cls(
            nodes=list(meta["nodes"]), items=list(meta["items"]), item_benchmarks=list(meta["item_benchmarks"]),
            item_counts=np.asarray(arrays["item_counts"], dtype=np.float32),
            model_factors=np.ascontiguousarray(arrays["model_factors"][:, :d]),
            instance_factors=np.ascontiguousarray(arrays["instance_factors"][:, :d]),
            model_bias=arrays["model_bias"].copy() if biases else np.zeros(len(meta["nodes"])),
            item_bias=arrays["item_bias"].copy() if biases else np.zeros(len(meta["items"])),
            kappa=arrays.get("kappa"), supported=np.asarray(arrays["supported"], dtype=bool),
            count_scale=meta["count_scale"], biases=biases,
            lambda_lineage=params["lambda_lineage"], reg=params["reg"],
            relation_weights=params.get("relation_weights"))
        return factors, meta


__all__ = ["FORMAT", "FittedFactors"]
