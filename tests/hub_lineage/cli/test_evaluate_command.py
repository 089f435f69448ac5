"""``hub-lineage evaluate`` on a slice of the real shared data, and its error messages."""

from __future__ import annotations

import json

import pytest

from hub_lineage.cli.main import main
from cli_runner import run_main  # noqa: E402  (tests/ is on sys.path via conftest)

from shared_data import SHARED_DATA as DATA  # noqa: E402  (one place locates the real data)
CONTENTS = DATA / "open_llm_leaderboard_contents_2025-02-08.csv"
EDGES = DATA / "hf_lineage_edges_2025-06.csv"


def _run(capsys, *args: str) -> tuple[int, str, str]:
    return run_main(list(args), capsys, main)


@pytest.fixture
def data_args() -> list[str]:
    if not (CONTENTS.exists() and EDGES.exists()):
        pytest.skip(f"the shared data is not at {DATA} (leaderboard contents and edge list)")
    return ["--data", str(CONTENTS), "--data", str(EDGES)]


def test_json_contract_on_the_qwen_family_slice(capsys, data_args):
    code, out, err = _run(capsys, "evaluate", *data_args, "--setting", "homogeneous:Qwen/Qwen2.5-7B",
                          "--seeds", "1", "--methods", "lrmf,mla,mean", "--no-tune", "--coverage", "0", "--limit", "30",
                          "--json", "--quiet")
    assert code == 0, err
    data = json.loads(out)
    assert data["setting"] == "homogeneous:Qwen/Qwen2.5-7B" and data["seeds"] == 1
    assert set(data["results"]) == {"lrmf", "mla", "mean"}
    benches = ("ifeval", "bbh", "math", "gpqa", "musr", "mmlu_pro")
    for method, metrics in data["results"].items():
        for name in ("pearson_all", "spearman_all", "mae_all", *(f"pearson_{b}" for b in benches)):
            stat = metrics[name]
            assert set(stat) == {"mean", "sd"} and -1.0 <= stat["mean"] <= 1.0, (method, name)
    # lineage carries information inside the family; the training mean cannot rank models
    assert data["results"]["mla"]["pearson_all"]["mean"] > data["results"]["mean"]["pearson_all"]["mean"]


def test_jobs_give_the_serial_numbers(capsys, data_args, monkeypatch):
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    args = ["evaluate", *data_args, "--setting", "homogeneous:Qwen/Qwen2.5-7B", "--seeds", "2", "--methods",
            "mla,mean", "--limit", "30", "--json", "--quiet"]
    code, serial, err = _run(capsys, *args)
    assert code == 0, err
    code, parallel, err = _run(capsys, *args, "--jobs", "2")
    assert code == 0, err
    assert json.loads(parallel) == json.loads(serial)


def test_seed_start_and_test_fraction_one_seed_prints_no_spread(capsys, data_args):
    args = [*data_args, "--setting", "homogeneous:Qwen/Qwen2.5-7B", "--methods", "mla,mean", "--coverage", "0",
            "--limit", "40", "--quiet"]
    code, out, err = _run(capsys, "evaluate", *args, "--seeds", "1", "--seed-start", "7", "--test-fraction", "0.5")
    assert code == 0, err
    assert "1 seed(s) from 7" in out and "±" not in out
    code, out, _ = _run(capsys, "evaluate", *args, "--seeds", "1", "--seed-start", "7", "--test-fraction", "0.5",
                        "--json")
    assert json.loads(out)["results"]["mla"]["pearson_all"]["sd"] is None
    # the same seed gives the same split; another seed another one
    again = json.loads(_run(capsys, "evaluate", *args, "--seeds", "1", "--seed-start", "7", "--test-fraction",
                            "0.5", "--json")[1])
    other = json.loads(_run(capsys, "evaluate", *args, "--seeds", "1", "--seed-start", "8", "--test-fraction",
                            "0.5", "--json")[1])
    first = json.loads(out)["results"]["mla"]["pearson_all"]["mean"]
    assert again["results"]["mla"]["pearson_all"]["mean"] == first
    assert other["results"]["mla"]["pearson_all"]["mean"] != first


@pytest.mark.parametrize("kind", ["adaptive", "relatives"])
def test_adaptive_intervals_and_the_correction_run_end_to_end(capsys, data_args, kind):
    code, out, err = _run(capsys, "evaluate", *data_args, "--setting", "homogeneous:Qwen/Qwen2.5-7B", "--seeds", "1",
                          "--methods", "lrmf,mean", "--no-tune", "--limit", "40", "--intervals", kind, "--json",
                          "--quiet", "--correction")
    assert code == 0, err
    res = json.loads(out)["results"]
    for method in ("lrmf", "mean"):
        assert 0.5 <= res[method]["coverage"]["mean"] <= 1.0
        assert 0.0 < res[method]["interval_width"]["mean"] < 1.0


def test_the_default_scores_the_shipped_correction(capsys, data_args):
    """evaluate's default = --correction (what `fit` ships); --no-correction is plain LRMF."""
    base = ["evaluate", *data_args, "--setting", "homogeneous:Qwen/Qwen2.5-7B", "--seeds", "1", "--methods", "lrmf",
            "--no-tune", "--limit", "40", "--json", "--quiet"]
    runs = {}
    for flag in ((), ("--correction",), ("--no-correction",)):
        code, out, err = _run(capsys, *base, *flag)
        assert code == 0, err
        runs[flag] = json.loads(out)["results"]["lrmf"]
    assert runs[()] == runs[("--correction",)]
    assert runs[()]["pearson_all"] != runs[("--no-correction",)]["pearson_all"]


