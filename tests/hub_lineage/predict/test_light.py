"""The numpy-free ``predict`` path: the same numbers as :class:`Predictor` (real and planted data), the
cases it hands back to the numpy path, and a ``predict`` process that never imports numpy."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from tiny_predictor import MIDDLE, tiny_data, tiny_predictor_dir

from hub_lineage.cli.options import jsonable
from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.errors import HubLineageError
from hub_lineage.lineage.edges import Edge, Relation, parse_parent
from hub_lineage.predict import correction, predictor as predictor_module
from hub_lineage.predict.light import FORMATS, HandBack, LightPredictor, _solve_spd, predict_offline
from hub_lineage.predict.light_correction import CORRECTION_FORMAT
from hub_lineage.predict.predictor import Predictor


def assert_same(full: Predictor, light: LightPredictor, models: list[str]) -> int:
    """Every model both predict: equal within 1e-9 (means, intervals, drivers, actual); return how many."""
    compared = 0
    for model in models:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                want = full.predict(model, offline=True)
            except HubLineageError:
                with pytest.raises(HandBack):  # the numpy path words the error
                    light.predict(model, offline=True)
                continue
            got = light.predict(model, offline=True)
        assert got.model == want.model and got.actual == want.actual and got.coverage == want.coverage
        for bench, iv in want.predicted.items():
            other = got.predicted[bench]
            assert (other.mean, other.low, other.high) == pytest.approx((iv.mean, iv.low, iv.high), abs=1e-9), model
        assert [(d.model, d.relation, d.hops, d.scores) for d in got.drivers] == \
               [(d.model, d.relation, d.hops, d.scores) for d in want.drivers], model
        assert [d.influence for d in got.drivers] == pytest.approx([d.influence for d in want.drivers], abs=1e-9)
        compared += 1
    return compared


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return tiny_predictor_dir(tmp_path_factory.mktemp("tiny"))


def test_formats_are_the_numpy_paths():
    assert predictor_module.FORMAT in FORMATS and CORRECTION_FORMAT == correction.FORMAT


def test_tiny_predictor_every_node(tiny_dir):
    full, light = Predictor.load(tiny_dir), LightPredictor(tiny_dir)
    assert light.correction is not None
    assert assert_same(full, light, list(full.graph.nodes)) == len(full.graph.nodes)


@pytest.fixture(scope="module")
def real_dir(tmp_path_factory):
    """A predictor fitted on a real slice: two families of the leaderboard contents with the lineage
    edges among them and one hop out (merges, quantizations, unscored intermediates)."""
    from shared_data import SHARED_DATA, family_contents

    if not SHARED_DATA.is_dir():
        pytest.skip("real data not found (../shared/data or HUB_LINEAGE_DATA)")
    from hub_lineage.cli.main import main

    tmp = tmp_path_factory.mktemp("real")
    qwen, rows = family_contents(tmp, SHARED_DATA, "Qwen2.5-7B", 90)
    both = tmp / "both.csv"
    shutil.move(qwen, both)
    _, more = family_contents(tmp, SHARED_DATA, "Llama-3.1-8B", 70)
    with both.open("a", newline="", encoding="utf-8") as handle:
        csv.DictWriter(handle, fieldnames=list(more[0])).writerows(more)
    names = {r["fullname"] for r in rows + more}
    with (SHARED_DATA / "hf_lineage_edges_2025-06.csv").open(newline="", encoding="utf-8") as handle:
        edges = [r for r in csv.DictReader(handle) if r["source"] in names or r["target"] in names]
    edge_file = tmp / "edges.csv"
    with edge_file.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["source", "target", "edge"])
        writer.writeheader()
        writer.writerows(edges)
    store = str(tmp / "store.sqlite")
    for args in (["ingest", str(both), str(edge_file), "--store", store],
                 ["fit", "--store", store, "--out", str(tmp / "pred")]):
        try:
            main(args)
        except SystemExit as exc:
            assert not exc.code, args
    return tmp / "pred"


def test_real_slice_every_node(real_dir):
    full, light = Predictor.load(real_dir), LightPredictor(real_dir)
    assert light.correction is not None and full.correction is not None
    nodes = list(full.graph.nodes)
    assert len(nodes) > 300
    assert assert_same(full, light, nodes) > 150


def planted_dir(directory: Path) -> Path:
    """Quantized copies (collapsed onto their parents), a weighted merge, a cycle in the Hub's data,
    a chain of unscored models and a lone unscored pair: the fold-in's special cases."""
    matrix, graph = tiny_data()
    # contents metadata (chat template on every other model), so the correction's metadata features count
    meta = {m: {"type": "fine-tuned", "chat_template": bool(k % 2), "merged": False, "params_b": 7.0}
            for k, m in enumerate(matrix.models)}
    matrix = ObservationMatrix(matrix.models, matrix.items, matrix.values, matrix.item_benchmarks,
                               matrix.item_counts, None, meta)
    extra = [Edge("mix/child", "mix/unscored", Relation.FINETUNE),  # reaches gamma/base only through
             Edge("mix/unscored", "gamma/base", Relation.FINETUNE, root=True),  # a family-root edge
             Edge("alpha/ft-0-GGUF", "alpha/ft-0", Relation.QUANTIZED),
             Edge("alpha/mid-unscored-AWQ", MIDDLE, Relation.QUANTIZED),
             Edge("gamma/merge-w", "gamma/ft-1", Relation.MERGE, 0.8), Edge("gamma/merge-w", "beta/ft-2", Relation.MERGE, 0.2),
             Edge("beta/u1", "beta/ft-3", Relation.FINETUNE), Edge("beta/u2", "beta/u1", Relation.ADAPTER),
             Edge("beta/u3", "beta/u2", Relation.FINETUNE), Edge("beta/u4", "beta/u3", Relation.FINETUNE),
             Edge("beta/u1", "beta/u4", Relation.FINETUNE),  # closes a cycle: dropped with a warning
             Edge("lone/a", "lone/b", Relation.FINETUNE)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph.add_edges(extra)
    predictor = Predictor.fit(matrix, graph, n_folds=3, n_factors=4, max_iter=30)
    return predictor.save(directory)


def test_planted_special_cases(tmp_path):
    directory = planted_dir(tmp_path)
    full, light = Predictor.load(directory), LightPredictor(directory)
    nodes = list(full.graph.nodes)
    assert {"alpha/ft-0-GGUF", "gamma/merge-w", "beta/u4", "lone/a", "mix/child"} <= set(nodes)
    assert assert_same(full, light, nodes) >= len(nodes) - 2  # the lone pair has nothing to predict from
    assert predict_offline("lone/a", directory) is None  # the numpy path says why nothing can be predicted


def test_without_the_correction_both_predict_uncorrected(tiny_dir, tmp_path):
    directory = Path(shutil.copytree(tiny_dir, tmp_path / "p"))
    (directory / "correction.json").unlink()
    full, light = Predictor.load(directory), LightPredictor(directory)
    assert full.correction is None and light.correction is None
    assert assert_same(full, light, list(full.graph.nodes)) > 20


# -- handed back to the numpy path -----------------------------------------------------------------


def test_hands_back_what_it_does_not_handle(tiny_dir, tmp_path):
    assert predict_offline("alpha/ft-3", tiny_dir) is not None
    assert predict_offline("nobody/unknown-model", tiny_dir) is None  # the Hub cache may know it
    assert predict_offline("not a repo id", tiny_dir) is None  # the numpy path says what is wrong
    assert predict_offline("alpha/ft-3", tmp_path / "missing") is None  # fitted there on first run
    damaged = Path(shutil.copytree(tiny_dir, tmp_path / "damaged"))
    (damaged / "graph.npz").write_bytes((damaged / "graph.npz").read_bytes()[:100])
    assert predict_offline("alpha/ft-3", damaged) is None
    older = Path(shutil.copytree(tiny_dir, tmp_path / "older"))
    meta = json.loads((older / "meta.json").read_text())
    (older / "meta.json").write_text(json.dumps({**meta, "format": 1}))
    assert predict_offline("alpha/ft-3", older) is None


def _store_with_item_run(path: Path, model: str) -> Path:
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE models (id INTEGER PRIMARY KEY, name TEXT);"
                     "CREATE TABLE runs (id INTEGER PRIMARY KEY, model_id INTEGER, task TEXT);")
    db.execute("INSERT INTO models VALUES (1, ?)", (model,))
    db.execute("INSERT INTO runs VALUES (1, 1, 'ifeval')")
    db.commit()
    db.close()
    return path


