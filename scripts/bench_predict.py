#!/usr/bin/env python
"""Time `hub-lineage predict REPO_ID --offline --json` as a user runs it: a whole new process.

Needs a fitted predictor ($HUB_LINEAGE_HOME/predictor or --predictor), e.g. after
  hub-lineage ingest ../shared/data/open_llm_leaderboard_contents_2025-02-08.csv \
      ../shared/data/hf_lineage_edges_2025-06.csv
  hub-lineage fit
Prints each run's wall time (the target is at most 1.5 s), then an in-process breakdown.

Usage: scripts/bench_predict.py [REPO_ID] [--runs N] [--predictor DIR]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo_id", nargs="?", default="ZeroXClem/Qwen2.5-7B-HomerAnvita-NerdMix")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--predictor", default=None)
    args = parser.parse_args()
    cmd = [sys.executable, "-c", "from hub_lineage.cli.main import main; main()", "predict", args.repo_id,
           "--offline", "--json"]
    if args.predictor:
        cmd += ["--predictor", args.predictor]
    walls = []
    for k in range(args.runs + 1):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"predict failed:\n{proc.stderr}")
        if k == 0:
            print(f"first run (cold file cache): {wall:.3f} s")
            continue
        walls.append(wall)
        print(f"run {k}: {wall:.3f} s wall")
    print(f"hub-lineage predict {args.repo_id} --offline --json: median {statistics.median(walls):.3f} s, "
          f"min {min(walls):.3f} s, max {max(walls):.3f} s over {len(walls)} runs (target <= 1.5 s)")

    t0 = time.perf_counter()
    from hub_lineage.predict.loading import load_predictor

    t1 = time.perf_counter()
    predictor = load_predictor(args.predictor, fit_if_missing=False)
    t2 = time.perf_counter()
    predictor.predict(args.repo_id, offline=True)
    t3 = time.perf_counter()
    print(f"in-process: imports {t1 - t0:.3f} s, load predictor {t2 - t1:.3f} s "
          f"({predictor.meta['n_nodes']} lineage nodes), predict {t3 - t2:.3f} s")


if __name__ == "__main__":
    main()
