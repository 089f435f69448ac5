"""Node names and observed scores of a saved predictor, read lazily (predictor format 2).

Parsing 32,488 node names and 3,753 models' scores from JSON and building dicts of them was most
of a ``hub-lineage predict`` process's work after its imports, and it grows with the graph (2 M
Hub models would take about a second). Format 2 keeps both as ``.npy`` arrays opened with
``mmap_mode="r"``: the names sorted as UTF-8 bytes (a name's node index is its position, found by
binary search), the scores as one float64 row per scored model. A prediction touches a few pages.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from hub_lineage.files import write_atomic


def _save_npy(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    write_atomic(path, buffer.getvalue())


def _load_npy(path: Path) -> np.ndarray:
    # mmap: only the pages a lookup touches are read (a 0-length array cannot be mapped)
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    return np.asarray(array) if array.size == 0 else array


class NodeNames(Sequence[str]):
    """Node names in sorted (UTF-8 byte) order: ``names[i]`` and ``names.index_of(name)`` in O(log n).

    ``array`` is a 1-D ``S`` (bytes) array, strictly increasing; node ids never contain NUL, so
    the ``S`` dtype's NUL padding loses nothing.
    """

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    @classmethod
    def from_names(cls, names: Sequence[str]) -> tuple[NodeNames, np.ndarray]:
        """Sorted, de-duplicated names and ``position`` (len(names),): the new index of each given name."""
        encoded = [n.encode("utf-8") for n in names]
        unique = sorted(set(encoded))  # bytes order: numpy's order of S strings (no name holds a NUL)
        array = np.array(unique, dtype=f"S{max(map(len, unique), default=1) or 1}")
        at = {b: i for i, b in enumerate(unique)}
        return cls(array), np.array([at[b] for b in encoded], dtype=np.int64)

    def positions(self, names: Sequence[str]) -> np.ndarray:
        """The node index of each name (len(names),), -1 for a name that is no node (one dict, built here)."""
        at = {b: i for i, b in enumerate(self.array.tolist())}
        return np.array([at.get(n.encode("utf-8"), -1) for n in names], dtype=np.int64)

    def index_of(self, name: str) -> int | None:
        """The node index of ``name``, or None when it is not a node."""
        key = name.encode("utf-8")
        if len(key) > self.array.dtype.itemsize or not key or key.endswith(b"\0"):
            return None
        i = int(np.searchsorted(self.array, key))
        return i if i < len(self.array) and self.array[i] == key else None

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [b.decode("utf-8") for b in self.array[i]]
        return bytes(self.array[i]).decode("utf-8")

    def take(self, indices: np.ndarray) -> list[str]:
        """The names at ``indices`` (one vectorised gather, then decoding: 8x faster than indexing each)."""
        return [b.decode("utf-8") for b in self.array[indices].tolist()]

    def __len__(self) -> int:
        return len(self.array)

    def __iter__(self) -> Iterator[str]:
        return (b.decode("utf-8") for b in self.array)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.index_of(name) is not None

    def save(self, path: Path) -> None:
        _save_npy(path, self.array)

    @classmethod
    def load(cls, path: Path) -> NodeNames:
        return cls(_load_npy(path))


class NameList(Sequence[str]):
    """Node names in a given order with a dict index: format 1's ``graph_nodes.json`` as it was read
    (sorting and renumbering 32,488 names on every load would cost more than that format's dict)."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self._index = {n: i for i, n in enumerate(names)}

    def index_of(self, name: str) -> int | None:
        return self._index.get(name)

    def __getitem__(self, i):  # type: ignore[override]
        return self.names[i]

    def take(self, indices: np.ndarray) -> list[str]:
        """The names at ``indices``."""
        return [self.names[i] for i in indices]

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self._index


class ObservedScores:
    """Each scored model's benchmark scores, keyed by node: ``model in scores``, ``scores.get(model)``.

    ``row`` (n_nodes,) int32: the model's row in ``values`` (n_scored, n_benchmarks) float64, -1
    for an unscored node; NaN marks a benchmark without a score. A scored model may have no finite
    score at all: it is still ``in`` the table (it was a training row), and ``get`` gives ``{}``.
    """

    def __init__(self, names: NodeNames, benchmarks: Sequence[str], row: np.ndarray, values: np.ndarray) -> None:
        self.names, self.benchmarks = names, list(benchmarks)
        self.row, self.values = row, values

    @classmethod
    def from_dict(cls, observed: Mapping[str, Mapping[str, float]], names: NodeNames,
                  benchmarks: Sequence[str]) -> ObservedScores | None:
        """The table of ``observed`` ({model: {benchmark: score}}); None when a model is no node."""
        row = np.full(len(names), -1, dtype=np.int32)
        values = np.full((len(observed), len(benchmarks)), np.nan)
        column = {b: k for k, b in enumerate(benchmarks)}
        where = names.positions(list(observed))
        if (where < 0).any():
            return None
        row[where] = np.arange(len(where), dtype=np.int32)
        for r, scores in enumerate(observed.values()):
            for b, v in scores.items():
                k = column.get(b)
                if k is None:
                    return None
                values[r, k] = v
        return cls(names, benchmarks, row, values)

    def _row(self, model: object) -> int:
        i = self.names.index_of(model) if isinstance(model, str) else None
        return -1 if i is None else int(self.row[i])

    def __contains__(self, model: object) -> bool:
        return self._row(model) >= 0

    def get(self, model: str, default: dict[str, float] | None = None) -> dict[str, float] | None:
        """``{benchmark: score}`` in benchmark order (finite scores only), or ``default`` when unscored."""
        r = self._row(model)
        if r < 0:
            return default
        return {b: float(v) for b, v in zip(self.benchmarks, self.values[r]) if np.isfinite(v)}

    def save(self, directory: Path) -> None:
        _save_npy(directory / "observed_rows.npy", self.row)
        _save_npy(directory / "observed_scores.npy", np.ascontiguousarray(self.values, dtype=np.float64))

    @classmethod
    def load(cls, directory: Path, names: NodeNames, benchmarks: Sequence[str]) -> ObservedScores:
        row, values = _load_npy(directory / "observed_rows.npy"), _load_npy(directory / "observed_scores.npy")
        if row.shape != (len(names),) or values.ndim != 2 or values.shape[1] != len(benchmarks):
            raise ValueError(f"observed_rows.npy {row.shape} / observed_scores.npy {values.shape} do not match "
                             f"{len(names)} nodes and {len(benchmarks)} benchmarks")
        return cls(names, benchmarks, row, values)


__all__ = ["NameList", "NodeNames", "ObservedScores"]