def test_a_model_with_its_own_item_answers_goes_to_the_numpy_path(tiny_dir, tmp_path):
    store = _store_with_item_run(tmp_path / "store.sqlite", "alpha/ft-3")
    assert predict_offline("alpha/ft-3", tiny_dir, store) is None  # partial.own_estimates combines them
    assert predict_offline("alpha/ft-3", tiny_dir, store, lineage_only=True) is not None
    assert predict_offline("alpha/ft-4", tiny_dir, store) is not None


def test_solver_matches_numpy_on_sparse_laplacians():
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 30, 120):
        A = np.zeros((n, n))
        for i in range(1, n):  # a forest plus some merges (cycles in the undirected graph: fill-in)
            for j in rng.choice(i, size=min(i, 1 + int(rng.random() < 0.3)), replace=False):
                A[i, j] = A[j, i] = rng.uniform(0.1, 1.0)
        degree = A.sum(axis=1) + rng.uniform(0, 1, n) * (rng.random(n) < 0.3)  # some rows pulled to the boundary
        system = np.diag(degree + 1e-4) - A
        rhs = rng.normal(size=(n, 4))
        off = [{j: -A[i, j] for j in np.flatnonzero(A[i])} for i in range(n)]
        got = _solve_spd(list(degree + 1e-4), off, rhs.tolist())
        np.testing.assert_allclose(np.array(got), np.linalg.solve(system, rhs), rtol=1e-9, atol=1e-9)
    assert _solve_spd([0.0], [{}], [[1.0]]) is None


