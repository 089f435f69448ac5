"""The shipped correction: `fit` trains it, `predict` applies it, old predictors still load, and
predict-time features are the evaluation's."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hub_lineage.benchmarks import LEADERBOARD
from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.evaluation.calibration import FoldPost
from hub_lineage.evaluation.protocol import ProtocolOptions
from hub_lineage.evaluation.tuning import select_params
from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.predict.conformal import RelativeIndex
from hub_lineage.predict.correction import FILE, Correction
from hub_lineage.predict.neighbourhood import CompactGraph, Lineage
from hub_lineage.predict.predictor import Predictor, parse_parent

KEYS = [b.key for b in LEADERBOARD]
MATH = KEYS.index("math")
ROOTS = {"alpha/base": 0.6, "beta/base": 0.4, "gamma/base": 0.5, "delta/base": 0.3}


def planted_data(seed: int = 0) -> tuple[ObservationMatrix, LineageGraph]:
    """Four families of fine-tunes; a ``Math`` token in the name adds 0.15 to MATH (nothing else does)."""
    rng = np.random.default_rng(seed)
    offsets = np.array([0.1, 0.0, -0.2, -0.2, -0.1, -0.1])
    models, rows, edges, meta = [], [], [], {}
    for root, level in ROOTS.items():
        org = root.split("/")[0]
        models.append(root)
        rows.append(level + offsets + rng.normal(0, 0.01, 6))
        meta[root] = {"type": "pretrained", "chat_template": False, "merged": False, "params_b": 7.0}
        for k in range(10):
            math = k % 2 == 0
            child = f"{org}/Tune-{k}" + ("-Math" if math else "")
            row = level + offsets + rng.normal(0, 0.01, 6)
            row[MATH] += 0.15 if math else 0.0
            models.append(child)
            rows.append(row)
            edges.append(Edge(child, root, Relation.FINETUNE))
            meta[child] = {"type": "fine-tuned", "chat_template": bool(k % 3), "merged": False, "params_b": 7.0}
    matrix = ObservationMatrix(models, KEYS, np.clip(np.array(rows), 0.02, 0.98).astype(np.float32), KEYS,
                               np.array([b.n_instances for b in LEADERBOARD], dtype=np.float32), None, meta)
    return matrix, LineageGraph(edges)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    matrix, graph = planted_data()
    predictor = Predictor.fit(matrix, graph, n_folds=3, n_factors=4, max_iter=30)
    return predictor, predictor.save(tmp_path_factory.mktemp("planted"))


def test_fit_writes_the_correction(fitted):
    predictor, directory = fitted
    saved = json.loads((directory / FILE).read_text())
    assert saved["format"] == 1 and saved["benchmarks"] == KEYS
    assert "math" in json.loads((directory / "meta.json").read_text())["correction"]
    loaded = Predictor.load(directory)
    assert loaded.correction is not None and "math" in loaded.correction.corrected
    # the validation scores are the corrected (leave-one-out) predictions' and calibrate the intervals
    assert predictor.meta["validation"]["pearson_math"] > 0.5
    assert all(np.isfinite(q) and q > 0 for q in predictor.meta["intervals"]["quantiles"])


def test_a_math_name_moves_the_math_prediction_up(fitted):
    predictor = Predictor.load(fitted[1])
    edges = [parse_parent("beta/base:finetune", "x")]

    def math(name: str) -> float:
        return predictor.predict_edges(name, edges).predicted["math"].mean

    corrected = math("new/Thing-Math") - math("new/Thing-7")
    assert corrected > 0.05  # a model outside the contents table: name tokens, neutral metadata
    predictor.correction = None
    assert math("new/Thing-Math") == pytest.approx(math("new/Thing-7"), abs=1e-12)


def test_a_predictor_without_the_correction_file_predicts_uncorrected(fitted, tmp_path):
    predictor = Predictor.load(fitted[1])
    directory = predictor.save(tmp_path / "old")
    (directory / FILE).unlink()
    old = Predictor.load(directory)
    assert old.correction is None
    predictor.correction = None
    for model in ("alpha/Tune-2-Math", "gamma/Tune-3"):
        got = old.predict(model, offline=True).predicted
        want = predictor.predict(model, offline=True).predicted
        assert [iv.mean for iv in got.values()] == pytest.approx([iv.mean for iv in want.values()], abs=1e-12)


def test_predict_time_correction_equals_the_evaluations():
    """evaluate's fold (FoldPost) and the shipped Correction give the same corrected numbers for
    the same uncorrected predictions: same features from the stored graph, same ridge."""
    matrix, graph = planted_data(1)
    test = ["alpha/Tune-0-Math", "beta/Tune-1", "gamma/Tune-4-Math", "delta/Tune-7"]
    selection = select_params("lrmf", "heterogeneous", matrix, graph, test, 0, n_inner=3,
                              fixed={"n_factors": 4, "max_iter": 30})
    post = FoldPost(selection, matrix, RelativeIndex(graph), test, 0.9, stack=True, adaptive=False,
                    mla_graph=graph, seed=0)
    assert post.stacker is not None and any(c is not None for c in post.stacker.coef_)
    pred = np.full((len(test), len(KEYS)), 0.4)
    want = post.correct(pred, test)
    shipped = Correction(post.stacker, KEYS, RelativeIndex(graph).max_hops, matrix.model_meta)
    train = set(matrix.models) - set(test)
    observed = {m: dict(zip(KEYS, map(float, row))) for m, row in zip(matrix.models, matrix.benchmark_scores())
                if m in train}
    lineage = Lineage(CompactGraph.from_graph(graph, matrix.models))
    got = np.vstack([shipped.correct(m, pred[k], lineage, observed) for k, m in enumerate(test)])
    # float32 matrix values averaged in another order: agreement to ~1e-8
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert not np.allclose(want, pred)


def test_evaluate_scores_the_shipped_correction_by_default():
    assert ProtocolOptions().stack == ("lrmf",)
