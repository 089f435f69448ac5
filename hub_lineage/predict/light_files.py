"""A saved predictor's files read without numpy: what :mod:`hub_lineage.predict.light` predicts from.

numpy's import alone is 0.15-0.19 s of a 0.4 s ``hub-lineage predict`` on the 2-core machine
(measured, docs/performance.md), while one prediction reads a few hundred numbers. So the arrays
the predictor saved with numpy (``.npy``, and ``.npz`` archives of them written by ``np.savez``)
are read here with the standard library: the header gives dtype and shape, and the data is viewed
in place (``memoryview.cast``; large files memory-mapped, so a lookup touches a few pages).

Only what ``Predictor.save`` writes is read: little-endian numeric or ``S`` (bytes) arrays in C
order, stored (uncompressed) archive members. Anything else raises :class:`Unreadable`, and the
caller predicts with the numpy :class:`~hub_lineage.predict.predictor.Predictor` instead.
"""

from __future__ import annotations

import json
import math
import mmap
import re
import struct
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

from hub_lineage.predict.neighbourhood import GroupedEdges

#: numpy dtype ``descr`` -> ``struct``/``memoryview`` code of the arrays a predictor holds.
_CODES = {"<f8": "d", "<f4": "f", "<i8": "q", "<i4": "i", "<i2": "h", "|i1": "b", "|u1": "B", "|b1": "?"}
_HEADER = re.compile(r"""\{'descr': '([^']+)', 'fortran_order': (True|False), 'shape': \(([0-9, ]*)\), *\}""")


class Unreadable(Exception):
    """A file this reader does not handle (another layout, format or dtype): use the numpy path."""


@dataclass(frozen=True)
class Array:
    """An array viewed in place: ``shape``, numpy ``descr`` and ``data``, a flat memoryview of its
    elements (C order; for an ``S`` array, of its raw bytes, ``itemsize`` per element)."""

    shape: tuple[int, ...]
    descr: str
    data: memoryview

    @property
    def itemsize(self) -> int:
        return int(self.descr[2:]) if self.descr.startswith("|S") else struct.calcsize(_CODES[self.descr])

    def row(self, i: int) -> list[Any]:
        """Row ``i`` of a 2-D array as Python values."""
        width = self.shape[1]
        return self.data[i * width:(i + 1) * width].tolist()


def parse_npy(buffer: memoryview, offset: int = 0) -> tuple[Array, int]:
    """The ``.npy`` array starting at ``offset`` of ``buffer``, and the offset just past it."""
    if bytes(buffer[offset:offset + 6]) != b"\x93NUMPY":
        raise Unreadable("not a .npy array")
    major = buffer[offset + 6]
    size_format, start = ("<H", 8) if major == 1 else ("<I", 8)
    (header_len,) = struct.unpack_from(size_format, buffer, offset + start)
    data_at = offset + start + struct.calcsize(size_format) + header_len
    header = bytes(buffer[offset + start + struct.calcsize(size_format):data_at]).decode("latin-1").strip()
    match = _HEADER.fullmatch(header)
    if match is None or match.group(2) == "True" or sys.byteorder != "little":
        raise Unreadable(f"an .npy header this reader does not handle: {header[:80]}")
    descr = match.group(1)
    shape = tuple(int(s) for s in match.group(3).replace(" ", "").split(",") if s)
    text = descr.startswith("|S") and descr[2:].isdigit()
    code = "B" if text else _CODES.get(descr)
    if code is None:
        raise Unreadable(f"dtype {descr!r} is not read without numpy")
    end = data_at + math.prod(shape) * (int(descr[2:]) if text else struct.calcsize(code))
    if end > len(buffer):
        raise Unreadable("a truncated .npy array")
    return Array(shape, descr, buffer[data_at:end] if text else buffer[data_at:end].cast(code)), end


def _mapped(path: Path) -> memoryview:
    """The file's bytes, memory-mapped: only the pages read are loaded (a 0-byte file cannot be
    mapped, ValueError: it holds no array anyway)."""
    with open(path, "rb") as handle:
        return memoryview(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))


def read_npy(path: Path) -> Array:
    """An ``.npy`` file, memory-mapped."""
    return parse_npy(_mapped(path))[0]


