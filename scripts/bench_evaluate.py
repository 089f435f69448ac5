#!/usr/bin/env python
"""Time `evaluate` serial, with local worker processes, and on a 2-worker Dask cluster, in one run.

    python scripts/bench_evaluate.py [--json] [--setting homogeneous:Qwen/Qwen2.5-7B] [--seeds 2] [--jobs 2]

Loads the real leaderboard contents and lineage edges (HUB_LINEAGE_DATA, default ../shared/data)
once, then runs the same protocol (all default methods, tuning and intervals) three times: one fit
after another in this process, through ``Runner(jobs)`` (joblib loky processes), and through a
``distributed.LocalCluster`` on 127.0.0.1 with two single-threaded worker processes. Each time
covers the protocol only: data loading and the cluster's start are excluded; the local workers
are started (and import numpy, scipy, torch) while the data loads, as with `evaluate --jobs`, and
whatever of that start-up outlasts the load is included. ``same_results`` is true when every per-seed metric of both parallel runs is within
1e-9 of the serial run's. With --json the last line is the JSON record.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub_lineage.data.sources.detect import load_dataset  # noqa: E402
from hub_lineage.evaluation import protocol as evaluation  # noqa: E402
from hub_lineage.evaluation.parallel import Runner, make_runner  # noqa: E402


def max_difference(a: evaluation.EvaluationResult, b: evaluation.EvaluationResult) -> float:
    """Largest absolute difference between two runs' per-seed metrics (inf if their keys differ)."""
    worst = 0.0
    for method, runs in a.per_seed.items():
        for run_a, run_b in zip(runs, b.per_seed.get(method, []), strict=True):
            if run_a.keys() != run_b.keys():
                return math.inf
            for key, val in run_a.items():
                other = run_b[key]
                if math.isnan(val) and math.isnan(other):
                    continue
                worst = max(worst, abs(val - other) if not (math.isnan(val) or math.isnan(other)) else math.inf)
    return worst


def timed(task: evaluation.Task, seeds: int, runner: Runner | None) -> tuple[float, evaluation.EvaluationResult]:
    start = time.perf_counter()
    result = evaluation.evaluate(task, None, seeds, evaluation.ProtocolOptions(runner=runner))
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", default="homogeneous:Qwen/Qwen2.5-7B")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    data = Path(os.environ.get("HUB_LINEAGE_DATA", ROOT.parent / "shared" / "data"))
    # made before the data load, as `hub-lineage evaluate --jobs` makes it: the workers start meanwhile
    local = make_runner(args.jobs, None, methods=None) or Runner(jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # repaired cycles in Hub metadata are expected
        dataset = load_dataset([str(data / "open_llm_leaderboard_contents_2025-02-08.csv"),
                                str(data / "hf_lineage_edges_2025-06.csv")])
    task = evaluation.prepare(dataset.matrix, dataset.graph, args.setting)
    # parallel first, right after the load: what is left of the workers' start is charged to it,
    # and none of it can overlap (and slow) the serial run
    parallel_s, parallel = timed(task, args.seeds, local)
    serial_s, serial = timed(task, args.seeds, None)
    from distributed import LocalCluster

    with LocalCluster(host="127.0.0.1", n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster:
        dask_s, dask = timed(task, args.seeds, Runner(scheduler=cluster.scheduler_address))
    diff = max(max_difference(serial, parallel), max_difference(serial, dask))
    record = {"setting": args.setting, "seeds": args.seeds, "serial_s": round(serial_s, 2),
              "parallel_s": round(parallel_s, 2), "jobs": args.jobs, "dask_s": round(dask_s, 2),
              "same_results": diff <= 1e-9}
    print(f"evaluate {args.setting}, {args.seeds} seeds, {len(task.eligible)} test models: serial {serial_s:.1f} s, "
          f"--jobs {args.jobs} {parallel_s:.1f} s ({parallel_s / serial_s:.2f}x), 2-worker Dask {dask_s:.1f} s; "
          f"largest metric difference to serial {diff:.3g}; load {os.getloadavg()[0]:.2f}", file=sys.stderr)
    if args.json:
        print(json.dumps(record))


if __name__ == "__main__":
    main()
