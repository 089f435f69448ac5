"""Predictor format 2: sorted, memory-mapped node names and score table; format 1 still loads, same bits."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from tiny_predictor import MIDDLE, tiny_predictor_dir

from hub_lineage.predict.predictor import FORMAT, Predictor
from hub_lineage.predict.tables import NodeNames, ObservedScores


@pytest.fixture(scope="module")
def predictor_dir(tmp_path_factory):
    return tiny_predictor_dir(tmp_path_factory.mktemp("predictor"))


def test_node_names_are_sorted_and_found_by_binary_search(tmp_path):
    given = ["b/x", "a/ü-model", "b/x", "a/b", "zz/long-" + "q" * 90]
    names, position = NodeNames.from_names(given)
    assert list(names) == sorted(set(given), key=lambda n: n.encode())
    assert [names[int(i)] for i in position] == given
    for name in given:
        assert names.index_of(name) is not None and name in names
    for missing in ["a", "b/x ", "", "b/x\0", "zz/long-" + "q" * 200, "c/none"]:
        assert names.index_of(missing) is None and missing not in names
    names.save(tmp_path / "names.npy")
    loaded = NodeNames.load(tmp_path / "names.npy")
    assert isinstance(loaded.array, np.memmap) and list(loaded) == list(names)
    empty, _ = NodeNames.from_names([])
    assert len(empty) == 0 and empty.index_of("a/b") is None


def test_observed_scores_keep_order_values_and_scored_models_without_scores(tmp_path):
    names, _ = NodeNames.from_names(["a/one", "a/two", "a/none", "a/unscored"])
    observed = {"a/two": {"bbh": 0.1 + 0.2, "ifeval": 1 / 3}, "a/one": {"ifeval": 0.5}, "a/none": {}}
    table = ObservedScores.from_dict(observed, names, ["ifeval", "bbh"])
    assert table is not None
    table.save(tmp_path)
    loaded = ObservedScores.load(tmp_path, names, ["ifeval", "bbh"])
    for t in (table, loaded):
        assert t.get("a/two") == {"ifeval": 1 / 3, "bbh": 0.1 + 0.2}  # benchmark order, exact floats
        assert t.get("a/one") == {"ifeval": 0.5}
        assert "a/none" in t and t.get("a/none") == {}
        assert "a/unscored" not in t and t.get("a/unscored") is None and "x/y" not in t
    assert ObservedScores.from_dict({"x/not-a-node": {}}, names, ["ifeval"]) is None
    assert ObservedScores.from_dict({"a/one": {"gpqa": 0.2}}, names, ["ifeval"]) is None
    with pytest.raises(ValueError, match="do not match"):
        ObservedScores.load(tmp_path, names, ["ifeval"])


def _as_format_1(src, dst):
    """Rewrite a saved predictor as format 1 wrote it: names in a shuffled (edge-index) order, JSON."""
    shutil.copytree(src, dst)
    names = list(NodeNames.load(dst / "graph_nodes.npy"))
    order = np.random.default_rng(0).permutation(len(names))  # old index k holds names[order[k]]
    new_index = np.argsort(order)
    with np.load(dst / "graph.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["child"] = new_index[arrays["child"]].astype(np.int32)
    arrays["parent"] = new_index[arrays["parent"]].astype(np.int32)
    np.savez(dst / "graph.npz", **arrays)
    (dst / "graph_nodes.json").write_text(json.dumps([names[k] for k in order]))
    predictor = Predictor.load(src)
    models = [m for m in names if m in predictor._observed]
    (dst / "observed.json").write_text(json.dumps({m: predictor.observed(m) or {} for m in models}))
    for name in ("graph_nodes.npy", "observed_rows.npy", "observed_scores.npy"):
        (dst / name).unlink()
    meta = json.loads((dst / "meta.json").read_text())
    (dst / "meta.json").write_text(json.dumps({**meta, "format": 1}))


def _everything(predictor, models):
    out = []
    for m in models:
        p = predictor.predict(m, offline=True)
        out.append((p.to_json(), [(d.model, d.relation, d.hops, d.influence) for d in p.drivers],
                    [(iv.mean, iv.low, iv.high) for iv in p.predicted.values()], predictor.observed(m)))
    return out


def test_format_1_directories_load_and_predict_the_same_bits(predictor_dir, tmp_path):
    assert FORMAT == 2 and json.loads((predictor_dir / "meta.json").read_text())["format"] == 2
    _as_format_1(predictor_dir, tmp_path / "v1")
    new, old = Predictor.load(predictor_dir), Predictor.load(tmp_path / "v1")
    models = ["alpha/ft-5", "beta/ft-1", "gamma/base", MIDDLE, "alpha/merge"]
    assert _everything(old, models) == _everything(new, models)
    assert sorted(old.graph.nodes) == list(new.graph.nodes)  # format 1 keeps its order, format 2 is sorted
    old.save(tmp_path / "resaved")  # a format-1 predictor saved again is format 2
    assert json.loads((tmp_path / "resaved" / "meta.json").read_text())["format"] == 2
    assert _everything(Predictor.load(tmp_path / "resaved"), models) == _everything(new, models)


def test_an_unknown_format_says_refit(predictor_dir, tmp_path):
    shutil.copytree(predictor_dir, tmp_path / "p")
    meta = json.loads((tmp_path / "p" / "meta.json").read_text())
    (tmp_path / "p" / "meta.json").write_text(json.dumps({**meta, "format": 99}))
    from hub_lineage.errors import NotFittedError

    with pytest.raises(NotFittedError, match="format 99.*hub-lineage fit"):
        Predictor.load(tmp_path / "p")
