"""Held-out fits: each is a fresh clone of one unfitted estimator and never sees its test models."""

from __future__ import annotations

import numpy as np
import pytest

from hub_lineage.errors import NotFittedError
from hub_lineage.evaluation.held_out import predict_held_out, seeded_estimator, training_matrix
from hub_lineage.evaluation.synthetic import make_lineage_data
from hub_lineage.model.base import check_is_fitted


@pytest.fixture(scope="module")
def data():
    return make_lineage_data(n_models=30, n_items=40, random_state=0)


def test_seeded_estimator_sets_the_seed_only_where_there_is_one():
    lrmf = seeded_estimator("lrmf", {"n_factors": 2}, seed=7)
    assert lrmf.get_params()["random_state"] == 7 and lrmf.get_params()["n_factors"] == 2
    mla = seeded_estimator("mla", {"decay": 0.5}, seed=7)
    assert "random_state" not in mla.get_params() and mla.get_params()["decay"] == 0.5


def test_the_estimator_given_is_never_fitted_and_clones_agree(data):
    estimator = seeded_estimator("lrmf", {"n_factors": 2, "max_iter": 5, "lambda_lineage": 0.1}, seed=0)
    test = data.matrix.models[:3]
    first = predict_held_out(estimator, data.matrix, data.graph, test)
    with pytest.raises(NotFittedError):
        check_is_fitted(estimator)  # every fit was a clone
    np.testing.assert_array_equal(first, predict_held_out(estimator, data.matrix, data.graph, test))
    assert first.shape == (3, len(data.matrix.items))


def test_training_matrix_drops_scores_but_keeps_metadata(data):
    matrix = data.matrix
    matrix.model_meta = {m: {"type": "chat"} for m in matrix.models}
    train = training_matrix(matrix, matrix.models[:2])
    assert set(train.models) == set(matrix.models[2:])
    assert train.model_meta == matrix.model_meta
