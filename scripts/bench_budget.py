#!/usr/bin/env python
"""Issue 11's speed figures: the instance-level product fit, `predict` with partial data (warm) and
`evaluate --setting budget:50` on MuSR + IFEval.

Usage (from the repository root; timings are noisy on a shared machine: quote `uptime`):

    .venv/bin/python scripts/bench_budget.py [--data-dir ../shared/data] [--home DIR] [--skip-evaluate]

Prints one line per figure with its target.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ("open_llm_leaderboard_contents_2025-02-08.csv", "hf_lineage_edges_2025-06.csv", "musr_correctness.csv.gz",
         "ifeval_correctness.csv.gz", "mmlu_pro_correctness.csv.gz", "mmlu_pro_questions.csv.gz", "mmlu_pro_models.csv")


def cli(*argv: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from hub_lineage.cli.main import main; main()", *argv], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--home", default=None, help="HUB_LINEAGE_HOME to use (default: a temporary directory)")
    parser.add_argument("--skip-evaluate", action="store_true")
    args = parser.parse_args()
    home = Path(args.home or tempfile.mkdtemp(prefix="bench-budget-"))
    env = {**os.environ, "HUB_LINEAGE_HOME": str(home), "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    data = [f"{args.data_dir}/{f}" for f in FILES]
    print(f"ingest: {cli('ingest', *data, env=env):.1f} s", flush=True)
    # a model with lineage but no items evaluates 50 MuSR items (its leaderboard answers, subsampled)
    sys.path.insert(0, str(ROOT))
    import gzip
    import csv

    child = "Qwen/Qwen2.5-7B-Instruct"
    with gzip.open(f"{args.data_dir}/musr_correctness.csv.gz", "rt") as handle:
        rows = [r for r in csv.DictReader(handle) if r["model"] == child][::15][:50]
    partial = home / "partial" / "musr_correctness.csv"
    partial.parent.mkdir(parents=True, exist_ok=True)
    model = "local/qwen-instruct-50-items"
    partial.write_text("model,instance,correct\n" + "".join(f"{model},{r['instance']},{r['correct']}\n" for r in rows))
    edges = home / "partial" / "edges.csv"
    edges.write_text(f"source,target,edge\n{child},{model},finetuned\n")
    cli("ingest", str(partial), str(edges), env=env)
    fit = cli("fit", env=env)
    print(f"fit (contents + edges + MuSR + IFEval + MMLU-Pro, instance level): {fit:.1f} s (target <= 60 s)", flush=True)
    cli("predict", model, "--offline", "--json", env=env)  # warm the caches
    times = [cli("predict", model, "--offline", "--json", env=env) for _ in range(3)]
    in_process = _in_process_predict(model, env)
    print(f"predict with 50 own items, warm: process {min(times):.2f} s, in-process {in_process:.3f} s "
          "(target <= 0.5 s)", flush=True)
    if not args.skip_evaluate:
        ev = cli("evaluate", *[a for f in FILES[:4] for a in ("--data", f"{args.data_dir}/{f}")],
                 "--setting", "budget:50", "--seeds", "1", "--json", "--quiet", env=env)
        print(f"evaluate --setting budget:50 (MuSR + IFEval, 1 seed): {ev / 60:.1f} min (target <= 20 min)")


def _in_process_predict(model: str, env: dict[str, str]) -> float:
    os.environ.update({k: env[k] for k in ("HUB_LINEAGE_HOME", "HF_HUB_OFFLINE")})
    from hub_lineage.predict.partial import own_estimates
    from hub_lineage.predict.predictor import Predictor

    predictor = Predictor.load()
    predictor.predict(model, offline=True)
    own_estimates(None, predictor, model)
    start = time.perf_counter()
    predictor.predict(model, offline=True)
    own_estimates(None, predictor, model)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
