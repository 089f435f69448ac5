"""Time one `mergekit-preflight` run as a whole process (Python start-up included).

Usage: .venv/bin/python scripts/bench_preflight.py [--predictor DIR] [--recipe YML] [--runs 5] [--json]

Without --predictor it fits a small predictor (tests/preflight_data.py's lineage) into a
temporary HUB_LINEAGE_HOME first. Prints the median and best wall time; the target is <= 0.45 s.
Modules are timed compiled, as pip installs them (a private bytecode cache filled by the untimed
first run).
With --json the last line is ``{"median_s", "best_s", "runs"}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def small_predictor(directory: Path) -> Path:
    # import the package before tests/ joins the path: tests/hub_lineage (no __init__) would
    # otherwise be taken for a namespace package of that name
    from hub_lineage.predict.predictor import Predictor

    sys.path.insert(0, str(ROOT / "tests"))
    from preflight_data import training_data  # the test lineage: real model names, synthetic scores

    matrix, graph, _ = training_data()
    return Predictor.fit(matrix, graph).save(directory / "predictor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictor", help="fitted predictor dir (default: fit a small one)")
    parser.add_argument("--recipe", default=str(ROOT / "scripts" / "examples" / "ties_qwen.yml"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="end with a JSON record")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    predictor = Path(args.predictor) if args.predictor else small_predictor(Path(tmp.name))
    exe = Path(sys.executable).with_name("mergekit-preflight")
    cmd = [str(exe), args.recipe, "--predictor", str(predictor), "--require", "bbh>=0.0"]
    # Bytecode as an installed package has it (pip compiles on install): a private cache that the
    # untimed first run fills. With PYTHONDONTWRITEBYTECODE=1 (this sandbox sets it) every timed run
    # recompiled each module not already compiled (as bench_fit.py's predict timing does too).
    pycache = tempfile.TemporaryDirectory()
    env = {**os.environ, "HUB_LINEAGE_HOME": tmp.name, "PYTHONPYCACHEPREFIX": pycache.name}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    times = []
    for _ in range(args.runs + 1):  # the first run compiles and warms the OS file cache: not counted
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - start)
        if proc.returncode not in (0, 1):
            sys.exit(f"mergekit-preflight failed ({proc.returncode}):\n{proc.stderr}")
    times = times[1:]
    print(f"mergekit-preflight, one recipe, whole process: median {statistics.median(times):.3f} s, "
          f"best {min(times):.3f} s over {len(times)} runs (target <= 0.45 s; predictor {predictor}; "
          f"load {os.getloadavg()[0]:.2f})")
    if args.json:
        print(json.dumps({"median_s": round(statistics.median(times), 3), "best_s": round(min(times), 3),
                          "runs": len(times)}))
    tmp.cleanup()
    pycache.cleanup()


if __name__ == "__main__":
    main()
