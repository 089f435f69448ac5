"""The shipped correction (``correction.json``) applied to one model without numpy, for
:mod:`hub_lineage.predict.light`: :meth:`Correction.correct <hub_lineage.predict.correction.Correction.correct>`
for one model, the same features and the same ridge, with the same walks
(:func:`~hub_lineage.lineage.walk.nearest_rings`, :func:`~hub_lineage.lineage.walk.stop_past_first_ring`)
and name and metadata features (:func:`~hub_lineage.model.features.feature_row`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hub_lineage.lineage.walk import breadth_first, nearest_rings, stop_past_first_ring
from hub_lineage.model.features import FEATURE_NAMES, feature_row
from hub_lineage.predict.light_files import LightObserved
from hub_lineage.predict.neighbourhood import Lineage

#: The correction format read here (``correction.FORMAT``).
CORRECTION_FORMAT = 1
_META_COLUMNS = [k for k, n in enumerate(FEATURE_NAMES) if not n.startswith("name_")]


class _Scored:
    """Scored models' rows in the correction's benchmark order (``Correction._scored``), looked up
    on demand (``in`` and ``[model]``: all that the walks and features read)."""

    def __init__(self, observed: LightObserved, benchmarks: Sequence[str]) -> None:
        self.observed = observed
        self.column = [observed.benchmarks.index(b) for b in benchmarks]

    def __contains__(self, model: object) -> bool:
        return model in self.observed

    def __getitem__(self, model: str) -> list[float]:
        row = self.observed.scores(model)
        if row is None:
            raise KeyError(model)
        return [row[k] for k in self.column]


class LightCorrection:
    """``correction.json`` applied to one model as :meth:`Correction.correct` applies it."""

    def __init__(self, data: Mapping[str, Any], observed: LightObserved) -> None:
        self.benchmarks, self.max_hops = list(data["benchmarks"]), int(data["max_hops"])
        self.meta: Mapping[str, Mapping[str, Any]] = data["meta"]
        self.coef = [None if c is None else ([float(v) for v in c["w"]], [float(v) for v in c["mu"]],
                                             [float(v) for v in c["sd"]], float(c["intercept"]))
                     for c in data["stacker"]["coef"]]
        self.observed, self.scored = observed, _Scored(observed, self.benchmarks)
        self._mean: list[float] | None = None

    @classmethod
    def load(cls, directory: Path, observed: LightObserved) -> LightCorrection | None:
        """As :meth:`Correction.load`: None without the file, or for another format or feature set."""
        path = directory / "correction.json"
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != CORRECTION_FORMAT or list(data.get("features", ())) != list(FEATURE_NAMES):
            return None
        return cls(data, observed)

    def correct(self, model: str, pred: list[float], lineage: Lineage) -> list[float]:
        n_bench = len(pred)
        hops = float(self.max_hops + 1)
        d, near, next_ring = nearest_rings(model, lineage.links(False), self.scored, self.max_hops)
        if not near:
            _, near, next_ring = nearest_rings(model, lineage.links(True), self.scored, 2)
        else:
            hops = float(d)
        anchor, spread = [math.nan] * n_bench, [0.0] * n_bench
        if near:
            near_rows = [self.scored[m] for m in near]
            anchor = [_nanmean(col) for col in zip(*near_rows)]
            pool = near_rows + [self.scored[m] for m in next_ring[:50]]
            if len(pool) > 1:
                spread = [_nanstd(col) for col in zip(*pool)]
        other = self._lineage_average(lineage, model)
        X = self._design(model, hops, near)
        neutral = model not in self.meta  # its own metadata is unknown: those cells move nothing
        out = list(pred)
        for b, coef in enumerate(self.coef):
            if coef is None:
                continue
            w, mu, sd, r0 = coef
            dev = anchor[b] - pred[b]
            z = [*X, 0.0 if math.isnan(dev) else dev, spread[b], pred[b], _nan0(other[b] - pred[b])]
            if neutral:
                for k in [*_META_COLUMNS, len(X) - 1]:
                    z[k] = mu[k]
            out[b] = pred[b] + (math.fsum((zk - m) / s * wk for zk, m, s, wk in zip(z, mu, sd, w)) + r0)
        return [clip(v) for v in out]

    def _design(self, model: str, hops: float, near: list[str]) -> list[float]:
        """``stacking.design`` for one model."""
        base = feature_row(model, self.meta)
        chat = base[-4]  # its own chat-template flag (features.FEATURE_NAMES order)
        rel_chat = (sum(bool((self.meta.get(m) or {}).get("chat_template")) for m in near) / len(near)) if near else 0.5
        hop_cols = [hops == 1, hops == 2, 3 <= hops <= self.max_hops, hops > self.max_hops]
        return [*base, *(float(h) for h in hop_cols), math.log1p(len(near)), rel_chat, chat - rel_chat]

    def _lineage_average(self, lineage: Lineage, model: str) -> list[float]:
        """``MLA(fallback="mean")``'s prediction: the nearest scored relatives' mean per benchmark."""
        def neighbours(node: str) -> list[str]:
            return [e.parent for e in lineage.parents(node)] + [e.child for e in lineage.children(node)]

        walked = breadth_first(model, stop_past_first_ring(model, neighbours, self.scored))
        rows = [self.scored[r] for r in walked if r != model and r in self.scored]
        if not rows:
            return self._item_means()
        out = []
        for b, col in enumerate(zip(*rows)):
            seen = [v for v in col if not math.isnan(v)]
            out.append(sum(seen) / len(seen) if seen else self._item_means()[b])
        return out

    def _item_means(self) -> list[float]:
        """``baselines.item_means`` over every scored model (read once, when first needed)."""
        if self._mean is None:
            column = self.scored.column
            rows = [[row[k] for k in column] for row in self.observed.all_rows()]
            means = [_nanmean(col) for col in zip(*rows)] if rows else [math.nan] * len(column)
            seen = [v for row in rows for v in row if not math.isnan(v)]
            overall = sum(seen) / len(seen) if seen else math.nan
            self._mean = [overall if math.isnan(v) else v for v in means]
        return self._mean


def _nanmean(values: Sequence[float]) -> float:
    seen = [v for v in values if not math.isnan(v)]
    return sum(seen) / len(seen) if seen else math.nan


def _nanstd(values: Sequence[float]) -> float:
    """numpy.nanstd (ddof 0), 0 for a column with no value (as ``nan_to_num`` makes it)."""
    seen = [v for v in values if not math.isnan(v)]
    if not seen:
        return 0.0
    mean = sum(seen) / len(seen)
    return math.sqrt(sum((v - mean) ** 2 for v in seen) / len(seen))


def _nan0(x: float) -> float:
    return 0.0 if math.isnan(x) else x


def clip(x: float) -> float:
    """``x`` within [0, 1] (``np.clip``)."""
    return min(1.0, max(0.0, x))


__all__ = ["LightCorrection", "clip"]
