"""The instance-level (mixed) predictor: matrix, complete scores, item graph, and a fit from a store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.data.store.database import Store
from hub_lineage.data.store.ingest import ingest_paths
from hub_lineage.predict.instance import (
    co_response_graph,
    complete_scores,
    item_columns,
    lineage_item_proba,
    mixed_matrix,
    score_mask,
)
from hub_lineage.predict.predictor import Predictor


def test_partial_leaderboard_run_is_no_actual_score() -> None:
    """Issue 13: a 5-sample partial lm-eval bbh run must not become the model's actual bbh."""
    items = [f"leaderboard_bbh_navigate/{i}" for i in range(5)] + ["bbh", "musr/0", "musr/1"]
    values = np.array([[1, 1, 0, 1, 1, np.nan, 1, 0],      # 5 bbh samples only, complete long-CSV musr
                       [np.nan] * 5 + [0.4, np.nan, np.nan]], dtype=np.float32)
    m = ObservationMatrix(["a/partial", "b/agg"], items, values, ["bbh"] * 6 + ["musr"] * 2)
    scores = complete_scores(m)
    bbh, musr = m.benchmarks.index("bbh"), m.benchmarks.index("musr")
    assert np.isnan(scores[0, bbh]) and scores[0, musr] == 0.5 and scores[1, bbh] == np.float32(0.4)
    assert item_columns(m).tolist() == [True] * 5 + [False, True, True]
    assert score_mask(m).tolist() == [1.0] * 5 + [0.0, 1.0, 1.0]


def test_co_response_graph_links_items_answered_alike() -> None:
    rng = np.random.default_rng(0)
    ability = rng.normal(0, 1, 60)
    a = (ability[:, None] + rng.normal(0, 0.3, (60, 15)) > 0).astype(np.float32)   # items tracking ability
    b = (rng.random((60, 15)) < 0.5).astype(np.float32)                            # noise items
    values = np.hstack([a, b])
    items = [f"t/{i}" for i in range(30)]
    g = co_response_graph(ObservationMatrix([f"m/{i}" for i in range(60)], items, values, ["t"] * 30), k=5).toarray()
    assert g.shape == (30, 30)
    assert g[:15, :15].sum() > 3 * g[:15, 15:].sum()


def test_store_fit_is_instance_level_and_scores_items(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    models = [f"org/m{i}" for i in range(12)]
    skill = np.linspace(-1, 1, 12)
    diff = rng.normal(0, 1, 30)
    rows = [(m, i, int(rng.random() < 1 / (1 + np.exp(-(skill[k] - diff[i])))))
            for k, m in enumerate(models) for i in range(30)]
    path = tmp_path / "musr_correctness.csv"
    path.write_text("model,instance,correct\n" + "".join(f"{m},{i},{c}\n" for m, i, c in rows))
    edges = tmp_path / "edges.csv"
    edges.write_text("source,target,edge\n" + "".join(f"{a},{b},finetuned\n" for a, b in zip(models, models[1:]))
                     + "org/m11,org/new,finetuned\n")
    with Store(tmp_path / "s.sqlite") as store:
        ingest_paths(store, [path, edges])
        m = mixed_matrix(store)
        assert item_columns(m).sum() == 30
        predictor = Predictor.fit(store, calibrate=False)
    assert "score_mask" in predictor.meta and predictor.meta["params"]["lambda_instance"] > 0
    keys, proba = lineage_item_proba(predictor, "org/new", "musr", "musr")
    assert len(keys) == 30 and ((proba > 0) & (proba < 1)).all()
    # items the models found hard are predicted hard for the new relative too
    assert np.corrcoef(proba, -diff[[int(k.split("/")[1]) for k in keys]])[0, 1] > 0.5
    saved = predictor.save(tmp_path / "pred")
    assert json.loads((saved / "meta.json").read_text())["score_mask"]
    again = Predictor.load(saved)
    assert abs(again.predict("org/new", offline=True).predicted["musr"].mean - proba.mean()) < 1e-6
