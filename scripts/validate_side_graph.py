#!/usr/bin/env python
"""Validation-only comparison of LRMF graph variants (side-information nodes, degree normalisation).

Usage: .venv/bin/python scripts/validate_side_graph.py SETTING VARIANTS.json [N_OUTER_FOLDS] [N_INNER]

VARIANTS.json maps a name to [method, params]. For each of the first N_OUTER_FOLDS outer folds of
seed 0, the fold is removed (its models are never scored here) and each variant is scored on a
validation split of the TRAINING models only, exactly as the protocol's tuning does: a validation
fifth (heterogeneous) or a 3-fold inner cross-validation (homogeneous). Prints mean Pearson per
benchmark over the outer folds. This is how the side-information weights in
hub_lineage/evaluation/tuning.py were chosen.
"""
import sys, json, time, warnings
import numpy as np
from hub_lineage.evaluation import protocol as ev
from hub_lineage.evaluation import splits
from hub_lineage.evaluation import metrics
from hub_lineage.evaluation.held_out import (cross_validated_predictions, method_graph, predict_held_out,
                                             seeded_estimator, training_matrix)
from hub_lineage.evaluation.tuning import SETTING_PARAMS
from hub_lineage.data.sources.detect import load_dataset
D = "../shared/data/"
setting = sys.argv[1]
variants = json.loads(open(sys.argv[2]).read())
folds_used = int(sys.argv[3]) if len(sys.argv) > 3 else 5
n_inner = int(sys.argv[4]) if len(sys.argv) > 4 else (1 if setting == "heterogeneous" else 3)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    ds = load_dataset([D + "open_llm_leaderboard_contents_2025-02-08.csv", D + "hf_lineage_edges_2025-06.csv"])
task = ev.prepare(ds.matrix, ds.graph, setting)
seed = 0
folds = splits.kfold(task.eligible, 5, seed)[:folds_used]
kind = task.setting.kind
for name, (method, params) in variants.items():
    t0 = time.time(); scores = []
    for fold in folds:
        train = training_matrix(task.matrix, fold)
        inner = splits.eligible_models(train.models, task.graph)
        base = {**SETTING_PARAMS[kind].get(method, {}), **params}
        fp, g = method_graph(base, task.matrix, task.graph)
        estimator = seeded_estimator(method, fp, seed)
        if n_inner == 1:
            val = splits.kfold(inner, 5, seed + 1)[0]
            pred = train.benchmark_scores(predict_held_out(estimator, train, g, val))
        else:
            val = inner
            pred = cross_validated_predictions(estimator, train, g, val, n_inner, seed + 1)
        actual = train.select_models(val).benchmark_scores()
        scores.append(metrics.score_table(pred, actual, train.benchmarks))
    keys = ["pearson_all"] + [f"pearson_{b}" for b in train.benchmarks]
    avg = {k: float(np.mean([s[k] for s in scores])) for k in keys}
    print(f"{name:40s} " + " ".join(f"{k.replace('pearson_','')}={v:.3f}" for k, v in avg.items())
          + f"  ({time.time()-t0:.0f}s)", flush=True)
