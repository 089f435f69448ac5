"""A small real predictor for tests: three model families on the six leaderboard benchmarks.

Scores are drawn around each family's level (children near their parent), an unscored
intermediate model links a branch to its root, and everything goes through the real Predictor.fit
(LRMF + cross-validated conformal calibration), so tests exercise the code users run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hub_lineage.benchmarks import LEADERBOARD
from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.data.matrix import ObservationMatrix

FAMILIES = {"alpha/base": 0.65, "beta/base": 0.35, "gamma/base": 0.5}
MIDDLE = "alpha/mid-unscored"


def tiny_data(seed: int = 0) -> tuple[ObservationMatrix, LineageGraph]:
    rng = np.random.default_rng(seed)
    keys = [b.key for b in LEADERBOARD]
    offsets = np.array([0.1, 0.0, -0.3, -0.2, -0.1, -0.15])
    models, rows, edges = [], [], []
    for root, level in FAMILIES.items():
        org = root.split("/")[0]
        models.append(root)
        rows.append(np.clip(level + offsets + rng.normal(0, 0.01, 6), 0.02, 0.98))
        for k in range(8):
            child = f"{org}/ft-{k}"
            parent = MIDDLE if (org == "alpha" and k >= 4) else root
            models.append(child)
            rows.append(np.clip(level + offsets + rng.normal(0, 0.02, 6), 0.02, 0.98))
            edges.append(Edge(child, parent, Relation.FINETUNE))
    edges.append(Edge(MIDDLE, "alpha/base", Relation.FINETUNE))
    # a merge of two alpha children, scored
    models.append("alpha/merge")
    rows.append(np.clip(FAMILIES["alpha/base"] + offsets + rng.normal(0, 0.02, 6), 0.02, 0.98))
    edges += [Edge("alpha/merge", "alpha/ft-0", Relation.MERGE, 0.5), Edge("alpha/merge", "alpha/ft-1", Relation.MERGE, 0.5)]
    matrix = ObservationMatrix(models, keys, np.array(rows, dtype=np.float32), keys,
                               np.array([b.n_instances for b in LEADERBOARD], dtype=np.float32))
    return matrix, LineageGraph(edges)


def tiny_predictor_dir(directory: Path) -> Path:
    """Fit and save the tiny predictor into ``directory`` (once per test session is enough)."""
    from hub_lineage.predict.predictor import Predictor

    matrix, graph = tiny_data()
    predictor = Predictor.fit(matrix, graph, n_folds=3, n_factors=4, max_iter=30)
    return predictor.save(directory)
