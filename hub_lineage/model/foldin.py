"""LRMF fold-in: factors for new lineage nodes with the fit held fixed (harmonic extension, k-shot).

Kept apart from the estimator because it is the interactive path (``hub-lineage predict``): it
touches only the new nodes' connected component and its fitted boundary, never the whole fit.
A prediction re-solves a few hundred nodes at most, so without observations the system is built
and solved densely with numpy alone (:func:`_solve_dense`): importing scipy.sparse would cost more
(~0.7 s) than the whole prediction. Larger systems and k-shot fold-ins use scipy.sparse.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from hub_lineage.errors import InvalidInputError, NoLineageError
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.data.matrix import ObservationMatrix

if TYPE_CHECKING:
    import scipy.sparse as sp

    from hub_lineage.model.lrmf import LRMF

#: Most new nodes solved densely (float64 n x n: 32 MB at 2,000); above it, scipy.sparse.
DENSE_MAX_NODES = 2000


def fold_in_params(model: LRMF, graph: LineageGraph, models: list[str],
                    observations: ObservationMatrix | None) -> np.ndarray:
    """Parameter rows (len(models), width) of ``models``; new nodes solved with the fit held fixed."""
    index = model.node_index_
    P_fit = _FittedRows(model)
    observed: dict[str, int] = {}
    if observations is not None:
        for r, m in enumerate(observations.models):
            if m in index:
                raise InvalidInputError(f"Model {m!r} is already fitted: refit to use its new observations.")
            observed[m] = r
    source: dict[str, str] = {}  # requested model -> the node whose row it takes
    seeds: list[str] = list(observed)
    for m in models:
        target = graph.canonical(m) if m in graph and m not in observed else m
        if m in index:
            target = m
        elif target != m and target not in index and target not in graph:
            target = m
        source[m] = target
        if target not in index:
            seeds.append(target)
    new, boundary = _new_component(graph, seeds, index)
    rows = _solve_new(model, graph, new, boundary, observed, observations, P_fit)
    out = np.empty((len(models), P_fit.width))
    for j, m in enumerate(models):
        target = source[m]
        if target in index:
            if not model._supported[index[target]]:
                raise NoLineageError(f"Model {m!r} has no observations and no path to any evaluated model.")
            out[j] = P_fit[index[target]]
        else:
            row, ok = rows[target]
            if not ok:
                raise NoLineageError(
                    f"Model {m!r} has no observations and no lineage path to any fitted model, so "
                    f"nothing can be predicted for it (never a silent 0.5): give its parents in the graph.")
            out[j] = row
    return out


class _FittedRows:
    """Parameter rows of fitted nodes, gathered on demand: copying all of them (30,000 x 33 at the
    Hub's scale) cost more than the rest of a one-model fold-in."""

    def __init__(self, model: LRMF) -> None:
        self.model = model
        self.width = model.n_factors + int(model.biases)

    def __getitem__(self, rows) -> np.ndarray:
        m = self.model
        P = np.asarray(m.model_factors_[rows], dtype=np.float64)
        if m.biases:
            return np.concatenate([P, np.asarray(m.model_bias_[rows], dtype=np.float64)[..., None]], axis=-1)
        return P


def _new_component(graph: LineageGraph, seeds: list[str], index: Mapping[str, int]) -> tuple[list[str], list[str]]:
    """New nodes reachable from ``seeds`` through new nodes, and the fitted nodes bordering them."""
    new = dict.fromkeys(seeds)
    boundary: dict[str, None] = {}
    queue = deque(seeds)
    while queue:
        node = queue.popleft()
        for edge in [*graph.parents(node), *graph.children(node)]:
            other = edge.parent if edge.child == node else edge.child
            if other in index:
                boundary[other] = None
            elif other not in new:
                new[other] = None
                queue.append(other)
    return list(new), list(boundary)


def _solve_new(model: LRMF, graph: LineageGraph, new: list[str], boundary: list[str],
               observed: Mapping[str, int], observations: ObservationMatrix | None,
               P_fit: _FittedRows) -> dict[str, tuple[np.ndarray, bool]]:
    if not new:
        return {}
    new = [n for n in new if n in observed] + [n for n in new if n not in observed]
    if not observed and len(new) <= DENSE_MAX_NODES:
        return _solve_dense(model, graph, new, boundary, P_fit)
    return _solve_sparse(model, graph, new, boundary, observed, observations, P_fit)


def _local_entries(model: LRMF, graph: LineageGraph, order: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adjacency entries (rows, cols, vals; duplicates summed) over ``order``, lambda included."""
    if model.lambda_lineage > 0:
        rows, cols, vals = graph.subgraph([o for o in order if o in graph]).adjacency_entries(
            order, relation_weights=model.relation_weights, collapse_quantized=True)
        return rows, cols, vals * float(model.lambda_lineage)
    empty = np.zeros(0, dtype=np.int64)
    return empty, empty, np.zeros(0)


def _solve_dense(model: LRMF, graph: LineageGraph, new: list[str], boundary: list[str],
                 P_fit: _FittedRows) -> dict[str, tuple[np.ndarray, bool]]:
    """:func:`_solve_sparse` without observations, in numpy: the same system, solved densely."""
    n = len(new)
    rows, cols, vals = _local_entries(model, graph, new + boundary)
    inner = rows < n  # entries of the new nodes' rows (the matrix is symmetric: columns follow)
    rows, cols, vals = rows[inner], cols[inner], vals[inner]
    to_new = cols < n
    A_nn = np.zeros((n, n))
    np.add.at(A_nn, (rows[to_new], cols[to_new]), vals[to_new])
    degree = np.bincount(rows, weights=vals, minlength=n)
    P_b = P_fit[[model.node_index_[b] for b in boundary]] if boundary else np.zeros((0, P_fit.width))
    nb_rows, nb_cols, nb_vals = rows[~to_new], cols[~to_new] - n, vals[~to_new]
    pull = np.zeros((n, P_fit.width))
    np.add.at(pull, nb_rows, nb_vals[:, None] * P_b[nb_cols])
    reg = float(model.reg)
    # Harmonic extension: (L_NN + reg I) P_N = A_NB P_B (the fit's optimality condition).
    system = np.diag(degree + reg) - A_nn
    P_new = np.linalg.solve(system, pull) if reg > 0 or rows.size else np.zeros_like(pull)
    ok = np.zeros(n, dtype=bool)
    if boundary and nb_rows.size:
        supported_b = np.array([model._supported[model.node_index_[b]] for b in boundary], dtype=bool)
        # A_NB[i, b] > 0 after summing duplicate entries, as the sparse matrix sees it
        cells, at = np.unique(nb_rows * len(boundary) + nb_cols, return_inverse=True)
        summed = np.bincount(at.ravel(), weights=nb_vals, minlength=cells.size)
        hit = (summed > 0) & supported_b[cells % len(boundary)]
        ok[cells[hit] // len(boundary)] = True
    if n > 1:
        labels = _components(n, rows[to_new], cols[to_new])
        ok = np.isin(labels, np.unique(labels[ok]))
    return {node: (P_new[i], bool(ok[i])) for i, node in enumerate(new)}


def _components(n: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Connected-component label per node (shape (n,)) of the undirected edges ``rows[k]-cols[k]``."""
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(rows.tolist(), cols.tolist()):
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return np.array([find(i) for i in range(n)], dtype=np.int64)


def _solve_sparse(model: LRMF, graph: LineageGraph, new: list[str], boundary: list[str],
                  observed: Mapping[str, int], observations: ObservationMatrix | None,
                  P_fit: _FittedRows) -> dict[str, tuple[np.ndarray, bool]]:
    import scipy.sparse as sp
    import scipy.sparse.linalg  # noqa: F401  (sp.linalg.spsolve)
    from scipy.sparse.csgraph import connected_components

    n_obs = sum(n in observed for n in new)
    order = new + boundary
    n = len(new)
    if model.lambda_lineage > 0:
        A = graph.subgraph([o for o in order if o in graph]).adjacency(
            order, relation_weights=model.relation_weights, collapse_quantized=True) * float(model.lambda_lineage)
    else:
        A = sp.csr_matrix((len(order), len(order)))
    A = A.tocsr()
    A_nn, A_nb = A[:n, :n], A[:n, n:]
    lap = (sp.diags(np.asarray(A[:n].sum(axis=1)).ravel()) - A_nn).tocsr()
    P_b = P_fit[[model.node_index_[b] for b in boundary]] if boundary else np.zeros((0, P_fit.width))
    pull = A_nb @ P_b
    reg = float(model.reg)
    # Harmonic extension: (L_NN + reg I) P_N = A_NB P_B (the fit's optimality condition).
    system = (lap + reg * sp.identity(n)).tocsc()
    if n <= 400:
        P_new = np.linalg.solve(system.toarray(), pull) if reg > 0 or lap.nnz else np.zeros_like(pull)
    else:
        P_new = sp.linalg.spsolve(system, pull).reshape(pull.shape)
    supported_b = np.array([model._supported[model.node_index_[b]] for b in boundary], dtype=bool)
    ok = np.zeros(n, dtype=bool)
    ok[:n_obs] = True
    if boundary:
        ok |= np.asarray((A_nb[:, supported_b] > 0).sum(axis=1)).ravel() > 0
    if n > 1:
        _, labels = connected_components(A_nn, directed=False)
        ok = np.isin(labels, np.unique(labels[ok]))
    if n_obs:
        P_new = _newton_observed(model, new[:n_obs], observations, observed, model._params([])[1], lap, pull,
                                 P_new)
    return {node: (P_new[i], bool(ok[i])) for i, node in enumerate(new)}


def _newton_observed(model: LRMF, obs_nodes: list[str], observations: ObservationMatrix,
                     observed: Mapping[str, int], Q: np.ndarray, lap: sp.csr_matrix, pull: np.ndarray,
                     P_new: np.ndarray, steps: int = 20) -> np.ndarray:
    """Newton steps (Fisher scoring, halving) on the new nodes' objective with their observations."""
    from hub_lineage.model.solvers.reference import cell_terms
    from hub_lineage.model.solvers.gauss_newton import solve_blocks

    item_pos = {it: j for j, it in enumerate(model.items_)}
    cols = np.array([item_pos.get(it, -1) for it in observations.items])
    keep = cols >= 0
    if not keep.any():
        raise InvalidInputError("None of the observations' items are items of this fit: nothing to fold in.")
    values = observations.values[[observed[m] for m in obs_nodes]][:, keep].astype(np.float64)
    cols = cols[keep]
    mask = ~np.isnan(values)
    w = np.where(mask, model.item_counts_[cols][None, :] / model._count_scale, 0.0)
    y = np.where(mask, values, 0.0)
    kappa = None if model._kappa is None else model._kappa[cols]
    d, k, reg, n_obs = model.n_factors, P_new.shape[1], float(model.reg), len(obs_nodes)
    F = np.array(Q[cols], dtype=np.float64)
    c = F[:, d].copy() if model.biases else 0.0
    if model.biases:
        F[:, d] = 1.0

    def objective(P: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        x = P[:n_obs] @ F.T + c
        ell, g, h = cell_terms(x, y, kappa)
        value = float((w * ell).sum() + (P * (lap @ P)).sum() - 2 * (P * pull).sum() + reg * (P * P).sum())
        grad = 2 * (lap @ P) - 2 * pull + 2 * reg * P
        grad[:n_obs] += (w * g) @ F
        return value, grad, (w * h)

    value, grad, h = objective(P_new)
    for _ in range(steps):
        blocks = np.einsum("ni,ij,ik->njk", h, F, F)
        delta = solve_blocks(blocks, lap, reg, grad)
        t = 1.0
        while t > 1e-4:
            cand = P_new + t * delta
            new_value, new_grad, new_h = objective(cand)
            if new_value <= value:
                break
            t /= 2
        else:
            break
        converged = value - new_value <= 1e-10 * max(abs(value), 1e-12)
        P_new, value, grad, h = cand, new_value, new_grad, new_h
        if converged:
            break
    return P_new