def read_npz(path: Path) -> dict[str, Array]:
    """The members of an ``np.savez`` archive by name (without ``.npy``): stored, not deflated;
    memory-mapped like :func:`read_npy`."""
    buffer = _mapped(path)
    out: dict[str, Array] = {}
    offset = 0
    while bytes(buffer[offset:offset + 4]) == b"PK\x03\x04":
        _, _, flags, method, _, _, _, _, _, name_len, extra_len = struct.unpack_from("<4s5H3I2H", buffer, offset)
        if method != 0 or flags & 0x08:  # deflated, or sizes after the data
            raise Unreadable(f"{path.name}: a compressed or streamed archive member")
        name = bytes(buffer[offset + 30:offset + 30 + name_len]).decode("utf-8")
        array, offset = parse_npy(buffer, offset + 30 + name_len + extra_len)
        out[name.removesuffix(".npy")] = array
    if not out or bytes(buffer[offset:offset + 4]) != b"PK\x01\x02":  # the central directory follows
        raise Unreadable(f"{path.name}: not an archive of .npy members")
    return out


class SortedNames:
    """Node names saved sorted as an ``S`` array (``graph_nodes.npy``): found by binary search,
    as :class:`~hub_lineage.predict.tables.NodeNames` finds them, without reading the others."""

    def __init__(self, array: Array) -> None:
        if len(array.shape) != 1 or not array.descr.startswith("|S"):
            raise Unreadable("graph_nodes.npy is not a 1-D bytes array")
        self.raw, self.width, self.size = array.data, array.itemsize, array.shape[0]
        self._found: dict[str, int | None] = {}  # a walk asks for the same names many times


    def _key(self, i: int) -> bytes:
        return bytes(self.raw[i * self.width:(i + 1) * self.width])

    def index_of(self, name: str) -> int | None:
        if name not in self._found:
            self._found[name] = self._search(name)
        return self._found[name]

    def _search(self, name: str) -> int | None:
        key = name.encode("utf-8")
        if len(key) > self.width or not key or key.endswith(b"\0"):
            return None
        padded = key.ljust(self.width, b"\0")  # numpy compares S strings NUL-padded
        lo, hi = 0, self.size
        while lo < hi:
            mid = (lo + hi) // 2
            if self._key(mid) < padded:
                lo = mid + 1
            else:
                hi = mid
        return lo if lo < self.size and self._key(lo) == padded else None

    def __getitem__(self, i: int) -> str:
        return self._key(i).rstrip(b"\0").decode("utf-8")

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(self.size))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.index_of(name) is not None


def _grouped(keys: memoryview, n: int) -> tuple[Sequence[int], Sequence[int]]:
    """Edge ids grouped by ``keys`` (stable, as numpy's stable argsort) and the group starts (n + 1,)."""
    counts = [0] * (n + 1)
    for k in keys:
        counts[k + 1] += 1
    starts = list(accumulate(counts))
    fill = starts[:-1]
    order = [0] * len(keys)
    for edge, k in enumerate(keys):
        order[fill[k]] = edge
        fill[k] += 1
    return order, starts


class LightGraph(GroupedEdges):
    """The predictor's lineage graph (``graph.npz`` + ``graph_nodes.npy``) as memoryviews: what
    :class:`~hub_lineage.predict.neighbourhood.CompactGraph` holds, the same edges in the same order."""

    def __init__(self, directory: Path) -> None:
        arrays = read_npz(directory / "graph.npz")
        self.nodes = SortedNames(read_npy(directory / "graph_nodes.npy"))
        try:
            self.child, self.parent = arrays["child"].data, arrays["parent"].data
            self.relation, self.weight, self.root = arrays["relation"].data, arrays["weight"].data, arrays["root"].data
        except KeyError as exc:
            raise Unreadable(f"graph.npz lacks {exc}") from None
        n = len(self.nodes)
        if {"by_child", "child_ptr", "by_parent", "parent_ptr"} <= set(arrays):  # saved grouped (CompactGraph.save)
            self._by_child, self._child_ptr = arrays["by_child"].data, arrays["child_ptr"].data
            self._by_parent, self._parent_ptr = arrays["by_parent"].data, arrays["parent_ptr"].data
            if len(self._child_ptr) != n + 1 or len(self._parent_ptr) != n + 1:
                raise Unreadable("graph.npz's edge groups do not match graph_nodes.npy")
        else:  # saved before they were: grouped here (about 25 ms per 30,000 edges)
            self._by_child, self._child_ptr = _grouped(self.child, n)
            self._by_parent, self._parent_ptr = _grouped(self.parent, n)


