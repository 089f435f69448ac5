"""The correction `hub-lineage fit` ships: :class:`~hub_lineage.evaluation.stacking.Stacker` saved
with the predictor and applied to each cold-start prediction.

``Predictor.fit`` trains it on the validation models' held-out predictions with the evaluation's own
code (:class:`~hub_lineage.evaluation.calibration.FoldPost`, the rules ``evaluate`` applies per fold);
at predict time the same features are computed for the queried model:

- name tokens of the repo id (always);
- the contents table's type, chat template, merged flag and size when the model is in it (saved here);
  otherwise those cells are *neutral* (the training mean: they move nothing);
- the scored relatives (:class:`~hub_lineage.predict.conformal.RelativeIndex` walking the predictor's
  stored graph overlaid with Hub / card / ``--parent`` edges, every scored model but itself);
- lineage averaging's prediction from the same relatives (:class:`~hub_lineage.model.baselines.MLA`).

``correction.json`` (format :data:`FORMAT`): ``{"format", "max_hops", "features", "benchmarks",
"stacker", "meta"}``. A predictor directory without it predicts uncorrected. Numpy only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.evaluation.stacking import Stacker, design
from hub_lineage.files import write_atomic
from hub_lineage.model.baselines import MLA
from hub_lineage.model.features import FEATURE_NAMES
from hub_lineage.predict.conformal import RelativeIndex
from hub_lineage.predict.neighbourhood import Lineage

FORMAT = 1
FILE = "correction.json"
#: Columns of :func:`stacking.design` that read the model's own contents metadata (neutral when unknown).
_META_COLUMNS = [k for k, n in enumerate(FEATURE_NAMES) if not n.startswith("name_")]
_META_KEYS = ("type", "chat_template", "merged", "params_b")


class Correction:
    """A fitted :class:`Stacker` plus what predicting with it needs (metadata of the contents table)."""

    def __init__(self, stacker: Stacker, benchmarks: Sequence[str], max_hops: int,
                 meta: Mapping[str, Mapping[str, Any]], *, trimmed: bool = False) -> None:
        self.stacker, self.benchmarks, self.max_hops = stacker, list(benchmarks), max_hops
        # ``trimmed``: ``meta`` holds only _META_KEYS already (a saved correction's), as loaded
        self.meta = dict(meta) if trimmed else {m: {k: info.get(k) for k in _META_KEYS} for m, info in meta.items()}
        self._scores: tuple[dict[str, np.ndarray], MLA] | None = None

    @property
    def corrected(self) -> list[str]:
        """Benchmarks the correction changes (the others beat no correction out of sample)."""
        return [b for b, c in zip(self.benchmarks, self.stacker.coef_) if c is not None]

    # -- persistence ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "max_hops": self.max_hops, "features": list(FEATURE_NAMES),
                "benchmarks": self.benchmarks, "stacker": self.stacker.to_dict(), "meta": self.meta}

    def save(self, directory: Path) -> None:
        write_atomic(directory / FILE, json.dumps(self.to_dict()))

    @staticmethod
    def write(directory: Path, correction: Correction | None) -> None:
        """Save ``correction``, or remove a stale file when there is none (it would be applied)."""
        if correction is not None:
            correction.save(directory)
        else:
            (directory / FILE).unlink(missing_ok=True)

    @classmethod
    def load(cls, directory: Path) -> Correction | None:
        """The saved correction, or None (an older predictor, or another feature set: uncorrected)."""
        path = directory / FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT or list(data.get("features", ())) != list(FEATURE_NAMES):
            return None
        return cls(Stacker.from_dict(data["stacker"]), data["benchmarks"], int(data["max_hops"]), data["meta"],
                   trimmed=True)

    # -- predicting -------------------------------------------------------------------------

    def _scored(self, observed: Any) -> tuple[dict[str, np.ndarray], MLA]:
        """Scored models' benchmark scores (NaN where missing) and lineage averaging fitted on them."""
        if self._scores is None:
            if isinstance(observed, Mapping):
                models = list(observed)
                values = np.array([[observed[m].get(b, np.nan) for b in self.benchmarks] for m in models],
                                  dtype=np.float64).reshape(len(models), len(self.benchmarks))
            else:  # the predictor's ObservedScores table (node row -> score row)
                nodes = np.flatnonzero(observed.row >= 0)
                models = observed.names.take(nodes)
                column = [observed.benchmarks.index(b) for b in self.benchmarks]
                values = observed.values[observed.row[nodes]][:, column].astype(np.float64)
            matrix = ObservationMatrix(models, list(self.benchmarks), values, list(self.benchmarks),
                                       np.ones(len(self.benchmarks)), None, {})
            mla = MLA(fallback="mean").fit(matrix)
            self._scores = (dict(zip(models, values)), mla)
        return self._scores

    def correct(self, model: str, pred: np.ndarray, lineage: Lineage, observed: Any) -> np.ndarray:
        """``model``'s corrected benchmark prediction (n_benchmarks,) from its uncorrected ``pred``.

        ``observed``: {model: {benchmark: score}} or the predictor's ``ObservedScores`` table. The
        model's own scores are never read: the relatives walks start from it and skip it.
        """
        scored, mla = self._scored(observed)
        index = RelativeIndex.from_links(lineage.links(False), lineage.links(True), self.max_hops)
        pred = np.asarray(pred, dtype=np.float64).reshape(1, -1)
        feats = index.features([model], scored, pred.shape[1])
        feats.other = mla.predict_on(lineage, [model])
        X = design([model], self.meta, feats, self.max_hops)
        neutral = None
        if model not in self.meta:  # outside the contents table: its own metadata is unknown
            neutral = np.zeros(X.shape, dtype=bool)
            neutral[:, _META_COLUMNS] = True
            neutral[:, -1] = True  # its chat flag minus its relatives' share
        return self.stacker.correct(X, pred, feats, neutral)[0]


def train(selection: Any, matrix: ObservationMatrix, graph: Any, coverage: float, seed: int
          ) -> tuple[Correction, Any, dict[str, float | None]]:
    """Fit the correction on ``selection``'s validation models exactly as ``evaluate`` does per fold
    (no test fold here). Returns it, the intervals calibrated on its leave-one-out corrections and
    the search's own (uncorrected) validation scores; ``selection.scores`` becomes the corrected
    leave-one-out predictions' (what the shipped model scores on the validation models)."""
    from hub_lineage.evaluation.calibration import FoldPost
    from hub_lineage.evaluation.metrics import score_table

    index = RelativeIndex(graph)
    post = FoldPost(selection, matrix, index, [], coverage, stack=True, adaptive=False, mla_graph=graph, seed=seed)
    assert post.stacker is not None
    plain = {k: (None if not np.isfinite(v) else float(v)) for k, v in selection.scores.items()}
    selection.scores = score_table(post.stacker.loo_, selection.actual, matrix.benchmarks)
    return Correction(post.stacker, matrix.benchmarks, index.max_hops, matrix.model_meta), post.model, plain


__all__ = ["FILE", "FORMAT", "Correction", "train"]
