#!/usr/bin/env python
"""Regenerate docs/results.md: run `hub-lineage evaluate` for every setting and tabulate its JSON.

Usage (from the repository root):

    .venv/bin/python scripts/reproduce_results.py [--seeds 5] [--data-dir ../shared/data]
        [--only heterogeneous,homogeneous,instance,noise] [--cache DIR] [--reuse]

Every table in the output is followed by the exact command that produced it. With ``--cache DIR``
each command's JSON is written there; ``--reuse`` reads a cached JSON instead of re-running a
command whose cached copy was made with the same arguments (the command line is stored with it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHES = ("ifeval", "bbh", "math", "gpqa", "musr", "mmlu_pro")
CONTENTS = "open_llm_leaderboard_contents_2025-02-08.csv"
EDGES = "hf_lineage_edges_2025-06.csv"
MMLU = ("mmlu_pro_correctness.csv.gz", "mmlu_pro_questions.csv.gz", "mmlu_pro_models.csv")


def runs(data_dir: str, seeds: int, instance_seeds: int, het_seeds: int | None = None
         ) -> list[tuple[str, str, list[str]]]:
    """(group, title, argv after `hub-lineage`) for every table."""
    board = ["--data", f"{data_dir}/{CONTENTS}", "--data", f"{data_dir}/{EDGES}"]
    mmlu = [a for f in MMLU for a in ("--data", f"{data_dir}/{f}")]
    qwen = "homogeneous:Qwen/Qwen2.5-7B"
    out = [
        ("heterogeneous", "Heterogeneous: all leaderboard models with a scored lineage relative",
         ["evaluate", *board, "--setting", "heterogeneous", "--seeds", str(het_seeds or seeds), "--json"]),
        ("homogeneous", "Homogeneous: Qwen/Qwen2.5-7B and its descendants",
         ["evaluate", *board, "--setting", qwen, "--seeds", str(seeds), "--json"]),
        ("instance", "Instance level: MMLU-Pro, each fine-tune with a scored parent held out in turn",
         ["evaluate", *mmlu, "--setting", "instance", "--seeds", str(instance_seeds),
          "--methods", "lrmf,parent,difficulty,mla,mf,mean", "--json"]),
    ]
    for noise in ("add:0.2", "add:0.4", "remove:0.2", "remove:0.4"):
        out.append(("noise", f"Lineage noise {noise} (Qwen2.5-7B family)",
                    ["evaluate", *board, "--setting", qwen, "--seeds", str(seeds), "--methods", "lrmf,mla",
                     "--noise", noise, "--json"]))
    return out


def run_json(argv: list[str], cache: Path | None, reuse: bool) -> dict:
    key = None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        key = cache / (hashlib.sha256("\0".join(argv).encode()).hexdigest()[:16] + ".json")
        if reuse and key.exists():
            stored = json.loads(key.read_text())
            if stored.get("argv") == argv:
                return stored["result"]
    print("+ hub-lineage " + shlex.join(argv), file=sys.stderr, flush=True)
    proc = subprocess.run([sys.executable, "-m", "hub_lineage.cli", *argv], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"hub-lineage {shlex.join(argv)} failed:\n{proc.stderr}")
    result = json.loads(proc.stdout)
    if key is not None:
        key.write_text(json.dumps({"argv": argv, "result": result}, indent=1))
    return result


def _cell(stat: dict | None) -> str:
    if not stat or stat.get("mean") is None:
        return "–"
    return f"{stat['mean']:.3f} ± {stat['sd']:.3f}"


def table(result: dict) -> str:
    results = result["results"]
    names = list(dict.fromkeys(k for per in results.values() for k in per))
    order = ["pearson_all", "spearman_all", "mae_all", "auc", "coverage", "interval_width",
             *(f"pearson_{b}" for b in BENCHES)]
    names = [n for n in order if n in names] + [n for n in names if n not in order]
    lines = ["| method | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for method, per in results.items():
        lines.append(f"| {method} | " + " | ".join(_cell(per.get(n)) for n in names) + " |")
    return "\n".join(lines)


def noise_table(clean: dict, noisy: list[tuple[str, dict]]) -> str:
    lines = ["| lineage noise | lrmf pearson_all | change | mla pearson_all | change |", "|---|---|---|---|---|"]
    base = {m: clean["results"][m]["pearson_all"]["mean"] for m in ("lrmf", "mla")}
    lines.append(f"| none | {base['lrmf']:.3f} | – | {base['mla']:.3f} | – |")
    for noise, res in noisy:
        cells = []
        for m in ("lrmf", "mla"):
            value = res["results"][m]["pearson_all"]["mean"]
            cells += [f"{value:.3f}", f"{100 * (value - base[m]) / abs(base[m]):+.0f}%"]
        lines.append(f"| {noise} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--instance-seeds", type=int, default=5)
    parser.add_argument("--heterogeneous-seeds", type=int, default=None, help="default: --seeds")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--only", default="heterogeneous,homogeneous,instance,noise")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results.md")
    args = parser.parse_args()
    groups = set(args.only.split(","))
    parts = [
        "# Results: does lineage help predict benchmark scores?",
        "",
        f"Generated by `scripts/reproduce_results.py` on {dt.date.today().isoformat()} from the files in "
        f"`{args.data_dir}` (see its README). Every number is mean ± sd over seeds of the cold-start "
        "protocol in `hub_lineage/evaluation.py`: eligible models (with a scored lineage relative) are "
        "split into 5 folds; each fold is predicted by a fit that never saw its scores; "
        "hyper-parameters and the 90% conformal intervals use the training models only. "
        "`coverage` is the fraction of (test model, benchmark) scores inside their interval.",
    ]
    clean_qwen = None
    noisy = []
    for group, title, argv in runs(args.data_dir, args.seeds, args.instance_seeds, args.heterogeneous_seeds):
        if group not in groups:
            continue
        result = run_json(argv, args.cache, args.reuse)
        if group == "homogeneous":
            clean_qwen = result
        if group == "noise":
            noisy.append((argv[argv.index("--noise") + 1], result))
            continue
        parts += ["", f"## {title}", "", table(result), "", "```", "hub-lineage " + shlex.join(argv), "```"]
    if noisy and clean_qwen is not None:
        parts += ["", "## Lineage-noise ablation (Qwen2.5-7B family)", "",
                  "Random edges between scored family models added, or existing edges removed, per seed.", "",
                  noise_table(clean_qwen, noisy), "", "```"]
        noise_runs = runs(args.data_dir, args.seeds, args.instance_seeds)
        parts += [f"hub-lineage {shlex.join(argv)}" for g, _, argv in noise_runs if g == "noise"]
        parts += ["```"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(parts) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
