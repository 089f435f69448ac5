"""NCF's optimizer: torch.optim.Adam's numbers without importing torch._dynamo."""

from __future__ import annotations

import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from hub_lineage.model.factor_models import Adam  # noqa: E402


def _train(make_optimizer) -> list:
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Embedding(7, 4), torch.nn.Flatten(), torch.nn.Linear(8, 1))
    opt = make_optimizer(net.parameters())
    gen = torch.Generator().manual_seed(5)
    for _ in range(25):
        idx = torch.randint(0, 7, (16, 2), generator=gen)
        target = torch.rand(16, generator=gen)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(idx).squeeze(1), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [p.detach().clone() for p in net.parameters()]


@pytest.mark.parametrize("weight_decay", [0.0, 1e-5])
def test_adam_gives_torch_optim_adams_bits(weight_decay):
    ours = _train(lambda params: Adam(params, lr=1e-2, weight_decay=weight_decay))
    theirs = _train(lambda params: torch.optim.Adam(params, lr=1e-2, weight_decay=weight_decay))
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))


def test_ncf_fit_does_not_import_dynamo():
    code = ("import sys, numpy as np; from hub_lineage.data.matrix import ObservationMatrix; "
            "from hub_lineage.model.factor_models import NCF; "
            "meta = {m: {'architecture': 'A', 'params_b': 7.0, 'type': 'x', 'merged': False} for m in 'abc'}; "
            "m = ObservationMatrix(list('abc'), ['i', 'j'], np.array([[1., 0.], [0., 1.], [1., 1.]]), ['i', 'j'], "
            "np.array([10., 10.]), model_meta=meta); "
            "NCF(epochs=2).fit(m); sys.exit(1 if 'torch._dynamo' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0  # 2 s of each evaluate worker
