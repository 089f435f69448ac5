"""The LRMF objective in PyTorch, minimised by full-batch L-BFGS on CPU or GPU (``solver="torch"``).

Optional: torch is imported only when this solver is chosen (``LRMF(solver="torch")``, or
``"torch:cpu"`` / ``"torch:cuda"`` to pick the device; plain ``"torch"`` takes CUDA when there is
one). The objective is :mod:`hub_lineage.model.solvers.reference`'s, term for term, written with
autograd: the same weights, chance levels, Laplacians and L2, from the same spectral start, so the
fit reaches the reference's optimum (tested on CPU within a stated tolerance). On CPU it runs in
float64; on a GPU in float32, where a dense (3,000 x 21,606) problem's logits take 260 MB and every
pass is a few matmuls. The blocked NumPy solver stays the default: it needs no torch and, on CPU,
is faster (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from hub_lineage.model.solvers.reference import Problem


def _sparse(torch: Any, matrix: Any, device: Any, dtype: Any) -> Any:
    coo = matrix.tocoo()
    index = torch.as_tensor(np.vstack([coo.row, coo.col]).astype(np.int64), device=device)
    values = torch.as_tensor(coo.data, device=device, dtype=dtype)
    return torch.sparse_coo_tensor(index, values, coo.shape, check_invariants=False).coalesce()


def fit_torch(problem: Problem, P0: np.ndarray, Q0: np.ndarray, max_iter: int, tol: float,
              callback: Callable[[int, float], None] | None = None, device: str | None = None
              ) -> tuple[np.ndarray, np.ndarray, list[float], int, bool]:
    """Minimise the LRMF objective from ``(P0, Q0)`` (n_nodes, k), (n_items, k) with torch L-BFGS.

    L-BFGS with a strong-Wolfe line search; ``tol`` sets its change tolerance (``1e-3 tol``,
    absolute, on an objective of order 1 to 10). Returns
    ``(P, Q, loss_curve, n_iter, converged)`` as NumPy float64 arrays.
    """
    import torch

    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = torch.float64 if dev.type == "cpu" else torch.float32
    n, d = problem.n_rows, problem.n_factors
    y = torch.as_tensor(problem.y, device=dev, dtype=dtype)
    w = torch.as_tensor(problem.w, device=dev, dtype=dtype)
    lap_m = _sparse(torch, problem.lap_model, dev, dtype)
    lap_x = None if problem.lap_item is None else _sparse(torch, problem.lap_item, dev, dtype)
    if problem.kappa is not None:
        k = torch.as_tensor(problem.kappa, device=dev, dtype=dtype)[None, :]
        log_k, log_1mk = torch.log(k), torch.log1p(-k)
    P = torch.tensor(P0, device=dev, dtype=dtype, requires_grad=True)
    Q = torch.tensor(Q0, device=dev, dtype=dtype, requires_grad=True)

    def objective() -> Any:
        x = P[:n, :d] @ Q[:, :d].T
        if problem.biases:
            x = x + P[:n, d:] + Q[:, d][None, :]
        if problem.kappa is None:
            loss = torch.nn.functional.softplus(x) - y * x
        else:  # p = k + (1 - k) sigmoid(x), as reference.cell_terms
            log_p = torch.logaddexp(log_k.expand_as(x), log_1mk + torch.nn.functional.logsigmoid(x))
            loss = -y * log_p - (1 - y) * (log_1mk - torch.nn.functional.softplus(x))
        value = (w * loss).sum() + (P * torch.sparse.mm(lap_m, P)).sum()
        value = value + problem.reg * ((P * P).sum() + (Q * Q).sum())
        if lap_x is not None:
            value = value + (Q * torch.sparse.mm(lap_x, Q)).sum()
        return value

    curve: list[float] = []

    def closure() -> Any:
        opt.zero_grad()
        value = objective()
        value.backward()
        current = float(value.detach())
        if not curve or current < curve[-1]:  # the curve keeps accepted points only
            curve.append(current)
            if callback is not None:
                callback(len(curve) - 1, curve[-1])
        return value

    # One L-BFGS run: its own stopping rules (no decrease beyond rounding, a vanishing gradient or
    # step) end it, or max_iter iterations; restarting its memory between iterations stalled it.
    opt = torch.optim.LBFGS([P, Q], lr=1.0, max_iter=max_iter, max_eval=4 * max_iter, history_size=20,
                            line_search_fn="strong_wolfe", tolerance_grad=1e-10,
                            tolerance_change=tol * 1e-3)
    opt.step(closure)
    n_iter = int(opt.state[opt._params[0]]["n_iter"])
    converged = n_iter < max_iter and bool(np.isfinite(curve[-1]))
    to_numpy = lambda t: t.detach().to("cpu", torch.float64).numpy()  # noqa: E731
    return to_numpy(P), to_numpy(Q), curve, n_iter, converged
