"""Baselines that predict from model factors alone: ridge regression and NCF with factors.

Model factors are what is known about a model before anyone evaluates it: architecture, model
type, parameter count and the merged flag (``ObservationMatrix.model_meta``). Neither baseline
looks at lineage; NCF imports torch inside its methods only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.model.base import Estimator, check_is_fitted
from hub_lineage.model.baselines import check_matrix, item_means


# -- model factors (NCF and the linear regression) ---------------------------------------------


@dataclass
class ModelFactors:
    """One-hot architecture and type, log parameter count, merged flag: (n_models, n_features)."""

    architectures: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    log_params_mean: float = 0.0
    log_params_sd: float = 1.0

    @classmethod
    def fit(cls, meta: dict[str, dict[str, Any]], models: Sequence[str], max_levels: int = 30) -> ModelFactors:
        def top(key: str) -> list[str]:
            counts: dict[str, int] = {}
            for m in models:
                value = (meta.get(m) or {}).get(key)
                if value:
                    counts[str(value)] = counts.get(str(value), 0) + 1
            return [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_levels]]

        logs = [np.log((meta.get(m) or {}).get("params_b") or np.nan) for m in models]
        logs_arr = np.array(logs, dtype=np.float64)
        ok = logs_arr[~np.isnan(logs_arr)]
        return cls(top("architecture"), top("type"),
                   float(ok.mean()) if ok.size else 0.0, float(ok.std()) if ok.size > 1 and ok.std() > 0 else 1.0)

    def codes(self, meta: dict[str, dict[str, Any]], models: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(architecture code, type code, numeric (n, 3)): code 0 = unknown or rare."""
        arch = {a: k + 1 for k, a in enumerate(self.architectures)}
        typ = {t: k + 1 for k, t in enumerate(self.types)}
        a, t, num = [], [], []
        for m in models:
            info = meta.get(m) or {}
            a.append(arch.get(str(info.get("architecture")), 0))
            t.append(typ.get(str(info.get("type")), 0))
            params = info.get("params_b")
            known = params is not None and params > 0
            z = (np.log(params) - self.log_params_mean) / self.log_params_sd if known else 0.0
            num.append((z, 0.0 if known else 1.0, 1.0 if info.get("merged") else 0.0))
        return np.array(a), np.array(t), np.array(num, dtype=np.float64).reshape(-1, 3)

    def design(self, meta: dict[str, dict[str, Any]], models: Sequence[str]) -> np.ndarray:
        a, t, num = self.codes(meta, models)
        one_a = np.eye(len(self.architectures) + 1)[a]
        one_t = np.eye(len(self.types) + 1)[t]
        return np.hstack([np.ones((len(models), 1)), one_a[:, 1:], one_t[:, 1:], num])


class _FactorEstimator(Estimator):
    """Baselines that predict from model factors: they keep the metadata of every model they saw."""

    def fold_in_proba(self, graph: LineageGraph, models: Sequence[str],
                      observations: ObservationMatrix | None = None) -> np.ndarray:
        check_is_fitted(self, "meta_")
        if observations is not None:
            self.meta_.update(observations.model_meta)
        return self.predict_proba(models)


