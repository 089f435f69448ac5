"""Parallel evaluation: loky processes and a real Dask cluster give the serial run's numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.errors import HubLineageError, InvalidInputError
from hub_lineage.evaluation import protocol as evaluation
from hub_lineage.evaluation.parallel import Runner, make_runner
from hub_lineage.evaluation.synthetic import make_lineage_data
from hub_lineage.lineage.graph import LineageGraph

METHODS = ["lrmf", "mla", "mean"]


def _task() -> evaluation.Task:
    data = make_lineage_data(n_models=40, n_items=60, aggregate=True, random_state=1)
    return evaluation.prepare(data.aggregate, data.graph, "heterogeneous")


def _opts(runner=None) -> evaluation.ProtocolOptions:
    # a 2-point grid for LRMF (tuned on an inner split) and intervals: every kind of unit work
    return evaluation.ProtocolOptions(n_folds=3, runner=runner, params={}, coverage=0.9)


def _same(a: evaluation.EvaluationResult, b: evaluation.EvaluationResult) -> None:
    assert a.per_seed.keys() == b.per_seed.keys()
    for method, runs in a.per_seed.items():
        for run_a, run_b in zip(runs, b.per_seed[method], strict=True):
            assert run_a.keys() == run_b.keys()
            for key, val in run_a.items():
                other = run_b[key]
                assert (math.isnan(val) and math.isnan(other)) or abs(val - other) <= 1e-9, (method, key)


@pytest.fixture(scope="module")
def serial() -> evaluation.EvaluationResult:
    return evaluation.evaluate(_task(), METHODS, seeds=2, options=_opts())


@pytest.mark.parametrize("split", [False, True], ids=["outer-fits", "grid-point-units"])
def test_local_processes_give_the_serial_numbers(serial, split, monkeypatch):
    from hub_lineage.evaluation import units

    if split:  # 18 outer fits for 2 workers would not be split: make them
        monkeypatch.setattr(units, "SPLIT_BELOW", 100)
    seen: list[str] = []
    result = evaluation.evaluate(_task(), METHODS, seeds=2, options=_opts(Runner(jobs=2, progress=seen.append)))
    _same(serial, result)
    assert seen[-1] == f"fits {2 * 3 * len(METHODS)}/{2 * 3 * len(METHODS)}"
    assert result.summary()["lrmf"]["pearson_all"]["mean"] > 0.5  # a real evaluation, not an empty one


def test_a_dask_cluster_gives_the_serial_numbers(serial):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(host="127.0.0.1", n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster:
        runner = make_runner(1, cluster.scheduler_address)
        assert isinstance(runner, Runner) and runner.threads == 1
        result = evaluation.evaluate(_task(), METHODS, seeds=2, options=_opts(runner))
        with distributed.Client(cluster) as client:  # the work really ran on both worker processes
            assert len(client.scheduler_info()["workers"]) == 2
    _same(serial, result)


def test_runner_options(monkeypatch):
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    assert make_runner(1, None) is None
    assert make_runner(3, None).jobs == 3
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:1")
    assert make_runner(1, None).scheduler == "tcp://127.0.0.1:1"
    with pytest.raises(InvalidInputError, match="--jobs 0"):
        Runner(jobs=0)
    with pytest.raises(HubLineageError, match="tcp://127.0.0.1:1"):
        Runner(scheduler="tcp://127.0.0.1:1", connect_timeout=1)(abs, [(-1,)])


def test_the_instance_setting_runs_in_parallel_with_the_serial_numbers(monkeypatch):
    from hub_lineage.evaluation import units

    monkeypatch.setattr(units, "SPLIT_BELOW", 100)  # lrmf's grid points as units of their own
    # binary answers: three bases, each with a fine-tune that answers much like it
    rng = np.random.default_rng(0)
    graph, names, rows = LineageGraph(), [], []
    easiness = rng.normal(0, 1.5, 120)
    for b in range(3):
        style = rng.normal(0, 3.0, 120)
        for name, shift in ((f"org/base{b}", 0.0), (f"org/base{b}-it", 0.5)):
            rows.append((rng.random(120) < 1 / (1 + np.exp(-(easiness + style + shift)))).astype(float))
            names.append(name)
        graph.add_edge(f"org/base{b}-it", f"org/base{b}")
    matrix = ObservationMatrix(names, [f"q/{i}" for i in range(120)], np.array(rows), ["q"] * 120)
    task = evaluation.prepare(matrix, graph, "instance")
    methods = ["lrmf", "parent", "difficulty", "mean"]  # lrmf: its grid's points are units of their own
    serial = evaluation.evaluate(task, methods, seeds=1)
    parallel = evaluation.evaluate(task, methods, seeds=1,
                                   options=evaluation.ProtocolOptions(runner=Runner(jobs=2)))
    _same(serial, parallel)
    assert parallel.per_model == serial.per_model


def test_grid_points_are_units_of_their_own(serial):
    """Round 1 maps every candidate of every inner search, round 2 the outer fits with the winners."""
    from hub_lineage.evaluation import units
    from hub_lineage.evaluation.tuning import plan_tuned

    rounds: list[tuple[str, int]] = []

    def in_order(fn, calls):  # a runner that runs here, one call after another
        rounds.append((fn.__name__, len(calls)))
        return [fn(*call) for call in calls]

    task, opts = _task(), _opts(in_order)
    result = evaluation.evaluate(task, METHODS, seeds=2, options=opts)
    _same(serial, result)
    n_points = 0
    for seed in (0, 1):
        graph, _, folds = units.kfold_plan(task, seed, opts)
        n_points += sum(len(plan_tuned(m, task, graph, fold, seed, opts).points) for m in METHODS for fold in folds)
    assert n_points > 2 * 3 * len(METHODS)  # LRMF's grid has several points
    assert rounds == [("point_fit", n_points), ("fold_fit", 2 * 3 * len(METHODS))]
