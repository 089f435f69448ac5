#!/usr/bin/env python
"""Benchmark the LRMF fit against a straightforward PyTorch full-batch Adam reference.

    python scripts/bench_fit.py [--json] [--models 3000 --instances 21606 --factors 32]

Generates a planted-lineage problem with hub_lineage.synthetic, holds out 2% of the observed cells,
fits the project's LRMF and a float32 PyTorch Adam implementation of the same objective (same
lambdas, same normalisation), and reports fit time, held-out AUC and peak RSS; also the kNN graph
time (384-dim embeddings), the fold-in of one new model, and `hub-lineage predict` (null when that
command or a fitted predictor does not exist). With --json the last line is the JSON record.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from hub_lineage.embed import knn_graph
from hub_lineage.graph import Edge, LineageGraph, Relation
from hub_lineage.lrmf import LRMF
from hub_lineage.matrix import ObservationMatrix
from hub_lineage.synthetic import make_lineage_data


def auc(y: np.ndarray, s: np.ndarray) -> float:
    ranks = rankdata(s)
    pos = y.sum()
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * (len(y) - pos)))


def torch_reference(train: ObservationMatrix, lap_m: sp.csr_matrix, lap_x: sp.csr_matrix, args, d: int,
                    test_rows, test_cols, test_y, target_auc: float) -> tuple[float, float, int]:
    """Full-batch Adam in float32 on the same objective; stops at the target held-out AUC."""
    import torch

    torch.manual_seed(0)
    vals = torch.from_numpy(train.values)
    mask = ~torch.isnan(vals)
    y = torch.nan_to_num(vals)
    w = mask.float() * (mask.any(1).sum() / mask.sum())
    n_nodes = lap_m.shape[0]
    n = train.shape[0]
    U = torch.nn.Parameter(0.1 * torch.randn(n_nodes, d))
    V = torch.nn.Parameter(0.1 * torch.randn(train.shape[1], d))

    def sparse(L):
        L = L.tocoo()
        return torch.sparse_coo_tensor(np.vstack([L.row, L.col]), L.data.astype(np.float32), L.shape).coalesce()

    Lm, Lx = sparse(lap_m * args.lambda_lineage), sparse(lap_x * args.lambda_instance)
    opt = torch.optim.Adam([U, V], lr=args.ref_lr)
    start = time.perf_counter()
    best = 0.0
    for it in range(1, args.ref_max_iter + 1):
        opt.zero_grad()
        x = U[:n] @ V.T
        loss = (w * torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="none")).sum()
        loss = loss + (U * (Lm @ U)).sum() + (V * (Lx @ V)).sum() + args.reg * ((U * U).sum() + (V * V).sum())
        loss.backward()
        opt.step()
        if it % 10 == 0:
            with torch.no_grad():
                s = (U[test_rows] * V[test_cols]).sum(1).numpy()
            best = max(best, auc(test_y, s))
            if best >= target_auc - 0.002 or time.perf_counter() - start > args.ref_max_s:
                break
    return time.perf_counter() - start, best, it


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--models", type=int, default=3000)
    ap.add_argument("--instances", type=int, default=21606)
    ap.add_argument("--factors", type=int, default=32)
    ap.add_argument("--nodes", type=int, default=None, help="lineage nodes (default 10 x models)")
    ap.add_argument("--lambda-lineage", type=float, default=0.1)
    ap.add_argument("--lambda-instance", type=float, default=0.01)
    ap.add_argument("--reg", type=float, default=1e-2)
    ap.add_argument("--max-iter", type=int, default=30)
    ap.add_argument("--ref-lr", type=float, default=0.05)
    ap.add_argument("--ref-max-iter", type=int, default=3000)
    ap.add_argument("--ref-max-s", type=float, default=600.0)
    ap.add_argument("--skip-ref", action="store_true")
    args = ap.parse_args()
    d = args.factors
    data = make_lineage_data(args.models, args.instances, d, n_nodes=args.nodes or 10 * args.models,
                             n_roots=max(4, args.models // 100), embedding_dim=384, random_state=0)
    rng = np.random.default_rng(1)
    values = data.matrix.values
    rows, cols = np.nonzero(~np.isnan(values))
    pick = rng.random(len(rows)) < 0.02
    test_rows, test_cols = rows[pick], cols[pick]
    test_y = values[test_rows, test_cols].copy()
    values[test_rows, test_cols] = np.nan  # held out of training (in place: one copy in memory)
    train = data.matrix
    del rows, cols, pick

    t = time.perf_counter()
    knn = knn_graph(data.item_embeddings, k=20)
    knn_s = time.perf_counter() - t

    model = LRMF(d, lambda_lineage=args.lambda_lineage, lambda_instance=args.lambda_instance, reg=args.reg,
                 max_iter=args.max_iter, tol=1e-4, random_state=0)
    t = time.perf_counter()
    model.fit(train, data.graph, knn)
    fit_s = time.perf_counter() - t
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    U, V = model.model_factors_, model.instance_factors_
    fit_auc = auc(test_y, np.einsum("ij,ij->i", U[test_rows], V[test_cols]))

    parents = train.models[:2]
    g = LineageGraph([Edge("bench/new-merge", p, Relation.MERGE, 0.5) for p in parents])
    model.fold_in(g, ["bench/new-merge"])
    times = []
    for _ in range(20):
        t = time.perf_counter()
        model.fold_in(g, ["bench/new-merge"])
        times.append(time.perf_counter() - t)
    foldin_ms = 1000 * float(np.median(times))

    ref_fit_s = ref_auc = None
    ref_iters = 0
    if not args.skip_ref:
        lap_m = data.graph.laplacian(model.nodes_)
        lap_x = sp.diags(np.asarray(knn.sum(1)).ravel()) - knn
        ref_fit_s, ref_auc, ref_iters = torch_reference(train, lap_m, lap_x, args, d, test_rows, test_cols,
                                                        test_y, fit_auc)

    predict_cli_s = None  # needs hub_lineage/commands/predict.py and a fitted predictor
    root = Path(__file__).resolve().parents[1]
    if (root / "hub_lineage" / "commands" / "predict.py").exists():
        from hub_lineage import paths

        if paths.default_predictor_dir().exists():
            t = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "hub_lineage.cli", "predict", train.models[0], "--json"],
                                  capture_output=True)
            if done.returncode == 0:
                predict_cli_s = time.perf_counter() - t

    record = {"fit_s": round(fit_s, 3), "ref_fit_s": None if ref_fit_s is None else round(ref_fit_s, 3),
              "auc": round(fit_auc, 4), "ref_auc": None if ref_auc is None else round(ref_auc, 4),
              "peak_rss_mb": round(peak_rss_mb, 1), "foldin_ms": round(foldin_ms, 3), "knn_s": round(knn_s, 3),
              "predict_cli_s": None if predict_cli_s is None else round(predict_cli_s, 3)}
    print(f"problem: {args.models} models x {args.instances} instances, d={d}, {len(model.nodes_)} lineage "
          f"nodes, {int(train.mask.sum())} observed cells")
    print(f"{'what':<34}{'value':>12}")
    print(f"{'LRMF fit (s), ' + str(model.n_iter_) + ' iterations':<34}{fit_s:>12.2f}")
    print(f"{'LRMF held-out AUC':<34}{fit_auc:>12.4f}")
    if ref_fit_s is not None:
        print(f"{'torch Adam fit (s), ' + str(ref_iters) + ' steps':<34}{ref_fit_s:>12.2f}")
        print(f"{'torch Adam held-out AUC':<34}{ref_auc:>12.4f}")
        print(f"{'speed-up':<34}{ref_fit_s / fit_s:>12.1f}")
    print(f"{'peak RSS (MB)':<34}{peak_rss_mb:>12.0f}")
    print(f"{'fold-in, one new model (ms)':<34}{foldin_ms:>12.2f}")
    print(f"{'kNN graph k=20 (s)':<34}{knn_s:>12.2f}")
    print(f"{'hub-lineage predict, warm (s)':<34}{'null' if predict_cli_s is None else f'{predict_cli_s:.2f}':>12}")
    if args.json:
        print(json.dumps(record))


if __name__ == "__main__":
    main()
