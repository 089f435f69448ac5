"""LRMF fold-in: factors for new lineage nodes with the fit held fixed (harmonic extension, k-shot).

Kept apart from the estimator because it is the interactive path (``hub-lineage predict``): it
touches only the new nodes' connected component and its fitted boundary, never the whole fit, and
it reads only a :class:`~hub_lineage.model.factors.FittedFactors`. A prediction re-solves a few
hundred nodes at most, so without observations the system is built and solved densely with numpy
alone (:func:`_solve_dense`): importing scipy.sparse would cost more (~0.7 s) than the whole
prediction. Larger systems and k-shot fold-ins use scipy.sparse.

The same solve also says how much each fitted neighbour pulled on one new node (``explain``): the
harmonic extension is ``P_N = S^-1 A_NB P_B`` with ``S = L_NN + reg I`` symmetric, so node ``t``'s
row is ``(A_NB^T S^-1 e_t)^T P_B``; ``S^-1 e_t`` is one more right-hand side of the same solve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.errors import InvalidInputError, NoLineageError
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.lineage.walk import breadth_first
from hub_lineage.model.factors import FittedFactors

if TYPE_CHECKING:
    import scipy.sparse as sp

#: Most new nodes solved densely (float64 n x n: 32 MB at 2,000); above it, scipy.sparse.
DENSE_MAX_NODES = 2000

#: ``{node: (parameter row (width,), whether it links to an evaluated model)}`` for solved new nodes.
Solved = dict[str, tuple[np.ndarray, bool]]


@dataclass(frozen=True)
class FoldIn:
    """The result of one fold-in.

    Attributes
    ----------
    rows : ndarray (n_models, width)
        Parameter rows ``[u | b]`` of the requested models.
    influence : dict
        Fitted boundary node -> weight of its row in the ``explain`` node's harmonic extension
        (non-negative, summing to at most 1: exactly 1 when ``reg`` is 0). With observations it is
        the lineage part of the solve, before their Newton steps. Empty without ``explain``.
    """

    rows: np.ndarray
    influence: dict[str, float]


def fold_in(factors: FittedFactors, graph: LineageGraph, models: Sequence[str],
            observations: ObservationMatrix | None = None, *,
            component: tuple[Sequence[str], Sequence[str]] | None = None, explain: str | None = None) -> FoldIn:
    """Parameter rows of ``models``; new nodes are solved with the fit held fixed.

    Parameters
    ----------
    factors : FittedFactors
    graph : LineageGraph
        Links of the new nodes (to each other and to fitted nodes).
    models : sequence of str
        Fitted nodes (their fitted rows) or new nodes of ``graph``.
    observations : ObservationMatrix or None
        Answers of new models (k-shot): their likelihood joins the objective.
    component : (new nodes, fitted boundary) or None
        The new nodes to solve and the fitted nodes bordering them, when the caller has already
        walked the neighbourhood (the predictor does); otherwise found by a walk of ``graph``.
    explain : str or None
        A new node whose harmonic-extension weights over the boundary go into ``FoldIn.influence``.
    """
    index = factors.node_index
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
    if component is None:
        new, boundary = _new_component(graph, seeds, index)
    else:
        new, boundary = list(component[0]), list(component[1])
        missing = sorted(set(seeds) - set(new))
        if missing:
            raise InvalidInputError(f"The fold-in component lacks the new node(s) {missing}: "
                                    "give every requested new model, or let fold_in walk the graph.")
    rows, weights = _solve_new(factors, graph, new, boundary, observed, observations, explain)
    out = np.empty((len(models), factors.width))
    for j, m in enumerate(models):
        target = source[m]
        if target in index:
            if not factors.supported[index[target]]:
                raise NoLineageError(f"Model {m!r} has no observations and no path to any evaluated model.")
            out[j] = factors.rows(index[target])
        else:
            row, ok = rows[target]
            if not ok:
                raise NoLineageError(
                    f"Model {m!r} has no observations and no lineage path to any fitted model, so "
                    f"nothing can be predicted for it (never a silent 0.5): give its parents in the graph.")
            out[j] = row
    influence = {} if weights is None else {b: float(w) for b, w in zip(boundary, weights)}
    return FoldIn(out, influence)


def _new_component(graph: LineageGraph, seeds: list[str], index: Mapping[str, int]) -> tuple[list[str], list[str]]:
    """New nodes reachable from ``seeds`` through new nodes, and the fitted nodes bordering them."""
    boundary: dict[str, None] = {}

    def neighbours(node: str) -> list[str]:
        out = []
        for edge in [*graph.parents(node), *graph.children(node)]:
            other = edge.parent if edge.child == node else edge.child
            if other in index:
                boundary[other] = None  # a fitted node ends the walk: it is held fixed
            else:
                out.append(other)
        return out

    new = breadth_first(seeds, neighbours, multi=True)
    return list(new), list(boundary)


def _solve_new(factors: FittedFactors, graph: LineageGraph, new: list[str], boundary: list[str],
               observed: Mapping[str, int], observations: ObservationMatrix | None,
               explain: str | None) -> tuple[Solved, np.ndarray | None]:
    if not new:
        return {}, None
    new = [n for n in new if n in observed] + [n for n in new if n not in observed]
    at = new.index(explain) if explain is not None and explain in new else None
    if not observed and len(new) <= DENSE_MAX_NODES:
        return _solve_dense(factors, graph, new, boundary, at)
    return _solve_sparse(factors, graph, new, boundary, observed, observations, at)


def _with_unit_column(pull: np.ndarray, at: int | None) -> np.ndarray:
    """``pull`` (n, width), plus the column ``e_at`` when a node's weights are wanted."""
    if at is None:
        return pull
    unit = np.zeros((pull.shape[0], 1))
    unit[at] = 1.0
    return np.hstack([pull, unit])


