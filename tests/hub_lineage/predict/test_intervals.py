"""Split-conformal intervals: finite-sample coverage, scaling, persistence, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from hub_lineage.errors import InvalidInputError, NotFittedError
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.predict.intervals import ConformalIntervals, hops_to_scored, lineage_scale
from hub_lineage.evaluation.metrics import coverage


def test_coverage_is_near_nominal_on_exchangeable_residuals():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.2, 0.8, (4000, 3))
    pred = truth + rng.normal(0, [0.01, 0.03, 0.06], (4000, 3))
    cal = ConformalIntervals(0.9).fit(pred[:500], truth[:500])
    low, high = cal.interval(pred[500:])
    assert abs(coverage(low, high, truth[500:]) - 0.9) < 0.03
    # a noisier benchmark gets a wider interval
    assert cal.quantiles_[0] < cal.quantiles_[1] < cal.quantiles_[2]
    assert ((low >= 0) & (high <= 1)).all()


def test_too_few_residuals_give_infinite_width_not_false_confidence():
    cal = ConformalIntervals(0.95).fit(np.zeros((5, 1)), np.full((5, 1), 0.1))
    assert np.isinf(cal.quantiles_[0])
    low, high = cal.interval(np.array([[0.5]]))
    assert low[0, 0] == 0.0 and high[0, 0] == 1.0


def test_nan_cells_are_left_out_and_scale_widens():
    pred = np.array([[0.5, np.nan], [0.5, 0.5], [0.5, 0.5], [0.5, 0.5]])
    actual = np.array([[0.6, 0.1], [0.4, 0.55], [0.55, 0.45], [0.45, 0.5]])
    cal = ConformalIntervals(0.5).fit(pred, actual)
    assert cal.n_calibration_.tolist() == [4, 3]
    narrow = cal.interval(np.array([[0.5, 0.5]]), scale=np.array([1.0]))
    wide = cal.interval(np.array([[0.5, 0.5]]), scale=np.array([2.0]))
    assert wide[1][0, 0] - wide[0][0, 0] == pytest.approx(2 * (narrow[1][0, 0] - narrow[0][0, 0]))


def test_round_trip_and_errors():
    cal = ConformalIntervals(0.8).fit(np.zeros((20, 2)), np.linspace(0, 0.2, 40).reshape(20, 2))
    back = ConformalIntervals.from_dict(cal.to_dict())
    np.testing.assert_allclose(back.quantiles_, cal.quantiles_)
    with pytest.raises(InvalidInputError, match="coverage"):
        ConformalIntervals(1.5)
    with pytest.raises(NotFittedError):
        ConformalIntervals().interval(np.zeros((1, 2)))
    with pytest.raises(InvalidInputError, match="benchmark columns"):
        cal.interval(np.zeros((1, 3)))
    with pytest.raises(InvalidInputError, match="positive"):
        cal.interval(np.zeros((2, 2)), scale=np.array([1.0, -1.0]))


def test_hops_to_nearest_scored_relative():
    graph = LineageGraph()
    graph.add_edge("child", "mid")
    graph.add_edge("mid", "root")
    graph.add_edge("sib", "root")
    hops = hops_to_scored(graph, ["child", "mid", "sib", "alone"], scored={"root"}, max_hops=5)
    assert hops.tolist() == [2, 1, 1, 6]
    assert lineage_scale(graph, ["child"], {"root"}, slope=0.5).tolist() == [1.5]
