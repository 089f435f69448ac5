"""The fit's threaded preparation and row-split Laplacian products give the bits of the one-piece versions."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from hub_lineage.model.solvers.linear import spmm
from hub_lineage.model.solvers.prep import targets_and_weights
from hub_lineage.model.threads import limited_threads


def test_targets_and_weights_equal_the_whole_matrix_passes():
    rng = np.random.default_rng(0)
    values = rng.random((1000, 300))
    values[rng.random(values.shape) < 0.3] = np.nan
    values[17] = np.nan  # a row without observations
    counts = rng.integers(1, 50, 300).astype(np.float32)
    y, w, scale, rows = targets_and_weights(values, counts)
    mask = ~np.isnan(values)
    want_scale = float(mask.sum(axis=0) @ counts.astype(np.float64)) / int(mask.any(axis=1).sum())
    assert scale == want_scale
    want_w = np.empty(values.shape, dtype=np.float32)
    np.multiply(mask, (counts / np.float32(want_scale)).astype(np.float32)[None, :], out=want_w)
    assert y.dtype == w.dtype == np.float32
    np.testing.assert_array_equal(y, np.where(mask, values, 0).astype(np.float32))
    np.testing.assert_array_equal(w, want_w)
    np.testing.assert_array_equal(rows, mask.any(axis=1))
    _, _, empty_scale, empty_rows = targets_and_weights(np.full((3, 4), np.nan), np.ones(4, np.float32))
    assert np.isnan(empty_scale) and not empty_rows.any()


def test_row_split_products_have_the_same_bits():
    rng = np.random.default_rng(1)
    A = sp.random(3000, 3000, density=0.03, random_state=2, format="csr")
    L = (sp.diags(np.asarray((A + A.T).sum(1)).ravel()) - (A + A.T)).tocsr()
    assert L.nnz > 100_000  # above the split threshold
    D = rng.normal(size=(3000, 33))
    for threads in (1, 2, 3):
        with limited_threads(threads):
            np.testing.assert_array_equal(spmm(L, D), L @ D)
    small = sp.identity(5, format="csr")
    np.testing.assert_array_equal(spmm(small, np.ones((5, 2))), np.ones((5, 2)))


def test_a_fit_with_a_large_item_graph_has_the_same_bits_on_one_or_two_threads():
    from hub_lineage.evaluation.synthetic import make_lineage_data
    from hub_lineage.model.embeddings import knn_graph
    from hub_lineage.model.lrmf import LRMF

    data = make_lineage_data(60, 4000, 4, n_nodes=200, n_roots=4, embedding_dim=8, random_state=0)
    knn = knn_graph(data.item_embeddings, k=20)
    assert knn.nnz + knn.shape[0] > 100_000  # its Laplacian is split into row parts
    fits = []
    for threads in (1, 2):
        with limited_threads(threads):
            model = LRMF(4, lambda_instance=0.01, max_iter=4, random_state=0).fit(data.matrix, data.graph, knn)
        fits.append((model.model_factors_, model.instance_factors_))
    np.testing.assert_array_equal(fits[0][0], fits[1][0])
    np.testing.assert_array_equal(fits[0][1], fits[1][1])