def test_table_output_and_noise(capsys, data_args):
    code, out, err = _run(capsys, "evaluate", *data_args, "--setting", "homogeneous:Qwen/Qwen2.5-7B",
                          "--seeds", "1", "--methods", "mla", "--noise", "remove:0.4", "--quiet")
    assert code == 0, err
    assert "lineage noise remove:0.4" in out and "pearson_all" in out and out.count("\n") >= 3


@pytest.mark.parametrize(("args", "message"), [
    (["--setting", "hetero"], "valid settings are heterogeneous, homogeneous:ROOT"),
    (["--setting", "homogeneous:nobody/none"], "'nobody/none' is not in the lineage graph"),
    (["--methods", "lrmf,mlaa"], "Did you mean 'mla'"),
    (["--noise", "add:2"], "add:FRACTION"),
    (["--jobs", "0"], "--jobs 0: give at least 1 worker process"),
    (["--test-fraction", "1.5"], "test fraction 1.5: give a fraction in (0, 1)"),
    (["--test-fraction", "0"], "test fraction 0: give a fraction in (0, 1)"),
    (["--seed-start", "-1"], "--seed-start -1: run at least one seed, from a seed >= 0"),
    (["--seeds", "0"], "--seeds 0"),
    (["--folds", "3", "--test-fraction", "0.2"], "give one of them"),
    (["--setting", "homogeneous:Qwen/Qwen2.5-7B", "--limit", "3"], "has 3 eligible model(s)"),
    (["--setting", "homogeneous:Qwen/Qwen2.5-7B", "--limit", "3", "--test-fraction", "0.1"], "gives 0 test"),
])
def test_bad_input_is_refused_clearly(capsys, data_args, args, message):
    code, _, err = _run(capsys, "evaluate", *data_args, "--seeds", "1", "--quiet", *args)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_missing_file_and_help(capsys, tmp_path):
    code, _, err = _run(capsys, "evaluate", "--data", str(tmp_path / "nope.csv"), "--quiet")
    assert code == 2 and "does not exist" in err
    code, out, _ = _run(capsys, "evaluate", "--help")
    assert code == 0 and "Example:" in out and "--setting" in out


def test_plot_writes_scatter_and_coverage_png(capsys, data_args, tmp_path):
    from PIL import Image

    png = tmp_path / "eval.png"
    code, out, err = _run(capsys, "evaluate", *data_args, "--setting", "homogeneous:Qwen/Qwen2.5-7B",
                          "--seeds", "1", "--methods", "mla,mean", "--no-tune", "--limit", "30", "--json",
                          "--plot", str(png))
    assert code == 0, err
    assert json.loads(out)["seeds"] == 1 and f"Saved the plots to {png}" in err
    with Image.open(png) as image:  # 6 benchmark scatters + the coverage panel: a 4 x 2 grid
        assert image.format == "PNG" and image.size[0] > image.size[1] > 400


def test_ncf_without_torch_is_one_line_naming_the_extra(capsys, data_args, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # what Python does when torch is not installed
    code, _, err = _run(capsys, "evaluate", *data_args, "--setting", "homogeneous:Qwen/Qwen2.5-7B",
                        "--seeds", "1", "--methods", "mla,ncf", "--limit", "10", "--quiet")
    assert code == 2 and "pip install 'hub-lineage[ncf]'" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_budget_setting_bad_input_is_one_line(capsys, tmp_path) -> None:
    """Issue 11: budget:K refuses a negative or non-numeric K, and --frontier outside it."""
    data = tmp_path / "musr_correctness.csv"
    data.write_text("model,instance,correct\na/b,0,1\n")
    for setting, needle in (("budget:-5", "budget must be >= 0"), ("budget:ten", "whole number")):
        code, out, err = _run(capsys, "evaluate", "--data", str(data), "--setting", setting)
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    code, _, err = _run(capsys, "evaluate", "--data", str(data), "--setting", "heterogeneous", "--frontier")
    assert code == 2 and "--frontier applies to --setting budget:K only" in err


def test_budget_setting_on_long_csv_answers(capsys, tmp_path) -> None:
    """A small real run through the CLI: JSON results per method with the issue's metric names."""
    import numpy as np

    rng = np.random.default_rng(0)
    models = [f"org/m{i}" for i in range(15)]
    rows = "".join(f"{m},{i},{int(rng.random() < 0.3 + 0.03 * k)}\n" for k, m in enumerate(models) for i in range(60))
    (tmp_path / "musr_correctness.csv").write_text("model,instance,correct\n" + rows)
    (tmp_path / "edges.csv").write_text("source,target,edge\n" + "".join(
        f"{a},{b},finetuned\n" for a, b in zip(models, models[1:])))
    code, out, err = _run(capsys, "evaluate", "--data", str(tmp_path / "musr_correctness.csv"), "--data",
                          str(tmp_path / "edges.csv"), "--setting", "budget:10", "--seeds", "1", "--json", "--quiet")
    assert code == 0, err
    payload = json.loads(out)
    results = payload["results"]
    assert set(results) == {"lrmf", "random", "irt", "aipw"}
    assert payload["methods"]["irt"].startswith("2PL IRT")  # the output says which IRT ran
    for method in results.values():
        assert {"mae_all", "coverage", "interval_width", "mae_musr"} <= set(method)