def _local_entries(factors: FittedFactors, graph: LineageGraph, order: list[str]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adjacency entries (rows, cols, vals; duplicates summed) over ``order``, lambda included."""
    if factors.lambda_lineage > 0:
        rows, cols, vals = graph.subgraph([o for o in order if o in graph]).adjacency_entries(
            order, relation_weights=factors.relation_weights, collapse_quantized=True)
        return rows, cols, vals * float(factors.lambda_lineage)
    empty = np.zeros(0, dtype=np.int64)
    return empty, empty, np.zeros(0)


def _boundary_rows(factors: FittedFactors, boundary: list[str]) -> np.ndarray:
    if not boundary:
        return np.zeros((0, factors.width))
    return factors.rows([factors.node_index[b] for b in boundary])


def _solve_dense(factors: FittedFactors, graph: LineageGraph, new: list[str], boundary: list[str],
                 at: int | None = None) -> tuple[Solved, np.ndarray | None]:
    """:func:`_solve_sparse` without observations, in numpy: the same system, solved densely.

    Returns the solved rows and, when ``at`` is given, the weights (len(boundary),) of the
    boundary rows in new node ``at``'s row.
    """
    n = len(new)
    rows, cols, vals = _local_entries(factors, graph, new + boundary)
    inner = rows < n  # entries of the new nodes' rows (the matrix is symmetric: columns follow)
    rows, cols, vals = rows[inner], cols[inner], vals[inner]
    to_new = cols < n
    A_nn = np.zeros((n, n))
    np.add.at(A_nn, (rows[to_new], cols[to_new]), vals[to_new])
    degree = np.bincount(rows, weights=vals, minlength=n)
    P_b = _boundary_rows(factors, boundary)
    nb_rows, nb_cols, nb_vals = rows[~to_new], cols[~to_new] - n, vals[~to_new]
    pull = np.zeros((n, factors.width))
    np.add.at(pull, nb_rows, nb_vals[:, None] * P_b[nb_cols])
    reg = float(factors.reg)
    # Harmonic extension: (L_NN + reg I) P_N = A_NB P_B (the fit's optimality condition).
    system = np.diag(degree + reg) - A_nn
    rhs = _with_unit_column(pull, at)
    X = np.linalg.solve(system, rhs) if reg > 0 or rows.size else np.zeros_like(rhs)
    P_new = X[:, :factors.width]
    weights = None if at is None else np.bincount(nb_cols, weights=nb_vals * X[nb_rows, -1],
                                                  minlength=len(boundary))
    ok = np.zeros(n, dtype=bool)
    if boundary and nb_rows.size:
        supported_b = factors.supported[[factors.node_index[b] for b in boundary]]
        # A_NB[i, b] > 0 after summing duplicate entries, as the sparse matrix sees it
        cells, pos = np.unique(nb_rows * len(boundary) + nb_cols, return_inverse=True)
        summed = np.bincount(pos.ravel(), weights=nb_vals, minlength=cells.size)
        hit = (summed > 0) & supported_b[cells % len(boundary)]
        ok[cells[hit] // len(boundary)] = True
    if n > 1:
        labels = _components(n, rows[to_new], cols[to_new])
        reached = np.zeros(n, dtype=bool)  # components holding a supported node (labels < n);
        reached[labels[ok]] = True          # np.unique here would import numpy.ma: 40 ms of predict
        ok = reached[labels]
    return {node: (P_new[i], bool(ok[i])) for i, node in enumerate(new)}, weights


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


def _solve_sparse(factors: FittedFactors, graph: LineageGraph, new: list[str], boundary: list[str],
                  observed: Mapping[str, int], observations: ObservationMatrix | None,
                  at: int | None = None) -> tuple[Solved, np.ndarray | None]:
    """Solve the new nodes (observed ones first in ``new``) with scipy.sparse; see :func:`_solve_dense`."""
    import scipy.sparse as sp
    import scipy.sparse.linalg  # noqa: F401  (sp.linalg.spsolve)
    from scipy.sparse.csgraph import connected_components

    n_obs = sum(n in observed for n in new)
    order = new + boundary
    n = len(new)
    if factors.lambda_lineage > 0:
        A = graph.subgraph([o for o in order if o in graph]).adjacency(
            order, relation_weights=factors.relation_weights, collapse_quantized=True) * float(factors.lambda_lineage)
    else:
        A = sp.csr_matrix((len(order), len(order)))
    A = A.tocsr()
    A_nn, A_nb = A[:n, :n], A[:n, n:]
    lap = (sp.diags(np.asarray(A[:n].sum(axis=1)).ravel()) - A_nn).tocsr()
    pull = A_nb @ _boundary_rows(factors, boundary)
    reg = float(factors.reg)
    # Harmonic extension: (L_NN + reg I) P_N = A_NB P_B (the fit's optimality condition).
    system = (lap + reg * sp.identity(n)).tocsc()
    rhs = _with_unit_column(pull, at)
    if n <= 400:
        X = np.linalg.solve(system.toarray(), rhs) if reg > 0 or lap.nnz else np.zeros_like(rhs)
    else:
        X = sp.linalg.spsolve(system, rhs).reshape(rhs.shape)
    P_new = X[:, :factors.width]
    weights = None if at is None else np.asarray(A_nb.T @ X[:, -1]).ravel()
    supported_b = factors.supported[[factors.node_index[b] for b in boundary]].astype(bool)
    ok = np.zeros(n, dtype=bool)
    ok[:n_obs] = True
    if boundary:
        ok |= np.asarray((A_nb[:, supported_b] > 0).sum(axis=1)).ravel() > 0
    if n > 1:
        _, labels = connected_components(A_nn, directed=False)
        reached = np.zeros(n, dtype=bool)  # components holding a supported node (labels < n);
        reached[labels[ok]] = True          # np.unique here would import numpy.ma: 40 ms of predict
        ok = reached[labels]
    if n_obs:
        P_new = _newton_observed(factors, new[:n_obs], observations, observed, lap, pull, P_new)
    return {node: (P_new[i], bool(ok[i])) for i, node in enumerate(new)}, weights


def _newton_observed(factors: FittedFactors, obs_nodes: list[str], observations: ObservationMatrix,
                     observed: Mapping[str, int], lap: sp.csr_matrix, pull: np.ndarray,
                     P_new: np.ndarray, steps: int = 20) -> np.ndarray:
    """Newton steps (Fisher scoring, halving) on the new nodes' objective with their observations."""
    from hub_lineage.model.solvers.linear import solve_blocks
    from hub_lineage.model.solvers.reference import cell_terms

    item_pos = {it: j for j, it in enumerate(factors.items)}
    cols = np.array([item_pos.get(it, -1) for it in observations.items])
    keep = cols >= 0
    if not keep.any():
        raise InvalidInputError("None of the observations' items are items of this fit: nothing to fold in.")
    values = observations.values[[observed[m] for m in obs_nodes]][:, keep].astype(np.float64)
    cols = cols[keep]
    mask = ~np.isnan(values)
    w = np.where(mask, factors.item_counts[cols][None, :] / factors.count_scale, 0.0)
    y = np.where(mask, values, 0.0)
    kappa = None if factors.kappa is None else factors.kappa[cols]
    d, reg, n_obs = factors.n_factors, float(factors.reg), len(obs_nodes)
    F = np.array(factors.item_params()[cols], dtype=np.float64)
    c = F[:, d].copy() if factors.biases else 0.0
    if factors.biases:
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
