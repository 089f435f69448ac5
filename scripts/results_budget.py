#!/usr/bin/env python
"""The few-item (budget) tables of docs/results.md, the MAE-vs-K plot and "lineage is worth N items".

Usage (from the repository root):

    .venv/bin/python scripts/results_budget.py [--seeds 1] [--data-dir ../shared/data] [--cache DIR]

Runs the ``budget:K`` protocol (:mod:`hub_lineage.evaluation.budget`) for K = 0, 10, 25, 50, 100
on MuSR + IFEval item answers with the contents table and the edge list, plain and ``--frontier``.
All Ks of one seed share the fold fits and each held-out model's item permutation, so the row for K
is exactly what ``hub-lineage evaluate ... --setting budget:K`` prints (the commands are listed
under the tables). ``scripts/reproduce_results.py --only ...,budget`` calls :func:`budget_section`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KS = (0, 10, 25, 50, 100)
METHODS = ("lrmf", "random", "irt", "aipw")
FILES = ("musr_correctness.csv.gz", "ifeval_correctness.csv.gz", "open_llm_leaderboard_contents_2025-02-08.csv",
         "hf_lineage_edges_2025-06.csv")


def run(data_dir: str, seeds: int, frontier: bool, progress=None) -> dict:
    """``{"per_k": {K: {method: {metric: mean over seeds}}}, "n_models", "seconds"}``."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from hub_lineage.data.sources.detect import load_dataset
    from hub_lineage.evaluation.budget import prepare_budget, run_budget

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_dataset([f"{data_dir}/{f}" for f in FILES])
    task = prepare_budget(data.matrix, data.graph, frontier=frontier)
    res = run_budget(task, KS, METHODS, seeds, progress=progress)
    per_k = {}
    for k, methods in res.items():
        per_k[str(k)] = {}
        for m, runs in methods.items():
            names = {n for r in runs for n in r}
            per_k[str(k)][m] = {n: float(np.mean([r[n] for r in runs if n in r])) for n in sorted(names)}
    return {"per_k": per_k, "n_models": len(task.test), "seconds": time.perf_counter() - start, "seeds": seeds}


def cached(path: Path | None, key: str, make) -> dict:
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        file = path / f"budget-{key}.json"
        if file.is_file():
            return json.loads(file.read_text())
    result = make()
    if path is not None:
        file.write_text(json.dumps(result, indent=1))
    return result


def table(result: dict) -> str:
    head = "| K | " + " | ".join(f"{m} MAE" for m in METHODS) + " | " + \
        " | ".join(f"{m} cov / width" for m in METHODS) + " |"
    lines = [head, "|" + "---|" * (1 + 2 * len(METHODS))]
    for k in map(str, KS):
        row = result["per_k"][k]
        maes = [f"{row[m]['mae_all']:.4f}" if "mae_all" in row.get(m, {}) else "-" for m in METHODS]
        covs = [f"{row[m]['coverage']:.3f} / {row[m]['interval_width']:.3f}" if "coverage" in row.get(m, {}) else "-"
                for m in METHODS]
        lines.append(f"| {k} | " + " | ".join(maes) + " | " + " | ".join(covs) + " |")
    return "\n".join(lines)


def worth(result: dict) -> float | None:
    sys.path.insert(0, str(ROOT))
    from hub_lineage.evaluation.budget import lineage_worth

    return lineage_worth({int(k): v for k, v in result["per_k"].items()})


def plot(results: dict[str, dict], out: Path) -> Path | None:
    """MAE against K per method (plain solid, frontier dashed); None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, style in (("plain", "-"), ("frontier", "--")):
        if name not in results:
            continue
        for m in METHODS:
            pts = [(k, results[name]["per_k"][str(k)][m].get("mae_all")) for k in KS]
            pts = [(k, v) for k, v in pts if v is not None]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o", label=f"{m} ({name})")
    ax.set_xlabel("items revealed per benchmark (K)")
    ax.set_ylabel("MAE of full-benchmark accuracy")
    ax.set_title("MuSR + IFEval: few-item estimates")
    ax.legend(fontsize=7)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def commands(data_dir: str, seeds: int) -> list[str]:
    data = [a for f in FILES for a in ("--data", f"{data_dir}/{f}")]
    out = []
    for frontier in (False, True):
        for k in KS:
            argv = ["evaluate", *data, "--setting", f"budget:{k}", "--seeds", str(seeds), "--json"]
            out.append("hub-lineage " + shlex.join(argv + (["--frontier"] if frontier else [])))
    return out


def budget_section(data_dir: str, seeds: int = 1, cache: Path | None = None,
                   plot_path: Path | None = ROOT / "docs" / "budget_mae.png", progress=None) -> list[str]:
    """Markdown lines of the budget section (runs the protocol, or reads ``cache``)."""
    results = {name: cached(cache, f"{name}-s{seeds}", lambda f=(name == "frontier"): run(data_dir, seeds, f, progress))
               for name in ("plain", "frontier")}
    parts = ["", "## Few evaluated items: budget:K (MuSR + IFEval)", "",
             "Each held-out model (plain: eligible models in 5 folds; frontier: the strongest fifth, trained on the "
             "rest) reveals K random items per benchmark; every method estimates its full-benchmark accuracy. "
             "`cov / width`: coverage and mean width of the 90% intervals. K = 0 is cold start (lineage only). "
             "lrmf's offset prior and its interval scale per K (split-conformal) are measured on an inner fifth of "
             "each fold's training models (frontier: their strongest fifth). "
             "`irt` is a 2PL (discriminations and difficulties fitted on the training models; "
             "`--methods irt1pl` gives the 1PL).", ""]
    for name in ("plain", "frontier"):
        r = results[name]
        w = worth(r)
        parts += [f"### {name} ({r['n_models']} held-out models, {r['seeds']} seed(s), {r['seconds']:.0f} s)", "",
                  table(r), "",
                  f"Lineage is worth {w:.0f} items: `random` needs that many items per benchmark to match `lrmf` "
                  "at K = 0." if w is not None else "Lineage is worth fewer items than the smallest K measured, "
                  "or `random` never matches `lrmf` at K = 0 within K <= 100.", ""]
    if plot_path is not None:
        made = plot(results, plot_path)
        if made is not None:
            parts += [f"![MAE against K]({made.name})", ""]
    parts += ["```", *commands(data_dir, seeds), "```"]
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "budget_mae.png")
    args = parser.parse_args()
    lines = budget_section(args.data_dir, args.seeds, args.cache, args.plot,
                           progress=lambda msg: print(f"  {msg}", file=sys.stderr, flush=True))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