# -- the command ------------------------------------------------------------------------------------


def _imported(args: list[str], env_extra: dict[str, str] | None = None) -> tuple[dict, list[str]]:
    code = ("import sys, json\nfrom hub_lineage.cli.main import main\n"
            f"sys.argv = ['hub-lineage', *{args!r}]\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'scipy', 'zipfile'})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, **(env_extra or {})})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    return json.loads("\n".join(lines[:-1])), json.loads(lines[-1])


def test_predict_imports_no_numpy_and_prints_the_numpy_paths_json(tiny_dir, tmp_path):
    full = Predictor.load(tiny_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stored = jsonable(full.predict("alpha/ft-5", offline=True).to_json())
        planned = jsonable(full.predict_edges("local/planned-model", [parse_parent("alpha/ft-5:finetune", "local/planned-model"),
                                                                     parse_parent("nobody/unknown:merge:0.5", "local/planned-model")]).to_json())
    got, imported = _imported(["predict", "alpha/ft-5", "--offline", "--json", "--predictor", str(tiny_dir)])
    assert imported == [] and {k: v for k, v in got.items() if k != "predictor_version"} == stored
    # a planned model (no Hub either way), with an unknown parent widening the interval
    got, imported = _imported(["predict", "--parent", "alpha/ft-5:finetune", "--parent", "nobody/unknown:merge:0.5",
                               "--json", "--predictor", str(tiny_dir)])
    assert imported == [] and {k: v for k, v in got.items() if k != "predictor_version"} == planned
    assert got["unknown_parents"] == ["nobody/unknown"]
    _, imported = _imported(["predict", "alpha/ft-5", "--json", "--predictor", str(tiny_dir)], {"HF_HUB_OFFLINE": "1"})
    assert imported == []
    # a predictor this path does not read: the numpy path, the same answer
    older = Path(shutil.copytree(tiny_dir, tmp_path / "older"))
    (older / "meta.json").write_text(json.dumps({**json.loads((older / "meta.json").read_text()), "format": 1}))
    got, imported = _imported(["predict", "alpha/ft-5", "--offline", "--json", "--predictor", str(older)])
    assert "numpy" in imported and {k: v for k, v in got.items() if k != "predictor_version"} == stored


def test_planned_models_every_parent_set(tiny_dir):
    """``predict_edges`` for many parent sets: single parents, weighted and unweighted merges,
    unknown parents (wider intervals), a parent that is a quantized copy."""
    full, light = Predictor.load(tiny_dir), LightPredictor(tiny_dir)
    nodes = sorted(full.graph.nodes)
    rng = np.random.default_rng(0)
    specs = [[f"{n}:finetune"] for n in nodes]
    for _ in range(40):
        picks = rng.choice(nodes, size=int(rng.integers(2, 4)), replace=False)
        weighted = rng.random() < 0.5
        specs.append([f"{m}:merge" + (f":{rng.uniform(0.1, 1):.2f}" if weighted else "") for m in picks]
                     + (["nobody/unknown:merge" + (":0.3" if weighted else "")] if rng.random() < 0.3 else []))
    compared = 0
    for spec in specs:
        edges = [parse_parent(s, "local/planned") for s in spec]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                want = full.predict_edges("local/planned", edges)
            except HubLineageError:
                with pytest.raises(HandBack):
                    light.predict_edges("local/planned", edges)
                continue
            got = light.predict_edges("local/planned", edges)
        assert got.unknown_parents == want.unknown_parents
        for bench, iv in want.predicted.items():
            other = got.predicted[bench]
            assert (other.mean, other.low, other.high) == pytest.approx((iv.mean, iv.low, iv.high), abs=1e-9), spec
        assert [(d.model, d.relation, d.hops) for d in got.drivers] == [(d.model, d.relation, d.hops) for d in want.drivers]
        assert [d.influence for d in got.drivers] == pytest.approx([d.influence for d in want.drivers], abs=1e-9)
        compared += 1
    assert compared >= len(specs) - 2


def test_graph_and_names_are_read_as_the_numpy_path_reads_them(tiny_dir):
    full, light = Predictor.load(tiny_dir), LightPredictor(tiny_dir)
    for node in full.graph.nodes:
        assert light.graph.parents(node) == full.graph.parents(node)
        assert light.graph.children(node) == full.graph.children(node)
        for root in (False, True):
            assert light.graph.neighbours(node, root) == full.graph.neighbours(node, root)
        assert light.scores.get(node) == full._observed.get(node) and light.observed(node) == full.observed(node)
    for name in ("", "alpha", "alpha/ft-1\0", "zzz/after-all", "a" * 500, "alpha/ft-1x"):
        assert light.graph.index_of(name) == full.graph.index_of(name)
