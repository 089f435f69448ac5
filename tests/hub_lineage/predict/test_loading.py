"""load_predictor: load the saved predictor, or fit one once from the store, saying so."""

from __future__ import annotations

import logging

import pytest
from tiny_predictor import tiny_data, tiny_predictor_dir

from hub_lineage import paths
from hub_lineage.data.store.database import Store
from hub_lineage.errors import NotFittedError
from hub_lineage.predict.loading import OFFLINE_EMPTY, load_predictor

FITTING = "No fitted predictor yet: fitting one from the store (once; `hub-lineage fit` refits)."


def _tiny_store(path) -> str:
    matrix, graph = tiny_data()
    scores = matrix.benchmark_scores()
    with Store(path) as store:
        run = store.add_run("tiny-data", "contents")
        store.add_scores(run, [(m, b, float(scores[i, k]), float(matrix.item_counts[k]))
                               for i, m in enumerate(matrix.models) for k, b in enumerate(matrix.benchmarks)])
        store.add_edges(graph.edges)
    return str(path)


def test_a_saved_predictor_is_loaded_as_is(tmp_path):
    saved = tiny_predictor_dir(tmp_path / "predictor")
    messages: list[str] = []
    predictor = load_predictor(saved, on_progress=messages.append)
    assert predictor.path == saved and messages == []


def test_missing_predictor_without_a_fit_raises_and_touches_no_store(tmp_path):
    store = tmp_path / "store.sqlite"
    with pytest.raises(NotFittedError, match="No fitted predictor in"):
        load_predictor(tmp_path / "none", store)  # an explicit directory is never fitted into
    with pytest.raises(NotFittedError, match="No fitted predictor in"):
        load_predictor(None, store, fit_if_missing=False)  # what mergekit-preflight asks for
    assert not store.exists()


def test_offline_with_an_empty_store_says_how_to_ingest(tmp_path):
    with pytest.raises(NotFittedError) as exc:
        load_predictor(None, tmp_path / "store.sqlite", offline=True)
    assert str(exc.value) == OFFLINE_EMPTY


def test_first_run_fits_once_and_logs_it(tmp_path, caplog):
    store = _tiny_store(tmp_path / "store.sqlite")
    with caplog.at_level(logging.INFO, logger="hub_lineage.predict.loading"):
        predictor = load_predictor(None, store, offline=True)
    assert [r.getMessage() for r in caplog.records if r.name == "hub_lineage.predict.loading"] == [FITTING]
    assert predictor.path == paths.default_predictor_dir() and "alpha/ft-3" in predictor.graph
    messages: list[str] = []
    assert load_predictor(None, store, on_progress=messages.append).version == predictor.version
    assert messages == []  # saved on the first run
