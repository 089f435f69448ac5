#!/usr/bin/env python
"""Instance-setting AUC of LRMF with each item graph fixed, and which one the inner validation picks.

Usage (from the repository root):

    .venv/bin/python scripts/compare_item_graphs.py --data FILE [--data FILE ...] [--seeds 1]
        [--kinds none,co_response,text,tuned]

For each kind, ``hub-lineage evaluate --setting instance --methods lrmf`` with LRMF's item graph
fixed to it (the merge-weight grid is still searched on the other fine-tunes); ``tuned`` lets the
inner validation choose among all kinds per held-out model (what ``evaluate`` does) and counts
its choices. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", required=True)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--kinds", default="none,co_response,text,tuned")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from hub_lineage.data.sources.detect import load_dataset
    from hub_lineage.evaluation import protocol, units
    from hub_lineage.predict.item_graph import ItemGraphs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_dataset(args.data)
    task = protocol.prepare(data.matrix, data.graph, "instance")
    task.instance_graph = protocol.instance_graph_for(task, ["lrmf"])
    available = task.instance_graph.kinds()
    out: dict[str, dict] = {"n_models": len(task.eligible), "available": [str(k) for k in available]}
    tune = units.tune_instance
    for name in args.kinds.split(","):
        kind = None if name == "none" else name
        if name != "tuned" and kind not in available:
            continue
        choices: Counter[str] = Counter()

        def recording(*a, **kw):  # noqa: ANN002, ANN003 - pass-through
            params = tune(*a, **kw)
            choices[str(params.get("item_graph"))] += 1
            return params

        original = ItemGraphs.kinds
        if name != "tuned":
            ItemGraphs.kinds = lambda self, k=kind: (k,)  # type: ignore[method-assign]
        units.tune_instance = recording
        start = time.perf_counter()
        try:
            result = protocol.evaluate(task, ["lrmf"], args.seeds, protocol.ProtocolOptions())
        finally:
            ItemGraphs.kinds = original  # type: ignore[method-assign]
            units.tune_instance = tune
        summary = result.summary()["lrmf"]
        out[name] = {"auc": summary["auc"]["mean"], "mae_all": summary["mae_all"]["mean"],
                     "choices": dict(choices), "seconds": round(time.perf_counter() - start, 1)}
        print(json.dumps({name: out[name]}), file=sys.stderr, flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
