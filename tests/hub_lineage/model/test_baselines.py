"""Baselines: the registry, means, MLA (multi-hop, decay), factor regressions, NCF."""

from __future__ import annotations

import numpy as np
import pytest

from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.errors import InvalidInputError, NoLineageError, NotFittedError
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.model.baselines import MLA, MeanBaseline
from hub_lineage.model.factor_models import NCF, LinearFactors
from hub_lineage.model.registry import METHODS, get_method, make_estimator


def _matrix() -> ObservationMatrix:
    # base -> ft1 -> ft2 ; base -> other ; "loner" has no lineage
    values = np.array([[0.6, 0.3], [0.7, 0.4], [0.8, np.nan], [0.2, 0.1], [0.5, 0.5]], dtype=np.float32)
    meta = {"base": {"architecture": "A", "params_b": 7.0, "type": "pretrained", "merged": False},
            "ft1": {"architecture": "A", "params_b": 7.0, "type": "fine-tuned", "merged": False},
            "ft2": {"architecture": "A", "params_b": 7.0, "type": "fine-tuned", "merged": False},
            "other": {"architecture": "B", "params_b": 1.0, "type": "pretrained", "merged": False},
            "loner": {"architecture": "B", "params_b": 70.0, "type": "merge", "merged": True}}
    return ObservationMatrix(["base", "ft1", "ft2", "other", "loner"], ["bbh", "gpqa"],
                             values, ["bbh", "gpqa"], np.array([10.0, 10.0]), model_meta=meta)


def _graph() -> LineageGraph:
    graph = LineageGraph()
    graph.add_edge("ft1", "base")
    graph.add_edge("mid", "ft1")  # unevaluated intermediate
    graph.add_edge("ft2", "mid")
    graph.add_edge("other", "base")
    graph.add_edge("new", "ft2")
    return graph


def test_registry_lists_names_and_suggests():
    assert {"lrmf", "mla", "ncf", "mf", "mean", "linear"} <= set(METHODS)
    with pytest.raises(InvalidInputError, match="Did you mean 'mla'") as err:
        get_method("mlaa")
    assert "Valid methods: lrmf" in str(err.value)
    with pytest.raises(InvalidInputError, match="Unknown method 'zzz'"):
        make_estimator("zzz")


def test_means():
    m = _matrix()
    per_bench = MeanBaseline("benchmark").fit(m).predict_proba(["x", "y"])
    assert per_bench.shape == (2, 2)
    np.testing.assert_allclose(per_bench[0], [np.mean([0.6, 0.7, 0.8, 0.2, 0.5]), np.mean([0.3, 0.4, 0.1, 0.5])],
                               rtol=1e-6)
    glob = MeanBaseline("global").fit(m).predict_proba(["x"])
    assert np.allclose(glob, np.nanmean(m.values))
    with pytest.raises(InvalidInputError):
        MeanBaseline("median").fit(m)  # parameters are checked by fit (__init__ only stores them)
    with pytest.raises(NotFittedError):
        MeanBaseline().predict_proba(["x"])


def test_empty_matrix_refused():
    empty = ObservationMatrix(["a"], ["bbh"], np.full((1, 1), np.nan), ["bbh"])
    for name in ("mean", "mla", "linear"):
        with pytest.raises(InvalidInputError, match="empty observation matrix"):
            make_estimator(name).fit(empty)


def test_mla_nearest_ring_multi_hop_and_decay():
    m, g = _matrix(), _graph()
    mla = MLA().fit(m, g)
    # "new" -> ft2 is one hop: only ft2 is used; ft2's gpqa is missing -> fall back to the item mean
    pred = mla.predict_proba(["new"])[0]
    assert pred[0] == pytest.approx(0.8)
    # ft2's nearest scored relative is ft1, two hops away through the unevaluated "mid"
    assert mla.predict_proba(["ft2"])[0] == pytest.approx([0.7, 0.4])
    decayed = MLA(decay=0.5).fit(m, g).predict_proba(["ft2"])[0]
    # ft1 (2 hops, w=0.5), base (3 hops, w=0.25), other (4 hops, w=0.125), new (1 hop) unscored
    w = np.array([0.5, 0.25, 0.125])
    assert decayed[0] == pytest.approx(np.dot(w, [0.7, 0.6, 0.2]) / w.sum(), rel=1e-6)
    parents_only = MLA(direction="parents").fit(m, g).predict_proba(["other"])[0]
    assert parents_only == pytest.approx([0.6, 0.3])


def test_mla_refuses_models_without_lineage():
    mla = MLA().fit(_matrix(), _graph())
    with pytest.raises(NoLineageError, match="'loner'"):
        mla.predict_proba(["loner"])
    fallback = MLA(fallback="mean").fit(_matrix(), _graph())
    assert fallback.predict_proba(["loner"]).shape == (1, 2)
    assert fallback.n_fallback_ == 1
    with pytest.raises(InvalidInputError, match="decay"):
        MLA(decay=1.5).fit(_matrix(), _graph())


def test_mla_fold_in_uses_the_new_graph():
    mla = MLA().fit(_matrix(), _graph())
    extra = LineageGraph()
    extra.add_edge("brand-new", "other")
    assert mla.fold_in_proba(extra, ["brand-new"])[0] == pytest.approx([0.2, 0.1])


def test_linear_factors_follow_architecture():
    m = _matrix()
    pred = LinearFactors(alpha=0.1).fit(m).predict_proba(["ft1", "other"])
    assert pred.shape == (2, 2)
    assert ((pred >= 0) & (pred <= 1)).all()
    assert pred[0, 0] > pred[1, 0]  # architecture A scores higher than B in the training data


def test_ncf_learns_factor_signal():
    rng = np.random.default_rng(0)
    n = 120
    arch = rng.choice(["A", "B"], n)
    size = rng.uniform(1, 70, n)
    meta = {f"m{i}": {"architecture": arch[i], "params_b": size[i], "type": "x", "merged": False} for i in range(n)}
    true = np.clip(0.3 + 0.3 * (arch == "A")[:, None] + 0.002 * size[:, None] + rng.normal(0, 0.02, (n, 3)), 0, 1)
    m = ObservationMatrix([f"m{i}" for i in range(n)], ["a", "b", "c"], true, ["a", "b", "c"],
                          np.array([100.0, 100.0, 100.0]), model_meta=meta)
    train = m.select_models(m.models[:100])
    train.model_meta = meta
    ncf = NCF(epochs=25, batch_size=256, lr=2e-2, random_state=0).fit(train)
    pred = ncf.predict_proba(m.models[100:])
    assert np.corrcoef(pred.mean(1), true[100:].mean(1))[0, 1] > 0.8
    assert ncf.loss_curve_[-1] < ncf.loss_curve_[0]