class LinearFactors(_FactorEstimator):
    """Ridge regression of every item on the model factors (closed form, one solve for all items).

    Missing cells are imputed with the item's training mean before the solve, which keeps one
    shared system; with ~95% of cells observed the bias this adds is small.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(self, matrix: ObservationMatrix, model_graph: LineageGraph | None = None,
            instance_graph: Any = None) -> LinearFactors:
        check_matrix(matrix)
        self.meta_ = dict(matrix.model_meta)
        self.factors_ = ModelFactors.fit(matrix.model_meta, matrix.models)
        x = self.factors_.design(matrix.model_meta, matrix.models)
        mean = item_means(matrix)
        y = np.where(matrix.mask, matrix.values, mean[None, :]) - mean[None, :]
        gram = x.T @ x + self.alpha * np.eye(x.shape[1])
        self.coef_ = np.linalg.solve(gram, x.T @ y)
        self.mean_ = mean
        self.items_ = list(matrix.items)
        return self

    def predict_proba(self, models: Sequence[str]) -> np.ndarray:
        check_is_fitted(self, "coef_")
        x = self.factors_.design(self.meta_, models)
        return np.clip(self.mean_[None, :] + x @ self.coef_, 0.0, 1.0)


def require_torch(method: str = "ncf") -> Any:
    """``torch``, or a one-line :class:`MissingDependencyError` naming the ``ncf`` extra."""
    try:
        import torch
    except ImportError:
        from hub_lineage.errors import MissingDependencyError

        raise MissingDependencyError(
            f"Method {method!r} (NCF) needs PyTorch, which is not installed: pip install 'hub-lineage[ncf]' "
            "(the CPU build: pip install torch --index-url https://download.pytorch.org/whl/cpu), "
            f"or leave {method!r} out of --methods.") from None
    return torch


class Adam:
    """``torch.optim.Adam``'s CPU update (its single-tensor path, the default on CPU), written out.

    Building any ``torch.optim`` optimizer imports ``torch._dynamo``: 2 s per process (measured),
    paid by every ``evaluate`` worker before its first NCF fit. This gives the same bits as
    ``torch.optim.Adam(params, lr, weight_decay=...)`` (tested), with ``zero_grad`` and ``step``.
    """

    def __init__(self, params: Any, lr: float, weight_decay: float = 0.0,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        import torch

        self.params = list(params)
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps
        self.moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in self.params]
        self.steps = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        import torch

        beta1, beta2 = self.betas
        self.steps += 1
        step_size = self.lr / (1 - beta1 ** self.steps)
        correction2_sqrt = (1 - beta2 ** self.steps) ** 0.5
        with torch.no_grad():
            for p, (avg, avg_sq) in zip(self.params, self.moments):
                if p.grad is None:
                    continue
                grad = p.grad if self.weight_decay == 0 else p.grad.add(p, alpha=self.weight_decay)
                avg.lerp_(grad, 1 - beta1)
                avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                p.addcdiv_(avg, (avg_sq.sqrt() / correction2_sqrt).add_(self.eps), value=-step_size)


class NCF(_FactorEstimator):
    """Neural collaborative filtering with model factors (the paper's "NCF with factors").

    A model tower embeds architecture and type and reads the numeric factors; an item embedding
    and bias meet it in a small MLP that outputs the logit of answering correctly. Aggregated
    cells enter the binomial likelihood weighted by their instance count (normalised to mean 1).
    Runs on CPU with one thread: it is a baseline, kept small and fast.
    """

    def __init__(self, n_factors: int = 16, *, epochs: int = 20, batch_size: int = 2048,
                 lr: float = 1e-2, weight_decay: float = 1e-5, random_state: int | None = 0) -> None:
        self.n_factors, self.epochs, self.batch_size = n_factors, epochs, batch_size
        self.lr, self.weight_decay, self.random_state = lr, weight_decay, random_state

    def _network(self, n_arch: int, n_type: int, n_items: int) -> Any:
        torch = require_torch()
        from torch import nn

        d = self.n_factors

        class Net(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.arch = nn.Embedding(n_arch, d)
                self.kind = nn.Embedding(n_type, d)
                self.num = nn.Linear(3, d)
                self.item = nn.Embedding(n_items, d)
                self.item_bias = nn.Embedding(n_items, 1)
                self.mlp = nn.Sequential(nn.Linear(2 * d, d), nn.ReLU(), nn.Linear(d, 1))

            def forward(self, a: Any, t: Any, num: Any, item: Any) -> Any:
                model = torch.relu(self.arch(a) + self.kind(t) + self.num(num))
                vec = self.item(item)
                out = self.mlp(torch.cat([model, vec], dim=1)) + (model * vec).sum(1, keepdim=True)
                return out.squeeze(1) + self.item_bias(item).squeeze(1)

        return Net()

    def fit(self, matrix: ObservationMatrix, model_graph: LineageGraph | None = None,
            instance_graph: Any = None) -> NCF:
        torch = require_torch()

        check_matrix(matrix)
        self.meta_ = dict(matrix.model_meta)
        torch.set_num_threads(1)
        gen = torch.Generator().manual_seed(0 if self.random_state is None else int(self.random_state))
        torch.manual_seed(0 if self.random_state is None else int(self.random_state))
        self.factors_ = ModelFactors.fit(matrix.model_meta, matrix.models)
        a, t, num = self.factors_.codes(matrix.model_meta, matrix.models)
        rows, cols = np.nonzero(matrix.mask)
        target = torch.tensor(matrix.values[rows, cols], dtype=torch.float32)
        counts = matrix.item_counts[cols]
        weight = torch.tensor(counts / counts.mean(), dtype=torch.float32)
        a_t, t_t = torch.tensor(a[rows]), torch.tensor(t[rows])
        num_t = torch.tensor(num[rows], dtype=torch.float32)
        item_t = torch.tensor(cols)
        net = self._network(len(self.factors_.architectures) + 1, len(self.factors_.types) + 1,
                            len(matrix.items))
        with torch.no_grad():  # start every item at its mean, so few epochs suffice
            mean = np.clip(item_means(matrix), 1e-3, 1 - 1e-3)
            net.item_bias.weight.copy_(torch.tensor(np.log(mean / (1 - mean)), dtype=torch.float32)[:, None])
        opt = Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        loss_fn = torch.nn.BCEWithLogitsLoss(reduction="none")
        self.loss_curve_ = []
        for _ in range(self.epochs):
            order = torch.randperm(len(rows), generator=gen)
            total = 0.0
            for start in range(0, len(rows), self.batch_size):
                idx = order[start:start + self.batch_size]
                logits = net(a_t[idx], t_t[idx], num_t[idx], item_t[idx])
                loss = (loss_fn(logits, target[idx]) * weight[idx]).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            self.loss_curve_.append(total / len(rows))
        self.net_ = net.eval()
        self.items_ = list(matrix.items)
        return self

    def predict_proba(self, models: Sequence[str]) -> np.ndarray:
        import torch

        check_is_fitted(self, "net_")
        a, t, num = self.factors_.codes(self.meta_, models)
        n, k = len(models), len(self.items_)
        with torch.no_grad():
            logits = self.net_(torch.tensor(np.repeat(a, k)), torch.tensor(np.repeat(t, k)),
                               torch.tensor(np.repeat(num, k, axis=0), dtype=torch.float32),
                               torch.tensor(np.tile(np.arange(k), n)))
        return torch.sigmoid(logits).numpy().astype(np.float64).reshape(n, k)
