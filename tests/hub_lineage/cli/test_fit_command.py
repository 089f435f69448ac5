"""``hub-lineage fit``: the saved predictor is the evaluated model, and it says which one it is."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from shared_data import SHARED_DATA, family_contents

from hub_lineage.cli.main import cli
from hub_lineage.evaluation.tuning import SETTING_GRIDS


def _run(args):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store with a real slice: 60 leaderboard rows of the Qwen2.5-7B family."""
    if not SHARED_DATA.resolve().is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    tmp = tmp_path_factory.mktemp("fit")
    small, _ = family_contents(tmp)
    path = str(tmp / "store.sqlite")
    _run(["ingest", str(small), "--store", path])
    return path


def test_fit_json_reports_the_chosen_params_and_validation(store, tmp_path):
    out_dir = tmp_path / "pred"
    out = _json_tail(_run(["fit", "--store", store, "--out", str(out_dir), "--json"]))
    assert list(out) == ["models", "nodes", "params", "validation", "seconds"]
    assert 50 <= out["models"] <= 60 and out["nodes"] >= out["models"] and out["seconds"] > 0
    grid_lams = {p["lambda_lineage"] for p in SETTING_GRIDS["heterogeneous"]["lrmf"]}
    assert out["params"]["lambda_lineage"] in grid_lams
    assert -1.0 <= out["validation"]["pearson_all"] <= 1.0
    assert {"pearson_ifeval", "mae_all"} <= set(out["validation"])
    saved = json.loads((out_dir / "meta.json").read_text())
    assert saved["params"] == out["params"] and saved["validation"] == out["validation"]


def test_fixed_lambda_is_kept_and_the_table_says_it_in_words(store, tmp_path):
    text = _run(["fit", "--store", store, "--out", str(tmp_path / "p"), "--lambda-lineage", "0.05"])
    assert "lambda_lineage 0.05" in text
    assert "Hyper-parameters (chosen on validation models)" in text
    assert "Validation (cold-start" in text and "Pearson of the mean score" in text


def _json_tail(text: str) -> dict:
    """The JSON object the command printed (progress lines go to stderr, mixed in by CliRunner)."""
    return json.loads(text[text.index("{"):])


def test_fit_says_why_its_graph_has_fewer_edges_than_ingest_added(store, tmp_path):
    """ingest's edges_added and fit's graph differ by what the graph refuses (issue 13): the table
    line names both numbers and each reason; --json keeps issue 12's five keys."""
    import shutil

    from hub_lineage.data.store.database import Store

    copy = str(tmp_path / "store.sqlite")
    shutil.copy(store, copy)
    with Store(copy) as s:
        scored = sorted(s.to_matrix(level="benchmark").models)
    a = scored[0]
    first = tmp_path / "edges1.csv"  # a self-loop, a duplicate row, a direct parent for a scored model
    first.write_text(f"source,target,edge\nx/loop,x/loop,finetuned\nx/q,x/p,finetuned\nx/q,x/p,finetuned\n"
                     f"x/p,{a},finetuned\n")  # source is the parent: a <- x/p <- x/q
    second = tmp_path / "edges2.csv"  # x/q's parent a closes the cycle a <- x/p <- x/q <- a across files
    second.write_text(f"source,target,edge\n{a},x/q,finetuned\n")
    counts = [_json_tail(_run(["ingest", str(f), "--store", copy, "--json"])) for f in (first, second)]
    added = sum(c["edges_added"] for c in counts)
    assert added == 3  # the self-loop and the repeated row are not stored
    with Store(copy) as s:
        stored = s.db.execute("SELECT COUNT(*) FROM edges").fetchone()[0]
    text = _run(["fit", "--store", copy, "--out", str(tmp_path / "p"), "--lambda-lineage", "0.05"])
    line = next(x for x in text.splitlines() if x.startswith("Counts:"))
    meta = json.loads((tmp_path / "p" / "meta.json").read_text())
    kept, dropped = meta["n_edges"], meta["edges_dropped"]
    assert kept + sum(dropped.values()) == stored  # every stored edge kept or dropped for a named reason
    assert dropped["cycle"] == 1 and dropped["root"] >= 1  # a's family-root edge: it has a direct parent now
    assert f"{kept} edges kept of {stored} given" in line and "1 edge(s) closing a cycle" in line
    assert "family-root edge(s) of models with a direct parent" in line
    assert f"{meta['n_nodes']} models in the lineage graph, {meta['n_models']} of them scored" in line
    out = _json_tail(_run(["fit", "--store", copy, "--out", str(tmp_path / "q"), "--lambda-lineage", "0.05",
                           "--json"]))
    assert list(out) == ["models", "nodes", "params", "validation", "seconds"]


def test_an_ingest_during_a_fit_makes_the_predictor_stale(store, tmp_path, capsys):
    """fit records what the store held before it read it: predicts that only read the store never
    look stale (SQLite touches its log file when a reader opens it), and an ingest that lands
    while a fit runs is said even though the predictor was saved after it."""
    import os
    import shutil
    import time

    from cli_runner import run_main

    from hub_lineage.data.store.database import Store
    from hub_lineage.lineage.graph import Edge

    copy = tmp_path / "store.sqlite"
    shutil.copy(store, copy)
    out_dir = tmp_path / "p"
    _run(["fit", "--store", str(copy), "--out", str(out_dir), "--lambda-lineage", "0.05"])
    assert json.loads((out_dir / "meta.json").read_text())["store_version"][0] >= 1
    with Store(str(copy)) as s:
        model = s.models()[0]
    args = ["predict", model, "--store", str(copy), "--predictor", str(out_dir), "--offline"]
    for _ in range(3):  # the second and later reads used to warn
        code, _, err = run_main(args, capsys)
        assert code == 0 and "changed after this predictor was fitted" not in err
        time.sleep(1.1)
    with Store(str(copy)) as s:  # the ingest of the race ...
        s.add_edges([Edge("alpha/brand-new", model)])
    later = time.time() + 10
    os.utime(out_dir / "meta.json", (later, later))  # ... and the predictor saved after it
    code, _, err = run_main(args, capsys)
    assert code == 0 and "changed after this predictor was fitted" in err
