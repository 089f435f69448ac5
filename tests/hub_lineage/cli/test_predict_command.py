"""``hub-lineage predict`` / ``fit`` / ``rank-bases`` from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from cli_runner import run_main
from click.testing import CliRunner
from tiny_predictor import tiny_predictor_dir

from hub_lineage.cli.main import cli, main

# scipy too: scipy.sparse alone costs ~0.7 s of imports, half the 1.5 s budget of `predict` (issue 6)
HEAVY = ("torch", "transformers", "lm_eval", "sentence_transformers", "mergekit", "scipy")


@pytest.fixture(scope="module")
def predictor_dir(tmp_path_factory):
    return tiny_predictor_dir(tmp_path_factory.mktemp("predictor"))


def _run(args):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_predict_json_contract(predictor_dir):
    out = json.loads(_run(["predict", "alpha/ft-3", "--offline", "--json", "--predictor", str(predictor_dir)]))
    assert out["model"] == "alpha/ft-3"
    assert list(out["predicted"]) == ["ifeval", "bbh", "math", "gpqa", "musr", "mmlu_pro"]
    assert all(set(v) == {"mean", "low", "high"} for v in out["predicted"].values())
    assert set(out["actual"]) == set(out["predicted"])
    assert out["drivers"] and {"model", "relation", "hops", "influence"} <= set(out["drivers"][0])


def test_predict_table_and_parents(predictor_dir):
    table = _run(["predict", "alpha/ft-3", "--offline", "--predictor", str(predictor_dir)])
    assert "predicted" in table and "actual" in table and "alpha/base" in table and "mmlu_pro" in table
    out = json.loads(_run(["predict", "--parent", "beta/base:merge:0.7", "--parent", "gamma/base:merge:0.3",
                           "--parent", "ghost/model:merge:0.1", "--json", "--offline",
                           "--predictor", str(predictor_dir)]))
    assert out["actual"] is None and out["unknown_parents"] == ["ghost/model"]
    assert {d["model"] for d in out["drivers"]} == {"beta/base", "gamma/base"}


def test_predict_from_a_card(predictor_dir, tmp_path):
    card = tmp_path / "README.md"
    card.write_text("---\nbase_model: gamma/base\n---\n# planned\n")
    out = json.loads(_run(["predict", "--card", str(card), "--json", "--offline", "--predictor", str(predictor_dir)]))
    assert out["drivers"][0]["model"] == "gamma/base"


def test_rank_bases(predictor_dir):
    out = json.loads(_run(["rank-bases", "--benchmark", "bbh", "beta/base", "alpha/base", "gamma/base",
                           "nobody/here", "--json", "--offline", "--predictor", str(predictor_dir)]))
    assert [r["candidate"] for r in out["ranking"]] == ["alpha/base", "gamma/base", "beta/base"]
    assert out["unknown"] == ["nobody/here"]
    assert out["ranking"][0]["candidate_actual"]["bbh"] > out["ranking"][-1]["candidate_actual"]["bbh"]
    table = _run(["rank-bases", "--benchmark", "mean", "beta/base", "alpha/base", "--offline",
                  "--predictor", str(predictor_dir)])
    assert table.index("alpha/base") < table.index("beta/base")


def _cli_subprocess(args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-c", "from hub_lineage.cli.main import main; main()", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_predict_path_imports_no_heavy_library(predictor_dir):
    code = ("import sys, json\nfrom hub_lineage.cli.main import main\nsys.argv = ['hub-lineage', 'predict', 'alpha/ft-3', "
            f"'--offline', '--json', '--predictor', {str(predictor_dir)!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_offline_and_empty_says_how_to_ingest(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SystemExit) as exc:
        main(["predict", "alpha/ft-3", "--store", str(tmp_path / "store.sqlite")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "hub-lineage ingest" in err and "hub-lineage fit" in err and "Traceback" not in err


def test_bad_input_exits_2_with_a_message(predictor_dir, capsys):
    for args, needle in [(["predict", "nobody/unknown", "--offline"], "--parent"),
                         (["predict", "--parent", "a/b", "--card", "x.md", "--offline"], "only one"),
                         (["predict", "--offline"], "Name a model"),
                         (["rank-bases", "--benchmark", "nope", "alpha/base", "--offline"], "Unknown benchmark")]:
        with pytest.raises(SystemExit) as exc:
            main([*args, "--predictor", str(predictor_dir)])
        assert exc.value.code == 2, args
        assert needle in capsys.readouterr().err


def _family_store(tmp_path, shared_data) -> tuple[str, list[dict[str, str]]]:
    """A store holding a real slice: the leaderboard contents of one family (60 rows)."""
    from shared_data import family_contents

    small, rows = family_contents(tmp_path, shared_data)
    store = str(tmp_path / "store.sqlite")
    _run(["ingest", str(small), "--store", store])
    return store, rows


def test_fit_command_from_a_store(tmp_path, shared_data):
    """`fit` on a real slice: the leaderboard contents of one family plus the edge list."""
    store, rows = _family_store(tmp_path, shared_data)
    out = tmp_path / "pred"
    text = _run(["fit", "--store", store, "--out", str(out)])
    assert "Fitted predictor" in text and (out / "meta.json").is_file()
    model = rows[0]["fullname"]
    result = json.loads(_run(["predict", model, "--offline", "--json", "--predictor", str(out)]))
    assert result["model"] == model and len(result["predicted"]) == 6


def test_first_run_fits_from_the_store_and_says_so_on_stderr(tmp_path, shared_data, capsys):
    store, rows = _family_store(tmp_path, shared_data)
    capsys.readouterr()
    args = ["predict", rows[0]["fullname"], "--offline", "--json", "--store", store]
    code, out, err = run_main(args, capsys)
    assert code == 0, err
    assert err == "No fitted predictor yet: fitting one from the store (once; `hub-lineage fit` refits).\n"
    assert json.loads(out)["model"] == rows[0]["fullname"]
    code, _, err = run_main(args, capsys)  # saved: the second run just loads it
    assert code == 0 and err == ""


def test_predict_combines_a_partial_evaluation_with_lineage(tmp_path, capsys):
    """Issue 11: own items give an estimate with an interval; `actual` only for a complete benchmark."""
    import numpy as np

    rng = np.random.default_rng(0)
    models = [f"org/m{i}" for i in range(14)]
    rows = [(m, i, int(rng.random() < 0.3 + 0.03 * k)) for k, m in enumerate(models) for i in range(40)]
    rows += [("org/partial", i, int(rng.random() < 0.6)) for i in range(10)]
    answers = tmp_path / "musr_correctness.csv"
    answers.write_text("model,instance,correct\n" + "".join(f"{m},{i},{c}\n" for m, i, c in rows), encoding="utf-8")
    edges = tmp_path / "edges.csv"
    chain = ["org/m0", *models[1:], "org/partial"]
    edges.write_text("source,target,edge\n" + "".join(f"{a},{b},finetuned\n" for a, b in zip(chain, chain[1:])))
    store, pdir = str(tmp_path / "s.sqlite"), str(tmp_path / "pred")
    assert run_main(["ingest", str(answers), str(edges), "--store", store], capsys)[0] == 0
    assert run_main(["fit", "--store", store, "--out", pdir], capsys)[0] == 0
    code, out, err = run_main(["predict", "org/partial", "--store", store, "--predictor", pdir, "--offline", "--json"],
                              capsys)
    assert code == 0, err
    data = json.loads(out)
    est = data["estimates"]["musr"]
    assert (est["evaluated"], est["items"]) == (10, 40) and "lineage" in est["method"]
    assert est["low"] <= est["estimate"] <= est["high"]
    assert not (data["actual"] or {}).get("musr")  # a 10-of-40 run is no actual score
    code, out, _ = run_main(["predict", "org/partial", "--store", store, "--predictor", pdir, "--offline", "--json",
                             "--lineage-only"], capsys)
    assert code == 0 and "estimates" not in json.loads(out)
    code, out, _ = run_main(["predict", "org/m5", "--store", store, "--predictor", pdir, "--offline", "--json"], capsys)
    full = json.loads(out)
    assert full["estimates"]["musr"]["method"].startswith("complete") and "musr" in full["actual"]
