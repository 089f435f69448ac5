"""Training data for the mergekit_hooks tests and scripts/bench_preflight.py: a hand-made lineage with real
model names (the sample recipes' parents and the tiny merge's models) and synthetic scores."""

from __future__ import annotations


import numpy as np

from hub_lineage.benchmarks import LEADERBOARD
from hub_lineage.lineage.edges import Edge
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.data.matrix import ObservationMatrix

QWEN = "Qwen/Qwen2.5-7B"
INSTRUCT = "Qwen/Qwen2.5-7B-Instruct"
ROMBOS = "rombodawg/Rombos-LLM-V2.5-Qwen-7b"
CYBER = "fblgit/cybertron-v4-qw7B-MGS"
UNSCORED = "org/unscored-intermediate"
TINY_A, TINY_B = "tiny/llama-a", "tiny/llama-b"

#: (model, parent or None, offset from its parent's scores): a hand-made lineage with real names.
FAMILY = [
    (QWEN, None, 0.0), (INSTRUCT, QWEN, 0.06), (ROMBOS, INSTRUCT, 0.03), (CYBER, QWEN, 0.04),
    *[(f"org/qwen-ft-{k}", INSTRUCT if k % 2 else QWEN, 0.01 * (k - 3)) for k in range(8)],
    (UNSCORED, INSTRUCT, None), ("org/child-of-unscored", UNSCORED, 0.01),
    ("tiny/base", None, -0.2), (TINY_A, "tiny/base", 0.02), (TINY_B, "tiny/base", -0.02),
    *[(f"tiny/ft-{k}", "tiny/base", 0.01 * (k - 2)) for k in range(5)],
]
BASE_SCORES = np.array([0.35, 0.50, 0.18, 0.31, 0.43, 0.40])  # ifeval bbh math gpqa musr mmlu_pro


def training_data(seed: int = 0) -> tuple[ObservationMatrix, LineageGraph, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    scores: dict[str, np.ndarray] = {}
    latent: dict[str, np.ndarray] = {}
    records, edges = [], []
    for model, parent, offset in FAMILY:
        start = latent[parent] if parent else BASE_SCORES
        latent[model] = np.clip(start + (offset or 0.0) + rng.normal(0, 0.01, 6), 0.02, 0.95)
        if parent:
            edges.append(Edge(model, parent))
        if offset is not None:
            scores[model] = latent[model]
            records += [(model, b.key, float(v)) for b, v in zip(LEADERBOARD, latent[model])]
    matrix = ObservationMatrix.from_records(
        records, {b.key: b.key for b in LEADERBOARD}, {b.key: float(b.n_instances) for b in LEADERBOARD})
    return matrix, LineageGraph(edges), scores
