"""Adaptive intervals: relatives' evidence from the graph, narrower where errors are small,
coverage held per bucket."""

from __future__ import annotations

import numpy as np
import pytest

from hub_lineage.errors import InvalidInputError
from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.predict.conformal import AdaptiveIntervals, RelativeFeatures, RelativeIndex


def test_relative_features_from_the_graph():
    graph = LineageGraph([Edge("a/ft", "a/base", Relation.FINETUNE), Edge("a/ft2", "a/base", Relation.FINETUNE),
                          Edge("a/far", "a/mid", Relation.FINETUNE), Edge("a/mid", "a/ft", Relation.FINETUNE),
                          Edge("a/lone", "a/base", Relation.FINETUNE, root=True)])
    scored = {"a/base": np.array([0.5, 0.2]), "a/ft2": np.array([0.7, 0.4])}
    feats = RelativeIndex(graph).features(["a/ft", "a/far", "a/lone", "x/unknown"], scored, 2)
    assert list(feats.hops) == [1, 3, 5, 5]
    assert feats.near[0] == ["a/base"] and np.allclose(feats.anchor[0], [0.5, 0.2])
    assert np.allclose(feats.spread[0], [0.1, 0.1])  # a/base at 1 hop, a/ft2 at 2 hops
    assert feats.near[2] == ["a/base"]  # only the family-root edge reaches a scored model
    assert feats.n_relatives[3] == 0 and np.isnan(feats.anchor[3]).all()
    assert feats.buckets(4) == ["h1|1", "h3+|1", "root|1", "root|1"]


def _data(n: int, rng):
    hops = rng.choice([1.0, 2.0], n)
    sd = np.where(hops == 1, 0.01, 0.08)[:, None]
    pred = rng.uniform(0.3, 0.6, (n, 1))
    actual = pred + rng.normal(0, 1, (n, 1)) * sd
    feats = RelativeFeatures(hops, np.ones(n, dtype=int), np.zeros((n, 1)), pred.copy(), [[] for _ in range(n)])
    return pred, actual, feats, sd


def test_coverage_per_bucket_and_narrower_where_relatives_are_close():
    rng = np.random.default_rng(0)
    pred, actual, feats, sd = _data(2000, rng)
    model = AdaptiveIntervals(0.9).fit(pred, actual, feats, scale=np.broadcast_to(sd, pred.shape))
    tp, ta, tf, tsd = _data(4000, rng)
    low, high = model.interval(tp, tf, scale=np.broadcast_to(tsd, tp.shape))
    inside = (ta >= low) & (ta <= high)
    for h in (1.0, 2.0):
        assert 0.87 <= inside[tf.hops == h].mean() <= 0.93
    width = high - low
    assert width[tf.hops == 1].mean() < 0.25 * width[tf.hops == 2].mean()
    # without a scale the buckets alone still separate the two regimes
    plain = AdaptiveIntervals(0.9).fit(pred, actual, feats)
    low2, high2 = plain.interval(tp, tf)
    assert (high2 - low2)[tf.hops == 1].mean() < (high2 - low2)[tf.hops == 2].mean()


def test_shapes_and_coverage_are_checked():
    with pytest.raises(InvalidInputError, match="coverage"):
        AdaptiveIntervals(1.0)
    rng = np.random.default_rng(1)
    pred, actual, feats, _ = _data(10, rng)
    with pytest.raises(InvalidInputError, match="same shape"):
        AdaptiveIntervals(0.9).fit(pred, actual[:5], feats)
