"""LRMF fold-in: factors for new lineage nodes with the fit held fixed (harmonic extension, k-shot).

Kept apart from the estimator because it is the interactive path (``hub-lineage predict``): it
touches only the new nodes' connected component and its fitted boundary, never the whole fit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg  # noqa: F401  (sp.linalg.spsolve)
from scipy.sparse.csgraph import connected_components

from hub_lineage.errors import InvalidInputError, NoLineageError
from hub_lineage.graph import LineageGraph
from hub_lineage.lrmf_reference import cell_terms
from hub_lineage.lrmf_solver import solve_blocks
from hub_lineage.matrix import ObservationMatrix

if TYPE_CHECKING:
    from hub_lineage.lrmf import LRMF


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
