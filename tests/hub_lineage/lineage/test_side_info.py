"""Side-information (metadata) nodes in the lineage graph: groups, weights, and their pull on LRMF."""

from __future__ import annotations

import numpy as np
import pytest

from hub_lineage.evaluation.held_out import method_graph

from hub_lineage.lineage import side_info as side_graph
from hub_lineage.errors import InvalidInputError
from hub_lineage.lineage.edges import Relation
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.model.lrmf import LRMF
from hub_lineage.data.matrix import ObservationMatrix

from shared_data import SHARED_DATA as DATA  # noqa: E402  (one place locates the real data)


def test_size_buckets_and_groups():
    assert side_graph.size_bucket(7.6) == "6-9B"
    assert side_graph.size_bucket(0.5) == "0-0.7B"
    assert side_graph.size_bucket(120.0) == ">80B"
    assert side_graph.size_bucket(None) is None and side_graph.size_bucket(0.0) is None
    groups = side_graph.model_groups({"architecture": "Qwen2ForCausalLM", "params_b": 7.6,
                                      "type": "chat", "chat_template": False})
    assert groups == {"architecture": "Qwen2ForCausalLM", "arch_size": "Qwen2ForCausalLM|6-9B",
                      "type": "chat", "chat_template": "False"}
    assert side_graph.model_groups(None) == {}


def _meta() -> dict[str, dict]:
    return {"a/1": {"type": "chat", "chat_template": True}, "a/2": {"type": "chat", "chat_template": True},
            "a/3": {"type": "base", "chat_template": False}, "a/4": {"type": "merge"}}


def test_augment_links_groups_with_their_weight_and_leaves_the_input_alone():
    graph = LineageGraph()
    graph.add_edge("a/2", "a/1")
    out = side_graph.augment(graph, _meta(), ["a/1", "a/2", "a/3", "a/4"], {"type": 0.5, "chat_template": 0.0})
    chat = side_graph.side_node("type", "chat")
    assert len(graph.edges) == 1 and chat not in graph
    assert {e.parent for e in out.parents(chat)} == {"a/1", "a/2"}
    # single-member groups carry nothing and are skipped; zero weight = no node
    assert side_graph.side_node("type", "base") not in out
    assert not any(side_graph.side_node("chat_template", v) in out for v in ("True", "False"))
    edge = next(e for e in out.edges if e.child == chat)
    assert edge.relation is Relation.MERGE and edge.weight == 0.5
    adj = out.adjacency(out.nodes).toarray()
    assert adj.max() == pytest.approx(1.0) and sorted(set(adj.ravel()))[1] == pytest.approx(0.5)
    assert side_graph.augment(graph, _meta(), ["a/1"], None) is graph
    with pytest.raises(InvalidInputError, match="valid keys are"):
        side_graph.augment(graph, _meta(), ["a/1"], {"size": 1.0})
    with pytest.raises(InvalidInputError, match=">= 0"):
        side_graph.augment(graph, _meta(), ["a/1"], {"type": -1.0})


def test_degree_normalisation_shrinks_hub_edges():
    graph = LineageGraph()
    for k in range(9):
        graph.add_edge(f"h/c{k}", "h/hub")
    graph.add_edge("h/x", "h/c0")
    out = side_graph.augment(graph, {}, [], {"degree_power": 1.0})
    weights = {(e.child, e.parent): e.weight for e in out.edges}
    assert weights[("h/c1", "h/hub")] == pytest.approx(1 / 3)       # deg 1 x deg 9
    assert weights[("h/x", "h/c0")] == pytest.approx(1 / np.sqrt(2))  # deg 1 x deg 2


def test_side_nodes_pull_a_cold_start_model_toward_its_metadata_group():
    """Chat models score high on item 0, base models low; the test model is a chat fine-tune of a
    base model: its lineage says 'low', its metadata says 'high'."""
    rng = np.random.default_rng(0)
    names, rows, meta = [], [], {}
    graph = LineageGraph()
    for k in range(12):
        for kind, level in (("chat", 0.8), ("base", 0.2)):
            name = f"{kind}/m{k}"
            names.append(name)
            rows.append([level + rng.normal(0, 0.03), 0.5 + rng.normal(0, 0.03)])
            meta[name] = {"type": kind, "chat_template": kind == "chat"}
            if k:
                graph.add_edge(name, f"{kind}/m0")
    meta["test/chat-ft"] = {"type": "chat", "chat_template": True}
    graph.add_edge("test/chat-ft", "base/m3")
    items = ["ifeval", "bbh"]
    matrix = ObservationMatrix(names, items, np.clip(np.array(rows), 0, 1), items, np.array([500.0, 500.0]),
                               model_meta=meta)
    preds = {}
    for side in (None, {"type": 1.0, "chat_template": 1.0}):
        # as in the evaluation: the test model's metadata is known (rows of the full matrix), its scores not
        full = ObservationMatrix([*names, "test/chat-ft"], items, np.vstack([np.clip(rows, 0, 1), [np.nan] * 2]),
                                 items, np.array([500.0, 500.0]), model_meta=meta)
        params, graph_used = method_graph(
            {"n_factors": 2, "reg": 1e-4, "biases": True, "lambda_lineage": 0.1, "max_iter": 50,
             "random_state": 0, "side": side}, full, graph)
        preds[bool(side)] = LRMF(**params).fit(matrix, graph_used).predict_proba(["test/chat-ft"])[0, 0]
    assert preds[False] < 0.35
    assert preds[True] > preds[False] + 0.15


def test_leaderboard_meta_carries_the_chat_template_flag():
    path = DATA / "open_llm_leaderboard_contents_2025-02-08.csv"
    if not path.exists():
        pytest.skip(f"real data not found at {path}")
    from hub_lineage.data.sources.leaderboard import read_contents

    flags = [e.meta.get("chat_template") for e in read_contents(path)]
    assert set(flags) <= {True, False, None} and flags.count(True) > 1000 and flags.count(False) > 1000
