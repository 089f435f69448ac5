"""A small fitted predictor whose lineage holds the models the sample recipes and tiny merges name."""

from __future__ import annotations

from pathlib import Path

import pytest
from preflight_data import training_data


@pytest.fixture(scope="session")
def fitted(tmp_path_factory: pytest.TempPathFactory):
    """(predictor, its saved directory, the training scores by model)."""
    from hub_lineage.predict.predictor import Predictor

    matrix, graph, scores = training_data()
    predictor = Predictor.fit(matrix, graph)
    directory = predictor.save(tmp_path_factory.mktemp("predictor") / "predictor")
    return predictor, Path(directory), scores
