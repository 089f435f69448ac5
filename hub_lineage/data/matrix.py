"""ObservationMatrix: what each model scored on each item, with missing cells kept missing.

An *item* is either one instance (a cell is 0 or 1: the model answered it correctly or not) or a
benchmark-level aggregate (a cell is a fraction k/n with ``n`` instances behind it, entering the
binomial likelihood with weight ``n``). Items belong to benchmarks; a model's benchmark score is the
count-weighted mean of its observed cells in that benchmark.

Storage is a dense float32 array with NaN for missing cells: at the paper's scale (3,000 models x
21,606 instances, ~95% observed) that is 260 MB, smaller than any sparse triplet form at that
density, and it gives the fitting code contiguous rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from hub_lineage.errors import InvalidInputError


@dataclass(eq=False)
class ObservationMatrix:
    """Models x items observations.

    Attributes
    ----------
    models : list of str, length n_models
        Row ids (Hub repo ids).
    items : list of str, length n_items
        Column ids: instance keys (e.g. ``leaderboard_bbh_navigate/<doc_hash>``) or aggregate
        keys (e.g. ``bbh``).
    values : ndarray of shape (n_models, n_items), float32
        Fraction correct in [0, 1]; NaN where the model was not observed on the item.
    item_benchmarks : list of str, length n_items
        Benchmark key of each item (``bbh``, ``mmlu_pro``, an lm-eval task name...).
    item_counts : ndarray of shape (n_items,), float32
        Instances behind each cell: 1 for an instance, n for an aggregate.
    item_texts : list of str or None
        Prompt text of each item, for instance embeddings (None for aggregates).
    model_meta : dict
        Per-model factors for baselines: ``{model: {"architecture", "params_b", "type", "merged"}}``.
    """

    models: list[str]
    items: list[str]
    values: np.ndarray
    item_benchmarks: list[str]
    item_counts: np.ndarray | None = None
    item_texts: list[str] | None = None
    model_meta: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.models = list(self.models)
        self.items = list(self.items)
        self.item_benchmarks = list(self.item_benchmarks)
        self.values = np.asarray(self.values, dtype=np.float32)
        n_models, n_items = len(self.models), len(self.items)
        if self.values.shape != (n_models, n_items):
            raise InvalidInputError(
                f"values has shape {self.values.shape}, but there are {n_models} models and "
                f"{n_items} items: the shape must be (n_models, n_items).")
        if len(self.item_benchmarks) != n_items:
            raise InvalidInputError(
                f"item_benchmarks has {len(self.item_benchmarks)} entries for {n_items} items.")
        if self.item_counts is None:
            self.item_counts = np.ones(n_items, dtype=np.float32)
        self.item_counts = np.asarray(self.item_counts, dtype=np.float32)
        if self.item_counts.shape != (n_items,) or (self.item_counts <= 0).any():
            raise InvalidInputError("item_counts must hold one positive instance count per item.")
        if self.item_texts is not None and len(self.item_texts) != n_items:
            raise InvalidInputError(f"item_texts has {len(self.item_texts)} entries for {n_items} items.")
        _check_unique(self.models, "model")
        _check_unique(self.items, "item")
        bad = np.isinf(self.values) | (self.values < 0) | (self.values > 1)
        if bad.any():
            r, c = map(int, np.argwhere(bad)[0])
            raise InvalidInputError(
                f"Observation {float(self.values[r, c])!r} for model {self.models[r]!r} on item "
                f"{self.items[c]!r} is out of range: values are fractions in [0, 1] (NaN = missing).")

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_records(
        cls,
        records: Iterable[tuple[str, str, float]],
        item_benchmarks: Mapping[str, str],
        item_counts: Mapping[str, float] | None = None,
        item_texts: Mapping[str, str] | None = None,
        model_meta: Mapping[str, dict[str, Any]] | None = None,
    ) -> ObservationMatrix:
        """Build from ``(model, item, value)`` triplets; the last value of a repeated cell wins.

        Items are ordered as in ``item_benchmarks``; models in order of first appearance.
        """
        items = list(item_benchmarks)
        item_pos = {item: j for j, item in enumerate(items)}
        model_pos: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for model, item, value in records:
            j = item_pos.get(item)
            if j is None:
                raise InvalidInputError(f"Item {item!r} of model {model!r} has no benchmark in item_benchmarks.")
            rows.append(model_pos.setdefault(model, len(model_pos)))
            cols.append(j)
            vals.append(value)
        values = np.full((len(model_pos), len(items)), np.nan, dtype=np.float32)
        values[rows, cols] = np.asarray(vals, dtype=np.float32)
        counts = None if item_counts is None else [item_counts.get(i, 1.0) for i in items]
        texts = None if item_texts is None else [item_texts.get(i, "") for i in items]
        return cls(list(model_pos), items, values, [item_benchmarks[i] for i in items],
                   counts, texts, dict(model_meta or {}))

    # -- index maps ---------------------------------------------------------------------------

    @cached_property
    def model_index(self) -> dict[str, int]:
        return {m: i for i, m in enumerate(self.models)}

    @cached_property
    def item_index(self) -> dict[str, int]:
        return {it: j for j, it in enumerate(self.items)}

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape  # type: ignore[return-value]

    @property
    def mask(self) -> np.ndarray:
        """Boolean (n_models, n_items): True where a cell is observed."""
        return ~np.isnan(self.values)

    @property
    def n_observed(self) -> int:
        return int(self.mask.sum())

    @cached_property
    def benchmarks(self) -> list[str]:
        """Benchmark keys in order of first appearance among the items."""
        return list(dict.fromkeys(self.item_benchmarks))

    def benchmark_items(self, benchmark: str) -> np.ndarray:
        """Column indices (int array) of the items of ``benchmark``."""
        if benchmark not in self.benchmarks:
            raise InvalidInputError(
                f"Unknown benchmark {benchmark!r}: this matrix has {', '.join(self.benchmarks)}.")
        return np.flatnonzero(np.asarray(self.item_benchmarks) == benchmark)

    def is_instance_level(self) -> bool:
        """True when every item is a single instance (count 1, binary values)."""
        return bool((self.item_counts == 1).all())

    # -- views --------------------------------------------------------------------------------

    def benchmark_scores(self, values: np.ndarray | None = None) -> np.ndarray:
        """Per-benchmark accuracy (n_rows, n_benchmarks), count-weighted over observed cells.

        ``values`` defaults to the observations; pass predicted probabilities (same columns) to
        aggregate predictions the same way. Benchmarks with no observed cell give NaN.
        """
        vals = self.values if values is None else np.asarray(values, dtype=np.float64)
        vals = np.atleast_2d(vals)
        out = np.full((vals.shape[0], len(self.benchmarks)), np.nan)
        for b, bench in enumerate(self.benchmarks):
            cols = self.benchmark_items(bench)
            block = vals[:, cols]
            weight = np.where(np.isnan(block), 0.0, self.item_counts[cols])
            total = weight.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[:, b] = np.where(total > 0, np.nansum(block * weight, axis=1) / total, np.nan)
        return out

    def select_models(self, models: Sequence[str]) -> ObservationMatrix:
        """Rows for ``models`` in that order (unknown ids raise)."""
        missing = [m for m in models if m not in self.model_index]
        if missing:
            raise InvalidInputError(f"Model {missing[0]!r} is not in this matrix ({len(missing)} unknown).")
        rows = [self.model_index[m] for m in models]
        meta = {m: self.model_meta[m] for m in models if m in self.model_meta}
        return ObservationMatrix(list(models), self.items, self.values[rows], self.item_benchmarks,
                                 self.item_counts, self.item_texts, meta)

    def select_items(self, columns: Sequence[int] | np.ndarray) -> ObservationMatrix:
        """Columns at the given indices, e.g. ``benchmark_items("bbh")``."""
        cols = np.asarray(columns, dtype=int)
        return ObservationMatrix(
            self.models, [self.items[j] for j in cols], self.values[:, cols],
            [self.item_benchmarks[j] for j in cols], self.item_counts[cols],
            None if self.item_texts is None else [self.item_texts[j] for j in cols], self.model_meta)

    def without_models(self, models: Iterable[str]) -> ObservationMatrix:
        """A copy without the rows of ``models`` (held-out models contribute no observations)."""
        drop = set(models)
        return self.select_models([m for m in self.models if m not in drop])

    def to_records(self) -> Iterable[tuple[str, str, float]]:
        """Yield ``(model, item, value)`` for every observed cell."""
        rows, cols = np.nonzero(self.mask)
        for r, c in zip(rows.tolist(), cols.tolist()):
            yield self.models[r], self.items[c], float(self.values[r, c])

    def __repr__(self) -> str:
        return (f"ObservationMatrix(models={len(self.models)}, items={len(self.items)}, "
                f"observed={self.n_observed}, benchmarks={self.benchmarks})")


def combine(matrices: Sequence[ObservationMatrix]) -> ObservationMatrix:
    """Union of matrices over models and items (a cell seen twice keeps the later matrix's value)."""
    if not matrices:
        raise InvalidInputError("Cannot combine an empty list of observation matrices.")
    models = list(dict.fromkeys(m for mat in matrices for m in mat.models))
    items: dict[str, tuple[str, float, str | None]] = {}
    for mat in matrices:
        for j, item in enumerate(mat.items):
            text = None if mat.item_texts is None else mat.item_texts[j]
            items[item] = (mat.item_benchmarks[j], float(mat.item_counts[j]), text)
    m_pos = {m: i for i, m in enumerate(models)}
    i_pos = {it: j for j, it in enumerate(items)}
    values = np.full((len(models), len(items)), np.nan, dtype=np.float32)
    meta: dict[str, dict[str, Any]] = {}
    for mat in matrices:
        rows = np.array([m_pos[m] for m in mat.models], dtype=int)
        cols = np.array([i_pos[it] for it in mat.items], dtype=int)
        block = values[np.ix_(rows, cols)]
        observed = ~np.isnan(mat.values)
        block[observed] = mat.values[observed]
        values[np.ix_(rows, cols)] = block
        meta.update(mat.model_meta)
    texts = [t for _, _, t in items.values()]
    return ObservationMatrix(
        models, list(items), values, [b for b, _, _ in items.values()],
        np.array([c for _, c, _ in items.values()], dtype=np.float32),
        None if all(t is None for t in texts) else [t or "" for t in texts], meta)


def _check_unique(ids: Sequence[str], what: str) -> None:
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        dup = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise InvalidInputError(f"Duplicate {what} id {dup!r}: each {what} must appear once.")
