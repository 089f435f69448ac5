"""Ingest and export speed of the training-matrix store; prints the measured figures.

1. one leaderboard-size details run (21,606 samples in six lm-eval samples files) -> store
2. the leaderboard contents table (3,827 rows, ../shared/data) -> store
3. an ObservationMatrix of MODELS x 21,606 instances out of the store (default 3,000 models)

The details run and the matrix's observations are generated here (random 0/1 values, prompts of a
realistic length); nothing is downloaded. The 3,000-model store is written straight into its tables (seconds), not run by run.
Usage: python scripts/bench_ingest.py [--models 3000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from hub_lineage.benchmarks import LEADERBOARD, benchmark_of_task
from hub_lineage.data.sources.lm_eval import sha256
from hub_lineage.data.store.database import Store
from hub_lineage.data.store.ingest import ingest_paths

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TASKS = {b.key: (f"{b.task_prefix}_synthetic" if b.key != "mmlu_pro" else b.task_prefix, b.n_instances)
         for b in LEADERBOARD}


def write_details(folder: Path, rng: np.random.Generator) -> Path:
    """A leaderboard-style details folder: ``org__model/samples_<task>_<date>.jsonl`` (21,606 lines)."""
    sub = folder / "bench-org__bench-model"
    sub.mkdir(parents=True)
    date = "2025-01-01T00-00-00.000000"
    filler = "Context sentence for a few-shot prompt. " * 30
    for task, n in TASKS.values():
        metric = "acc_norm"
        with (sub / f"samples_{task}_{date}.jsonl").open("w", encoding="utf-8") as handle:
            for i in range(n):
                doc = {"question": f"{task} question {i}", "choices": ["A", "B", "C", "D"], "answer": i % 4}
                prompt = f"{filler}\nQuestion: {doc['question']}\nAnswer:"
                handle.write(json.dumps({
                    "doc_id": i, "doc": doc, "target": str(doc["answer"]),
                    "arguments": {f"gen_args_{k}": {"arg_0": prompt, "arg_1": f" {c}"}
                                  for k, c in enumerate(doc["choices"])},
                    "resps": [[["-1.0", "False"]]] * 4, "filtered_resps": [["-1.0", "False"]] * 4,
                    "filter": "none", "metrics": [metric, "acc"], "doc_hash": sha256(json.dumps(doc)),
                    "prompt_hash": sha256(prompt), "target_hash": sha256(str(doc["answer"])),
                    metric: float(rng.random() < 0.5), "acc": float(rng.random() < 0.5)}) + "\n")
    return sub


def fill_store(store: Store, n_models: int, rng: np.random.Generator) -> None:
    """Write ``n_models`` x 6 task runs straight into the store's tables (the row layout
    ``Store.add_samples`` writes), in one transaction: the benchmark measures reading, not setup."""
    with store.atomic() as db:
        inst, sets = [], []
        for task, n in TASKS.values():
            first = len(inst) + 1
            bench = benchmark_of_task(task)
            inst += [(first + i, task, f"{task}-doc-{i}", bench, None, None) for i in range(n)]
            sets.append((task, np.arange(first, first + n, dtype=np.int32)))
        db.executemany("INSERT INTO instances VALUES (?,?,?,?,?,?)", inst)
        db.executemany("INSERT INTO instance_sets(id, digest, ids) VALUES (?,?,?)",
                       [(k + 1, task, ids.tobytes()) for k, (task, ids) in enumerate(sets)])
        db.executemany("INSERT INTO models(id, name) VALUES (?,?)", [(m + 1, f"org/model-{m:05d}") for m in range(n_models)])
        runs, obs = [], []
        for m in range(n_models):
            ability = rng.random()
            for k, (task, ids) in enumerate(sets):
                run_id = len(runs) + 1
                runs.append((run_id, f"bench-{m}-{task}", "lm_eval", m + 1, task, "acc_norm", 1.7e9 + m, 1.7e9, len(ids)))
                obs.append((run_id, m + 1, "acc_norm", k + 1, (rng.random(len(ids)) < ability).astype(np.float32).tobytes()))
        db.executemany("INSERT INTO runs(id, fingerprint, kind, model_id, task, metric, run_time, ingested_at, n_samples)"
                       " VALUES (?,?,?,?,?,?,?,?,?)", runs)
        db.executemany('INSERT INTO observations(run_id, model_id, metric, instance_set, "values") VALUES (?,?,?,?,?)', obs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=3000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        tmp_path = Path(tmp)
        details = write_details(tmp_path / "details", rng)
        with Store(tmp_path / "a.sqlite") as store:
            t = time.perf_counter()
            report = ingest_paths(store, [details], metrics=None)
            print(f"details run (21,606 samples, 6 files): {time.perf_counter() - t:.2f} s (limit 5 s) "
                  f"{report.to_json()}")
            t = time.perf_counter()
            again = ingest_paths(store, [details])
            print(f"same details run again: {time.perf_counter() - t:.2f} s, added {again.observations_added}")
        contents = DATA / "open_llm_leaderboard_contents_2025-02-08.csv"
        if contents.exists():
            with Store(tmp_path / "b.sqlite") as store:
                t = time.perf_counter()
                report = ingest_paths(store, [contents])
                print(f"contents table (3,827 rows): {time.perf_counter() - t:.2f} s (limit 2 s) {report.to_json()}")
        else:
            print(f"contents table: skipped ({contents} not found)")
        with Store(tmp_path / "c.sqlite") as store:
            t = time.perf_counter()
            fill_store(store, args.models, rng)
            print(f"setup: {args.models} models x 21,606 instances written in {time.perf_counter() - t:.1f} s "
                  f"({(tmp_path / 'c.sqlite').stat().st_size / 1e6:.0f} MB)")
            t = time.perf_counter()
            matrix = store.to_matrix("instance")
            print(f"to_matrix('instance'): {time.perf_counter() - t:.2f} s (limit 10 s) -> {matrix}")
            t = time.perf_counter()
            bench = store.to_matrix("benchmark")
            print(f"to_matrix('benchmark'): {time.perf_counter() - t:.2f} s -> {bench.shape}")


if __name__ == "__main__":
    main()
