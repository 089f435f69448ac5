"""`hub-lineage eval --budget N`: a real lm-eval run (tiny Llama, 40-question local task, offline) on
exactly the N drawn docs, those answers stored, the full-task estimate printed."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hub_lineage.data.store.database import Store


@pytest.fixture(scope="module")
def budget_run(tiny_model: Path, task_dir_40: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One budgeted eval (issue 11's command, plus --store/--output_path/--budget-seed), shared."""
    from hub_lineage.cli.main import cli

    tmp = tmp_path_factory.mktemp("budget")
    db, out = tmp / "store.sqlite", tmp / "out"
    with pytest.MonkeyPatch.context() as env:  # module scope: the autouse per-test isolation is not active yet
        env.setenv("HUB_LINEAGE_HOME", str(tmp / "home"))
        for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
            env.setenv(name, "1")
        env.setenv("HF_HOME", str(tmp / "hf_home"))
        args = ["eval", "--model", "hf", "--model_args", f"pretrained={tiny_model}", "--tasks", "qa40",
                "--include_path", str(task_dir_40), "--model-id", "local/tiny", "--budget", "10", "--json",
                "--store", str(db), "--output_path", str(out), "--budget-seed", "7"]  # no --device: lm-eval picks
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
        exported = tmp / "out.csv"
        export = CliRunner().invoke(cli, ["export", str(exported), "--model", "local/tiny", "--store", str(db)])
    assert result.exit_code == 0, result.output
    assert export.exit_code == 0, export.output
    return {"payload": json.loads(result.stdout), "db": db, "out": out,
            "export": exported}


def lm_eval_samples(out: Path) -> list[dict[str, Any]]:
    files = list(out.rglob("samples_qa40_*.jsonl"))
    assert len(files) == 1
    return [json.loads(line) for line in files[0].read_text(encoding="utf-8").splitlines()]


def test_budget_evaluates_and_stores_exactly_the_drawn_docs(budget_run: dict[str, Any]) -> None:
    from harness_ext.budget import draw_docs

    drawn = draw_docs({"qa40": 40}, 10, seed=7).docs["qa40"]
    samples = lm_eval_samples(budget_run["out"])  # lm-eval's own file, as lm-eval wrote it
    assert sorted(s["doc_id"] for s in samples) == drawn
    record = json.loads(next(budget_run["out"].rglob("budget_qa40_*.json")).read_text())
    assert record["doc_ids"] == drawn and record["seed"] == 7 and record["items"] == 40
    with open(budget_run["export"], newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 10
    assert {r["instance"] for r in rows} == {f"qa40/{s['doc_hash']}" for s in samples}
    assert {r["instance"]: float(r["value"]) for r in rows} == {f"qa40/{s['doc_hash']}": float(s["acc"])
                                                                for s in samples}
    with Store(budget_run["db"]) as store:
        (run,) = store.runs("local/tiny")
        assert f"seed=7 docs={','.join(map(str, drawn))}" in run["source"]


def test_budget_prints_the_contract(budget_run: dict[str, Any]) -> None:
    payload = budget_run["payload"]
    assert set(payload) == {"model", "tasks"} and payload["model"] == "local/tiny"
    entry = payload["tasks"]["qa40"]
    assert set(entry) == {"evaluated", "items", "estimate", "low", "high", "method"}
    assert entry["evaluated"] == 10 and entry["items"] == 40
    assert 0 <= entry["low"] <= entry["estimate"] <= entry["high"] <= 1 and entry["low"] < entry["high"]
    values = [float(s["acc"]) for s in lm_eval_samples(budget_run["out"])]
    assert entry["estimate"] == pytest.approx(sum(values) / 10)
    assert entry["method"].startswith("sample mean, exact binomial (Clopper-Pearson) interval: ")  # no predictor here


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """``hub-lineage ARGV`` as a user runs it: exit code and the ``Error:`` lines on stderr."""
    from hub_lineage.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return int(exit_info.value.code or 0), [line for line in err.splitlines() if line.startswith("Error:")]


def test_budget_bad_input_is_one_line(budget_run: dict[str, Any], tiny_model: Path, task_dir_40: Path,
                                      offline: None, capsys: pytest.CaptureFixture[str]) -> None:
    """Budget larger than the task; a task lm-eval does not know. The store keeps what it had."""
    base = ["eval", "--model", "hf", "--model_args", f"pretrained={tiny_model}", "--include_path",
            str(task_dir_40), "--store", str(budget_run["db"]), "--device", "cpu"]
    assert run_main([*base, "--tasks", "qa40", "--budget", "41"], capsys) == (2, [
        "Error: --budget 41: larger than task 'qa40', which has 40 docs (a budget must be at most the task's size)."])
    code, errors = run_main([*base, "--tasks", "qa40,no_such_task_xyz", "--budget", "5"], capsys)
    assert code == 2 and len(errors) == 1
    assert errors[0].startswith("Error: --tasks no_such_task_xyz: lm-eval knows no such task")
    with Store(budget_run["db"]) as store:
        assert len(store.runs("local/tiny")) == 1
        assert len(store.to_matrix("instance", models=["local/tiny"]).items) == 10


def test_lm_eval_args_by_lm_eval_names() -> None:
    """Flags map onto simple_evaluate's arguments as lm-eval's own command line maps them."""
    from harness_ext.run import LmEvalArgs, parse_samples, parse_seed
    from hub_lineage.errors import InvalidInputError

    args = LmEvalArgs(tasks=["a,b", "c"], model_args="pretrained=x", trust_remote_code=True, limit=5.0,
                      batch_size="8", seed="42", apply_chat_template=True)
    assert args.task_names() == ["a", "b", "c"]
    assert args.full_model_args() == "pretrained=x,trust_remote_code=True"
    kwargs = args.evaluate_kwargs()
    assert kwargs["limit"] == 5 and isinstance(kwargs["limit"], int) and kwargs["batch_size"] == 8
    assert kwargs["random_seed"] == kwargs["fewshot_random_seed"] == 42 and kwargs["fewshot_as_multiturn"] is True
    assert LmEvalArgs(tasks=["a"], limit=0.5).evaluate_kwargs()["limit"] == 0.5
    assert parse_seed("0,None,8") == [0, None, 8, 1234]
    assert parse_samples('{"t": [3, 1]}') == {"t": [1, 3]}
    for bad in ("x", "1,2"):
        with pytest.raises(InvalidInputError, match="--seed"):
            parse_seed(bad)
    with pytest.raises(InvalidInputError, match="--samples"):
        parse_samples("[1, 2]")
    with pytest.raises(InvalidInputError, match="needs --tasks"):
        LmEvalArgs(tasks=[" , "]).task_names()
