"""Real lm-eval runs (tiny Llama, local task, offline): the store holds exactly what lm-eval wrote."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from hub_lineage.data.store.database import Store
from hub_lineage.data.store.ingest import ingest_paths


def written_values(out: Path) -> dict[str, float]:
    """``tiny_qa/<doc_hash> -> acc`` from lm-eval's own samples file(s) under ``out``."""
    values = {}
    for path in out.rglob("samples_tiny_qa_*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            values[f"tiny_qa/{record['doc_hash']}"] = float(record["acc"])
    return values


def stored_values(store: Store, model: str) -> dict[str, float]:
    matrix = store.to_matrix("instance", models=[model])
    row = matrix.values[matrix.model_index[model]]
    return {item: float(v) for item, v in zip(matrix.items, row) if v == v}


def test_simple_evaluate_with_live_tracker(tiny_model: Path, task_dir: Path, tmp_path: Path, offline: None) -> None:
    """lm-eval's per-task hook stores each task's samples; lm-eval's own files say the same."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from harness_ext.tracker import StoreTracker

    db = tmp_path / "store.sqlite"
    tracker = StoreTracker(store=db, model_id="test/tiny-llama", output_path=str(tmp_path / "out"))
    results = simple_evaluate(
        model="hf", model_args=f"pretrained={tiny_model}", tasks=["tiny_qa"], device="cpu",
        task_manager=TaskManager(include_path=str(task_dir), include_defaults=False),
        log_samples=True, evaluation_tracker=tracker, batch_size=8)
    expected = {f"tiny_qa/{s['doc_hash']}": float(s["acc"]) for s in results["samples"]["tiny_qa"]}
    tracker.save_results_aggregated(results=results, samples=results["samples"])
    with Store(db) as store:
        assert store.is_empty()  # the aggregated hook stores nothing: samples stream per task
    tracker.save_results_samples(task_name="tiny_qa", samples=results["samples"]["tiny_qa"])
    assert tracker.report.observations_added == 6 and tracker.evaluated == {"tiny_qa": list(range(6))}
    with Store(db) as store:
        assert stored_values(store, "test/tiny-llama") == expected
        run = store.runs("test/tiny-llama")[0]
        assert run["metric"] == "acc" and run["task_version"] == "2.0" and run["lm_eval_version"]
        # the files lm-eval wrote through the same tracker hold the same values: re-ingest adds nothing
        assert written_values(tmp_path / "out") == expected
        again = ingest_paths(store, [tmp_path / "out"], model_id="test/tiny-llama")
        assert again.observations_added == 0 and again.observations_updated == 0


def test_hub_lineage_eval_runs_simple_evaluate_and_records(tiny_model: Path, task_dir: Path, tmp_path: Path,
                                                           offline: None) -> None:
    from hub_lineage.cli.main import cli

    db, out = tmp_path / "store.sqlite", tmp_path / "out"
    args = ["eval", "--store", str(db), "--json", "--model", "hf", "--model_args", f"pretrained={tiny_model}",
            "--include_path", str(task_dir), "--tasks", "tiny_qa", "--output_path", str(out),
            "--device", "cpu", "--batch_size", "8", "--seed", "0,1234,1234,1234", "--log_samples"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert counts["observations_added"] == 6 and counts["models"] == 1 and counts["model"] == str(tiny_model)
    assert "local model has no Hub lineage" in counts["lineage"]
    expected = written_values(out)
    assert len(expected) == 6
    assert len(list(out.rglob("results_*.json"))) == 1  # lm-eval's own files, where lm-eval puts them
    with Store(db) as store:
        assert stored_values(store, str(tiny_model)) == expected
        again = CliRunner().invoke(cli, ["ingest", str(out), "--store", str(db), "--json"])
        assert json.loads(again.stdout)["observations_added"] == 0
