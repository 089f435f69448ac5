"""``hub-lineage evaluate --plot``: predicted vs actual per benchmark, and interval coverage.

matplotlib is optional (the ``plot`` extra) and imported only here, only when a plot is asked for;
the Agg backend draws to a file without a display.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hub_lineage.errors import InvalidInputError, MissingDependencyError


def require_matplotlib() -> Any:
    """``matplotlib.pyplot`` (Agg backend), or a one-line error naming the ``plot`` extra."""
    try:
        import matplotlib
    except ImportError:
        raise MissingDependencyError("--plot needs matplotlib, which is not installed: "
                                     "pip install 'hub-lineage[plot]'.") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


class Recorder:
    """Collects what :class:`~hub_lineage.evaluation.protocol.ProtocolOptions.record` reports, all seeds pooled."""

    def __init__(self) -> None:
        self.runs: dict[str, list[dict[str, Any]]] = {}

    def __call__(self, method: str, seed: int, arrays: Mapping[str, Any]) -> None:
        self.runs.setdefault(method, []).append(dict(arrays))

    def pooled(self, method: str, key: str) -> np.ndarray:
        return np.concatenate([np.asarray(run[key], dtype=np.float64) for run in self.runs[method]])


def plot_evaluation(recorder: Recorder, path: str | Path, *, coverage: float | None, title: str = "") -> Path:
    """Save one scatter per benchmark (predicted vs actual accuracy, every method and seed pooled) and
    a coverage panel (share of actual scores inside the interval, per benchmark and method)."""
    if not recorder.runs:
        raise InvalidInputError("--plot: nothing to plot (the setting has no benchmark-level predictions; "
                                "use a heterogeneous or homogeneous setting).")
    plt = require_matplotlib()
    methods = list(recorder.runs)
    benchmarks = recorder.runs[methods[0]][0]["benchmarks"]
    n = len(benchmarks) + 1
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.8 * rows), squeeze=False)
    flat = axes.ravel()
    for j, bench in enumerate(benchmarks):
        ax = flat[j]
        for method in methods:
            pred, actual = recorder.pooled(method, "predicted")[:, j], recorder.pooled(method, "actual")[:, j]
            ok = ~(np.isnan(pred) | np.isnan(actual))
            r = np.corrcoef(pred[ok], actual[ok])[0, 1] if ok.sum() > 2 else float("nan")
            ax.scatter(actual[ok], pred[ok], s=8, alpha=0.6, label=f"{method} (r={r:.2f})")
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        ax.set(title=bench, xlabel="actual accuracy", ylabel="predicted accuracy", xlim=(0, 1), ylim=(0, 1))
        ax.legend(fontsize=7, loc="upper left")
    ax = flat[len(benchmarks)]
    width = 0.8 / max(len(methods), 1)
    shown = False
    for k, method in enumerate(methods):
        low, high = recorder.pooled(method, "low"), recorder.pooled(method, "high")
        actual = recorder.pooled(method, "actual")
        if np.isnan(low).all():
            continue  # a method without intervals
        inside = (actual >= low) & (actual <= high)
        valid = ~(np.isnan(low) | np.isnan(actual))
        share = [inside[valid[:, j], j].mean() if valid[:, j].any() else np.nan for j in range(len(benchmarks))]
        ax.bar(np.arange(len(benchmarks)) + k * width, share, width, label=method)
        shown = True
    if coverage:
        ax.axhline(coverage, color="black", lw=1, ls="--", label=f"nominal {coverage:.0%}")
    ax.set(title="interval coverage" if shown else "interval coverage (no intervals)", ylim=(0, 1.05),
           ylabel="share of actual scores inside")
    ax.set_xticks(np.arange(len(benchmarks)) + 0.4 - width / 2, benchmarks, rotation=45, fontsize=8)
    ax.legend(fontsize=7, loc="lower right")
    for extra in flat[n:]:
        extra.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
