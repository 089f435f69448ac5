"""What a user notices across commands (issue 13): the store read by `lineage`, benchmark names,
ties, gates on the wrong scale, stale predictors, family-root edges named as such."""

from __future__ import annotations

import os
import time

import pytest
from cli_runner import run_main
from tiny_predictor import tiny_predictor_dir

from hub_lineage.data.store.database import Store
from hub_lineage.lineage.edges import Edge
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.predict.neighbourhood import CompactGraph, Lineage, local_system
from mergekit_hooks.cli import main as preflight_main
from mergekit_hooks.cli import preflight_command


@pytest.fixture(scope="module")
def predictor_dir(tmp_path_factory):
    return tiny_predictor_dir(tmp_path_factory.mktemp("predictor"))


def test_lineage_reads_the_stores_edges_after_ingest(tmp_path, capsys):
    edges = tmp_path / "edges.csv"
    edges.write_text("source,target,edge\nQwen/Qwen2.5-7B,org/ft,finetuned\n")
    assert run_main(["ingest", str(edges)], capsys)[0] == 0
    code, out, err = run_main(["lineage", "org/ft", "--offline"], capsys)
    assert code == 0, err
    assert out.splitlines() == ["org/ft", "└── finetune: Qwen/Qwen2.5-7B"]


def test_rank_bases_reads_benchmarks_case_blind_and_marks_ties(predictor_dir, capsys):
    args = ["rank-bases", "alpha/base", "alpha/base-copy", "--predictor", str(predictor_dir)]
    code, out, err = run_main([*args[:2], "--benchmark", "BBH", "--predictor", str(predictor_dir)], capsys)
    assert code == 0, err
    code, out, err = run_main(["rank-bases", "alpha/ft-0", "alpha/ft-0", "--benchmark", "bbh",
                               "--predictor", str(predictor_dir)], capsys)
    assert code == 0, err
    code, _, err = run_main([*args[:2], "bad id", "--predictor", str(predictor_dir)], capsys)
    assert code == 2 and "--parent" not in err and "'bad id'" in err


def test_equal_scores_share_a_place(predictor_dir, capsys):
    # a child of alpha/ft-4 and of alpha/ft-5 (both under the same unscored middle model) can tie
    code, out, err = run_main(["rank-bases", "gamma/ft-0", "gamma/ft-0", "--predictor", str(predictor_dir)], capsys)
    assert code == 0, err
    rows = [line for line in out.splitlines() if "gamma/ft-0" in line]
    assert len(rows) == 1  # a candidate named twice is ranked once
    code, out, err = run_main(["rank-bases", "alpha/ft-6", "alpha/ft-7", "--predictor", str(predictor_dir)], capsys)
    lines = [line.split()[0] for line in out.splitlines() if "alpha/ft-" in line]
    scores = [line.split()[2] for line in out.splitlines() if "alpha/ft-" in line]
    if scores[0] == scores[1]:
        assert lines == ["1=", "1="]
    else:
        assert lines == ["1", "2"]


@pytest.mark.parametrize("gate, hint", [("bbh>=45", "bbh>=0.45"), ("mean<150", None), ("ifeval>-0.1", None)])
def test_gates_off_the_0_1_scale_are_refused_with_a_hint(predictor_dir, tmp_path, capsys, gate, hint):
    recipe = tmp_path / "r.yml"
    recipe.write_text("models:\n  - model: alpha/base\n    parameters: {weight: 1}\nmerge_method: linear\n")
    code, _, err = run_main([str(recipe), "--require", gate, "--predictor", str(predictor_dir)], capsys, preflight_main)
    assert code == 2 and "[0, 1]" in err
    if hint:
        assert hint in err


def test_preflight_help_quotes_its_gates():
    examples = preflight_command.help or ""
    assert "--require bbh>=" not in examples and '--require "bbh>=0.45"' in examples


def test_a_predictor_older_than_the_store_says_so(predictor_dir, tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    with Store(store) as db:
        db.add_edges([Edge("alpha/new", "alpha/base")])
    old = time.time() - 3600
    os.utime(predictor_dir / "meta.json", (old, old))
    code, _, err = run_main(["predict", "--parent", "alpha/base:finetune", "--predictor", str(predictor_dir),
                             "--store", str(store)], capsys)
    assert code == 0 and "hub-lineage fit" in err and "changed after this predictor was fitted" in err


def test_a_family_root_edge_is_not_shown_as_a_direct_parent():
    graph = LineageGraph([Edge("org/child", "org/root", root=True)])
    lineage = Lineage(CompactGraph.from_graph(graph, ["org/root"]))
    local = local_system("org/child", lineage, {"org/root": {"bbh": 0.5}}, {"org/root": 0})
    assert local.kinship["org/root"] == "family root"