class LightObserved:
    """Scored models' benchmark scores (``observed_rows.npy`` + ``observed_scores.npy``), read as
    :class:`~hub_lineage.predict.tables.ObservedScores` reads them."""

    def __init__(self, directory: Path, names: SortedNames, benchmarks: list[str]) -> None:
        rows, values = read_npy(directory / "observed_rows.npy"), read_npy(directory / "observed_scores.npy")
        if rows.shape != (len(names),) or len(values.shape) != 2 or values.shape[1] != len(benchmarks):
            raise Unreadable("observed_rows.npy / observed_scores.npy do not match the graph")
        self.names, self.benchmarks, self.rows, self.values = names, benchmarks, rows.data, values

    def _row(self, model: object) -> int:
        i = self.names.index_of(model) if isinstance(model, str) else None
        return -1 if i is None else self.rows[i]

    def __contains__(self, model: object) -> bool:
        return self._row(model) >= 0

    def scores(self, model: str) -> list[float] | None:
        """The model's score row (NaN where unscored), or None for an unscored model."""
        r = self._row(model)
        return None if r < 0 else self.values.row(r)

    def get(self, model: str, default: dict[str, float] | None = None) -> dict[str, float] | None:
        row = self.scores(model)
        if row is None:
            return default
        return {b: v for b, v in zip(self.benchmarks, row) if math.isfinite(v)}

    def all_rows(self) -> Iterator[list[float]]:
        """Every scored model's row, in node order (as the correction's lineage averaging reads them)."""
        for r in self.rows:
            if r >= 0:
                yield self.values.row(r)


class LightFactors:
    """The fitted LRMF (``lrmf/lrmf.json`` + ``lrmf/lrmf.npz``): rows of fitted nodes and item parameters,
    as :class:`~hub_lineage.model.factors.FittedFactors` holds them."""

    FORMAT = "hub-lineage-lrmf/1"

    def __init__(self, directory: Path) -> None:
        meta = json.loads((directory / "lrmf.json").read_text())
        if meta.get("format") != self.FORMAT:
            raise Unreadable(f"LRMF format {meta.get('format')!r}")
        arrays = read_npz(directory / "lrmf.npz")
        params = meta["params"]
        self.n_factors, self.biases = int(params["n_factors"]), bool(params["biases"])
        self.reg, self.lambda_lineage = float(params["reg"]), float(params["lambda_lineage"])
        self.relation_weights = params.get("relation_weights")
        self.nodes: list[str] = list(meta["nodes"])
        self.node_index = {n: i for i, n in enumerate(self.nodes)}
        self.items: list[str] = list(meta["items"])
        self._factors, self._bias = arrays["model_factors"], arrays["model_bias"]
        self.supported = arrays["supported"].data
        d = self.n_factors
        q = arrays["instance_factors"]
        self.item_factors = [q.row(j)[:d] for j in range(len(self.items))]
        self.item_bias = arrays["item_bias"].data.tolist() if self.biases else [0.0] * len(self.items)
        self.kappa = arrays["kappa"].data.tolist() if "kappa" in arrays else None

    @property
    def width(self) -> int:
        return self.n_factors + int(self.biases)

    def rows(self, i: int) -> list[float]:
        """The parameter row ``[u | b]`` of fitted node ``i``."""
        u = [float(x) for x in self._factors.row(i)[:self.n_factors]]
        return u + [float(self._bias.data[i])] if self.biases else u

    def proba(self, row: list[float]) -> list[float]:
        """``kappa + (1 - kappa) sigmoid(u . v + b + c)`` per item (FittedFactors.proba for one row)."""
        d = self.n_factors
        u, b = row[:d], (row[d] if self.biases else 0.0)
        out = []
        for j, v in enumerate(self.item_factors):
            x = math.fsum(a * float(c) for a, c in zip(u, v))
            if self.biases:
                x = x + b + float(self.item_bias[j])
            s = 1.0 / (1.0 + (math.exp(-x) if x > -700.0 else math.inf))  # numpy's exp overflows to inf
            out.append(s if self.kappa is None else self.kappa[j] + (1 - self.kappa[j]) * s)
        return out


__all__ = ["Array", "LightFactors", "LightGraph", "LightObserved", "SortedNames", "Unreadable", "read_npy",
           "read_npz"]
