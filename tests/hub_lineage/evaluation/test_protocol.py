"""The evaluation protocol: settings, splits without leakage, pruning, noise, a synthetic run."""

from __future__ import annotations

import numpy as np
import pytest

from hub_lineage.evaluation import protocol as evaluation
from hub_lineage.evaluation import splits
from hub_lineage.evaluation.held_out import cross_validated_predictions, method_graph, seeded_estimator
from hub_lineage.evaluation.tuning import SETTING_PARAMS
from hub_lineage.model import baselines, registry
from hub_lineage.model.baselines import MeanBaseline
from hub_lineage.errors import InvalidInputError, RepoNotFoundError
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.data.matrix import ObservationMatrix


def _family(n_children: int = 24, seed: int = 0) -> tuple[ObservationMatrix, LineageGraph]:
    """Two roots with fine-tunes near their parent; 'orphan' has no lineage."""
    rng = np.random.default_rng(seed)
    graph = LineageGraph()
    rows, names = [], []
    for root, level in (("org/A", 0.3), ("org/B", 0.7)):
        names.append(root)
        rows.append(level + rng.normal(0, 0.01, 3))
        for k in range(n_children // 2):
            child = f"{root}-ft{k}"
            graph.add_edge(child, root)
            names.append(child)
            rows.append(level + rng.normal(0, 0.03, 3))
    names.append("org/orphan")
    rows.append(np.full(3, 0.5))
    values = np.clip(np.array(rows), 0, 1)
    items = ["bbh", "gpqa", "musr"]
    return ObservationMatrix(names, items, values, items, np.array([100.0, 100.0, 100.0])), graph


def test_setting_parse():
    assert str(evaluation.Setting.parse("homogeneous:Qwen/Qwen2.5-7B")) == "homogeneous:Qwen/Qwen2.5-7B"
    for bad in ("hetero", "homogeneous", "instance:x", ""):
        with pytest.raises(InvalidInputError, match="valid settings are heterogeneous"):
            evaluation.Setting.parse(bad)
    with pytest.raises(InvalidInputError, match="'instance:org/x'"):
        evaluation.Setting("instance", "org/x")  # refused however it is made


def test_prepare_finds_eligible_models_and_refuses_bad_input():
    matrix, graph = _family()
    task = evaluation.prepare(matrix, graph, "heterogeneous")
    assert "org/orphan" not in task.eligible and len(task.eligible) == 26
    family = evaluation.prepare(matrix, graph, "homogeneous:org/A")
    assert set(family.matrix.models) == {"org/A", *(f"org/A-ft{k}" for k in range(12))}
    with pytest.raises(RepoNotFoundError, match="org/C"):
        evaluation.prepare(matrix, graph, "homogeneous:org/C")
    with pytest.raises(InvalidInputError, match="instance-level"):
        evaluation.prepare(matrix, graph, "instance")
    with pytest.raises(InvalidInputError, match="no observations"):
        evaluation.prepare(None, graph, "heterogeneous")
    with pytest.raises(InvalidInputError, match="scored lineage relative"):
        evaluation.prepare(matrix, LineageGraph(), "heterogeneous")


def test_kfold_partitions_and_depends_on_seed():
    models = [f"m{i}" for i in range(23)]
    folds = splits.kfold(models, 5, seed=3)
    assert sorted(m for f in folds for m in f) == sorted(models)
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    assert folds != splits.kfold(models, 5, seed=4)
    with pytest.raises(InvalidInputError, match="2 eligible model"):
        splits.kfold(["a", "b"], 5, 0)


def test_relevant_graph_keeps_paths_and_drops_dangling_branches():
    graph = LineageGraph()
    graph.add_edge("mid", "root")
    graph.add_edge("a", "mid")
    graph.add_edge("b", "mid")
    graph.add_edge("leaf", "a")  # unscored dangling leaf
    graph.add_edge("x", "y")  # component without scored models
    pruned = splits.relevant_graph(graph, ["a", "b"])
    assert set(pruned.nodes) == {"a", "b", "mid"}


def test_perturb_adds_or_removes_the_asked_fraction():
    matrix, graph = _family()
    removed = splits.perturb(graph, ("remove", 0.4), matrix.models, seed=0)
    assert len(removed.edges) == len(graph.edges) - round(0.4 * len(graph.edges))
    added = splits.perturb(graph, ("add", 0.2), matrix.models, seed=0)
    assert len(added.edges) == len(graph.edges) + round(0.2 * len(graph.edges))
    assert splits.parse_noise("add:0.2") == ("add", 0.2)
    with pytest.raises(InvalidInputError, match="add:FRACTION"):
        splits.parse_noise("flip:0.2")


class _Recorder(MeanBaseline):
    """A real estimator that records which models' observations each fit saw."""

    log: list[tuple[str, frozenset[str]]] = []

    def fit(self, matrix, model_graph=None, instance_graph=None):
        seen = frozenset(m for m, row in zip(matrix.models, matrix.mask) if row.any())
        _Recorder.log.append(("fit", seen))
        return super().fit(matrix, model_graph, instance_graph)

    def predict_proba(self, models):
        _Recorder.log.append(("predict", frozenset(models)))
        return super().predict_proba(models)


def test_no_test_model_leaks_into_training_or_tuning(monkeypatch):
    matrix, graph = _family(40)
    monkeypatch.setitem(registry.METHODS, "recorder", registry.Method(
        "recorder", lambda **p: _Recorder(), "records fits", ({}, {})))
    _Recorder.log = []
    task = evaluation.prepare(matrix, graph, "heterogeneous")
    opts = evaluation.ProtocolOptions(n_inner=3)
    evaluation.evaluate(task, ["recorder"], seeds=1, options=opts)
    folds = splits.kfold(task.eligible, 5, 0)
    log = _Recorder.log
    predicted = [(k, models) for k, (kind, models) in enumerate(log) if kind == "predict"]
    assert len(predicted) > 5  # inner fits happened (tuning over a 2-point grid + calibration)
    for k, models in predicted:
        assert not models & log[k - 1][1], "a predicted model was in its own training fit"
    outer = [k for k, models in predicted if models in {frozenset(f) for f in folds}]
    assert len(outer) == 5
    start = 0
    for k in outer:  # every fit for this fold, inner ones included, excludes the fold's test models
        fold = log[k][1]
        for kind, models in log[start:k]:
            if kind == "fit":
                assert not models & fold
        start = k + 1


def test_cross_validated_predictions_shape_and_cold_start():
    matrix, graph = _family()
    models = matrix.models[:20]
    pred = cross_validated_predictions(seeded_estimator("mla", {}, 0), matrix, graph, models, n_folds=4)
    assert pred.shape == (20, 3)
    actual = matrix.select_models(models).benchmark_scores()
    assert np.corrcoef(pred.mean(1), actual.mean(1))[0, 1] > 0.9


def test_protocol_on_the_family_ranks_lineage_methods_first():
    matrix, graph = _family(40)
    task = evaluation.prepare(matrix, graph, "heterogeneous")
    result = evaluation.evaluate(task, ["mla", "mean"], seeds=2)
    data = result.to_json()
    assert data["setting"] == "heterogeneous" and data["seeds"] == 2
    mla, mean = data["results"]["mla"], data["results"]["mean"]
    assert {"pearson_all", "pearson_bbh", "spearman_all", "mae_all", "coverage"} <= set(mla)
    assert mla["pearson_all"]["mean"] > 0.9 > mean["pearson_all"]["mean"]
    assert 0.75 <= mla["coverage"]["mean"] <= 1.0
    with pytest.raises(InvalidInputError, match="Did you mean 'mla'"):
        evaluation.evaluate(task, ["mlq"], seeds=1)


def test_lineage_methods_beat_mf_and_mean_on_synthetic_data():
    synthetic = pytest.importorskip("hub_lineage.evaluation.synthetic")
    data = synthetic.make_lineage_data(n_models=60, n_items=120, random_state=0)
    task = evaluation.prepare(data.matrix, data.graph, "heterogeneous")
    opts = evaluation.ProtocolOptions(coverage=None, tune=False, params={
        "lrmf": {"n_factors": 8, "reg": 1e-4, "biases": True, "lambda_lineage": 1e-3}})
    res = evaluation.evaluate(task, ["lrmf", "mla", "mf", "mean"], seeds=1, options=opts).summary()
    score = {m: v["pearson_all"]["mean"] for m, v in res.items()}
    for lineage in ("lrmf", "mla"):
        assert score[lineage] > score["mf"] + 0.2
        assert score[lineage] > score["mean"] + 0.2


def _instance_data() -> tuple[ObservationMatrix, LineageGraph]:
    """Binary answers: three base models, each with a fine-tune that answers like it (mostly)."""
    rng = np.random.default_rng(0)
    n_items = 300
    easiness = rng.normal(0, 1.5, n_items)
    graph = LineageGraph()
    names, rows = [], []
    for b in range(3):
        style = rng.normal(0, 3.0, n_items)
        for name, shift in ((f"org/base{b}", 0.0), (f"org/base{b}-it", 0.5)):
            logit = easiness + style + shift
            rows.append((rng.random(n_items) < 1 / (1 + np.exp(-logit))).astype(float))
            names.append(name)
        graph.add_edge(f"org/base{b}-it", f"org/base{b}")
    for k in range(4):  # unrelated models that carry item difficulty
        rows.append((rng.random(n_items) < 1 / (1 + np.exp(-easiness))).astype(float))
        names.append(f"other/m{k}")
        graph.add_node(f"other/m{k}")
    items = [f"q/{i}" for i in range(n_items)]
    return ObservationMatrix(names, items, np.array(rows), ["q"] * n_items), graph


def test_instance_setting_holds_out_each_fine_tune():
    matrix, graph = _instance_data()
    task = evaluation.prepare(matrix, graph, "instance")
    assert task.eligible == ["org/base0-it", "org/base1-it", "org/base2-it"]
    assert splits.POPULATION in task.graph
    result = evaluation.evaluate(task, ["parent", "difficulty", "mean"], seeds=1)
    summary = result.summary()
    assert summary["mean"]["auc"]["mean"] == pytest.approx(0.5)
    # the fine-tune answers like its parent here, so the parent's answers beat plain difficulty
    assert summary["parent"]["auc"]["mean"] > summary["difficulty"]["auc"]["mean"] > 0.5
    assert set(result.per_model["parent"]) == set(task.eligible)
    with pytest.raises(InvalidInputError, match="k=400 neighbours but only 300 instances"):
        evaluation.instance_graph_for(task, ["lrmf"], k=400)


def test_population_node_leaves_parent_walks_alone():
    matrix, graph = _instance_data()
    pop = splits.with_population(graph, matrix.models)
    assert len(pop.edges) == len(graph.edges) + len(matrix.models)
    mla = baselines.MLA(direction="parents").fit(matrix.without_models(["org/base0-it"]), pop)
    np.testing.assert_allclose(mla.predict_proba(["org/base0-it"])[0], matrix.values[0])


def test_side_information_nodes_join_the_fit_graph_but_not_eligibility():
    matrix, graph = _family()
    matrix.model_meta = {m: {"type": "chat" if "A" in m else "base"} for m in matrix.models}
    params, fit_graph = method_graph({"n_factors": 2, "side": {"type": 0.1}}, matrix, graph)
    assert params == {"n_factors": 2}
    assert "<meta:type:chat>" in fit_graph and "<meta:type:chat>" not in graph
    # the orphan joined a metadata group, yet it stays untestable: eligibility reads lineage only
    task = evaluation.prepare(matrix, graph, "heterogeneous")
    assert "org/orphan" in fit_graph and "org/orphan" not in task.eligible
    assert "side" in SETTING_PARAMS["heterogeneous"]["lrmf"]
    opts = evaluation.ProtocolOptions(coverage=None, tune=False,
                                      params={"lrmf": {"n_factors": 2, "reg": 1e-4, "biases": True, "max_iter": 20,
                                                       "side": {"type": 0.1}}})
    result = evaluation.evaluate(task, ["lrmf"], seeds=1, options=opts)
    assert result.summary()["lrmf"]["pearson_all"]["mean"] > 0.8


def test_instance_lrmf_chooses_its_item_graph_on_the_other_fine_tunes():
    from hub_lineage.evaluation.tuning import tune_instance
    from hub_lineage.predict.item_graph import ItemGraphs

    matrix, graph = _instance_data()
    task = evaluation.prepare(matrix, graph, "instance")
    task.instance_graph = evaluation.instance_graph_for(task, ["lrmf"])
    assert isinstance(task.instance_graph, ItemGraphs) and task.instance_graph.kinds() == (None, "co_response")
    assert evaluation.instance_graph_for(task, ["parent"]) is None
    opts = evaluation.ProtocolOptions()
    params = tune_instance("lrmf", task, task.eligible[0], 0, opts)
    assert params["item_graph"] in (None, "co_response") and params["lambda_instance"] > 0
    result = evaluation.evaluate(task, ["lrmf"], seeds=1, options=opts).summary()
    assert result["lrmf"]["auc"]["mean"] > 0.6
