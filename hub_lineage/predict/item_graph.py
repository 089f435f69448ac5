"""The item graph of an instance-level LRMF: prompt-embedding kNN where an item's text is known,
co-response kNN (how training models answered) where it is not.

- :func:`text_graph`: cosine kNN over sentence embeddings of the items' prompts
  (:func:`hub_lineage.model.embeddings.embed_texts`, cached on disk by a sha256 of each prompt, so
  a refit embeds nothing; sentence-transformers is imported only when a prompt is not cached yet,
  never on the predict path);
- :func:`co_response_graph`: cosine kNN over the items' centred answer vectors across training models;
- :func:`item_graph`: the union of the text graph over items with text and the co-response graph
  over the items without;
- :class:`ItemGraphs`: what the instance setting of ``evaluate`` hands its fits: the text graph is
  computed once (prompts are no answers), the co-response graph from each fit's training matrix
  (a held-out model's answers never shape it). Its grid key ``item_graph`` (``None``,
  ``"co_response"``, ``"text"``) is chosen by the inner validation (:mod:`hub_lineage.evaluation.tuning`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.errors import InvalidInputError

if TYPE_CHECKING:
    import scipy.sparse as sp

KINDS = ("auto", "text", "co_response")
#: Neighbours per item in either graph (the co-response graph's, chosen by design in session 2).
K_NEIGHBOURS = 20


def text_columns(matrix: ObservationMatrix) -> np.ndarray:
    """Indices of the instance columns (``task/doc`` keys) whose prompt text is known."""
    texts = matrix.item_texts or []
    return np.array([j for j, key in enumerate(matrix.items)
                     if "/" in key and j < len(texts) and texts[j] and str(texts[j]).strip()], dtype=np.int64)


def text_graph(matrix: ObservationMatrix, k: int = K_NEIGHBOURS) -> sp.csr_matrix | None:
    """Prompt-embedding kNN graph (n_items, n_items) over the items with text; None with <= ``k`` of them."""
    import scipy.sparse as sp

    from hub_lineage.model.embeddings import embed_texts, knn_graph

    cols = text_columns(matrix)
    if cols.size <= k:
        return None
    assert matrix.item_texts is not None
    vectors = embed_texts(distinct_parts([str(matrix.item_texts[j]) for j in cols],
                                         [matrix.items[j].split("/", 1)[0] for j in cols]))
    sub = knn_graph(vectors, k=k).tocoo()
    n = len(matrix.items)
    return sp.csr_matrix((sub.data, (cols[sub.row], cols[sub.col])), shape=(n, n))


def distinct_parts(texts: list[str], groups: list[str]) -> list[str]:
    """Each text without the prefix that every text of its group (task) shares.

    lm-eval prompts of one task start with the same instructions and few-shot examples; a
    sentence encoder reads only the first ~256 tokens, so without this every item would embed alike.
    """
    import os.path

    prefix: dict[str, str] = {}
    for g in dict.fromkeys(groups):
        members = [t for t, h in zip(texts, groups) if h == g]
        prefix[g] = os.path.commonprefix(members) if len(members) > 1 else ""
    return [t[len(prefix[g]):].strip() or t for t, g in zip(texts, groups)]


def co_response_graph(matrix: ObservationMatrix, k: int = K_NEIGHBOURS) -> sp.csr_matrix | None:
    """Item kNN graph (n_items, n_items) from training models' answers; aggregates stay unlinked.

    Cosine kNN over the instance columns' centred answer vectors across the models that answered
    any of them (missing answers at the item mean); None with <= ``k`` instance columns.
    """
    import scipy.sparse as sp

    from hub_lineage.model.embeddings import knn_graph

    cols = np.array([j for j, key in enumerate(matrix.items) if "/" in key], dtype=np.int64)
    if cols.size <= k:
        return None
    x = matrix.values[:, cols].astype(np.float32)
    x = x[~np.isnan(x).all(axis=1)]
    mean = np.nanmean(x, axis=0)
    x = np.where(np.isnan(x), mean[None, :], x) - mean[None, :]
    vectors = x.T + 1e-6  # one row per item; a constant item must not be a zero vector
    sub = knn_graph(vectors, k=k).tocoo()
    n = len(matrix.items)
    return sp.csr_matrix((sub.data, (cols[sub.row], cols[sub.col])), shape=(n, n))


def _co_response_without(matrix: ObservationMatrix, skip: np.ndarray, k: int) -> sp.csr_matrix | None:
    """The co-response graph over the instance columns not in ``skip``, as (n_items, n_items)."""
    import scipy.sparse as sp

    if skip.size == 0:
        return co_response_graph(matrix, k=k)
    keep = np.setdiff1d(np.arange(len(matrix.items)), skip)
    sub = co_response_graph(matrix.select_items(keep), k=k)
    if sub is None:
        return None
    sub = sub.tocoo()
    n = len(matrix.items)
    return sp.csr_matrix((sub.data, (keep[sub.row], keep[sub.col])), shape=(n, n))


def item_graph(matrix: ObservationMatrix, kind: str = "auto", k: int = K_NEIGHBOURS,
               text: sp.csr_matrix | None = None) -> sp.csr_matrix | None:
    """The item graph (n_items, n_items) of ``kind``; None when it has no edge.

    ``auto``: text kNN over the items with text + co-response kNN over the others; ``text``: the
    text graph alone; ``co_response``: co-response kNN over every instance column. ``text``: a
    precomputed :func:`text_graph` of ``matrix``'s columns (saves embedding lookups).
    """
    if kind not in KINDS:
        raise InvalidInputError(f"Unknown item graph {kind!r}: expected one of {', '.join(KINDS)}.")
    if kind == "co_response":
        return _co_response_without(matrix, np.zeros(0, dtype=np.int64), k)
    if text is not None or kind == "text":
        texts = text if text is not None else text_graph(matrix, k)
    else:
        texts = _text_graph_if_installed(matrix, k)
    if kind == "text":
        return texts
    rest = _co_response_without(matrix, text_columns(matrix) if texts is not None else np.zeros(0, np.int64), k)
    if texts is None or rest is None:
        return texts if rest is None else rest
    return (texts + rest).tocsr()  # disjoint item sets: a plain sum is their union


def _text_graph_if_installed(matrix: ObservationMatrix, k: int) -> sp.csr_matrix | None:
    """:func:`text_graph`, or None with a warning when the ``embed`` extra is not installed
    (sentence-transformers is optional: the co-response graph then covers every item)."""
    try:
        return text_graph(matrix, k)
    except ImportError as exc:
        import warnings

        warnings.warn(f"No prompt-embedding item graph ({exc.name or exc} is not installed: pip install "
                      "'hub-lineage[embed]'); the item graph is co-response kNN for every item.", stacklevel=3)
        return None


class ItemGraphs:
    """Item graphs of one evaluation task, by grid choice: ``None`` (no graph), ``"co_response"``
    (from each fit's training answers) or ``"text"`` (prompt embeddings; only when the items carry text)."""

    def __init__(self, matrix: ObservationMatrix, k: int = K_NEIGHBOURS) -> None:
        self.k = k
        self.text = text_graph(matrix, k)

    def kinds(self) -> tuple[str | None, ...]:
        return (None, "co_response", "text") if self.text is not None else (None, "co_response")

    def for_kind(self, kind: str | None) -> Callable[[ObservationMatrix], Any] | None:
        """What ``predict_held_out`` takes as its instance graph: None, or a function of the training matrix."""
        if kind is None:
            return None
        if kind == "text":
            if self.text is None:
                raise InvalidInputError("item_graph='text' needs item texts (e.g. mmlu_pro_questions.csv.gz).")
            graph = self.text
            return lambda train: graph
        if kind == "co_response":
            return lambda train: item_graph(train, "co_response", self.k)
        raise InvalidInputError(f"Unknown item graph {kind!r}: expected None, co_response or text.")


def split_item_graph(params: dict[str, Any], graphs: Any) -> tuple[dict[str, Any], Any]:
    """``params`` without its ``item_graph`` key, and the instance graph that key asks for.

    ``graphs``: an :class:`ItemGraphs` (the key picks one), a fixed graph or None (the key is
    ignored and ``graphs`` passed on as before).
    """
    params = dict(params)
    kind = params.pop("item_graph", None)
    if isinstance(graphs, ItemGraphs):
        return params, graphs.for_kind(kind)
    return params, graphs


__all__ = ["ItemGraphs", "K_NEIGHBOURS", "KINDS", "co_response_graph", "distinct_parts", "item_graph", "split_item_graph", "text_columns", "text_graph"]
