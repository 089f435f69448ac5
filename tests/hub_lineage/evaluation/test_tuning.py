"""The inner search: training models only, and the saved predictor gets what evaluate would pick."""

from __future__ import annotations

from tiny_predictor import tiny_data

from hub_lineage.evaluation import splits
from hub_lineage.evaluation.tuning import SETTING_GRIDS, select_params
from hub_lineage.predict.predictor import Predictor


def test_predictor_fit_uses_the_evaluations_choice():
    matrix, graph = tiny_data()
    fitted = Predictor.fit(matrix, graph, n_folds=3, n_factors=4, max_iter=30)
    lineage = splits.relevant_graph(graph, matrix.models)
    chosen = select_params("lrmf", "heterogeneous", matrix, lineage, [], 0, fixed={"n_factors": 4, "max_iter": 30},
                           n_inner=3)
    params = {k: v for k, v in fitted.meta["params"].items() if k != "random_state"}
    assert params == chosen.params
    # the search's validation; fit's "validation" scores the shipped (corrected, leave-one-out) predictions
    plain = fitted.meta["validation_uncorrected"] if fitted.correction is not None else fitted.meta["validation"]
    assert plain["pearson_all"] == chosen.scores["pearson_all"]
    assert fitted.meta["n_calibration"] == len(chosen.models) == len(splits.eligible_models(matrix.models, lineage))


def test_search_never_sees_test_models_and_fixed_params_win():
    matrix, graph = tiny_data()
    test = ["alpha/ft-2", "beta/ft-3"]
    sel = select_params("lrmf", "heterogeneous", matrix, graph, test, 0,
                        fixed={"n_factors": 4, "max_iter": 20, "lambda_lineage": 0.7}, n_inner=3)
    assert not set(test) & set(sel.models)
    assert sel.params["lambda_lineage"] == 0.7
    assert sel.pred.shape == sel.actual.shape == (len(sel.models), 6)
    roots = {p["relation_weights"]["root"] for p in SETTING_GRIDS["heterogeneous"]["lrmf"]}
    assert sel.params["relation_weights"]["root"] in roots


def test_too_few_models_to_validate():
    matrix, graph = tiny_data()
    small = matrix.select_models(matrix.models[:8])
    sel = select_params("lrmf", "heterogeneous", small, graph, [], 0, fixed={"n_factors": 4})
    assert sel.pred is None and sel.scores == {}
