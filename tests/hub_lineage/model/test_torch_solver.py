"""``LRMF(solver="torch")``: the PyTorch L-BFGS solver reaches the NumPy solvers' optimum on CPU."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.errors import InvalidInputError
from hub_lineage.lineage.edges import Edge
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.model.lrmf import LRMF

pytest.importorskip("torch")


def _problem(chance: bool):
    rng = np.random.default_rng(3)
    values = (rng.random((14, 18)) < 0.6).astype(np.float32)
    values[rng.random(values.shape) < 0.2] = np.nan
    bench = ["gpqa"] * 6 + ["bbh"] * 6 + ["other"] * 6
    matrix = ObservationMatrix([f"m{i}" for i in range(14)], [f"i{j}" for j in range(18)], values, bench,
                               np.full(18, 3.0) if chance else None)
    graph = LineageGraph([Edge(f"m{i}", f"m{i - 1}") for i in range(1, 14, 2)] + [Edge("x", "m2")])
    knn = sp.random(18, 18, density=0.3, random_state=1, format="csr")
    return matrix, graph, knn


@pytest.mark.parametrize("chance", [None, "items"])
def test_torch_solver_agrees_with_the_numpy_solvers_on_cpu(chance):
    matrix, graph, knn = _problem(chance is not None)
    kw = dict(lambda_lineage=0.5, lambda_instance=0.2, reg=3e-2, biases=True, chance=chance, random_state=0)
    ref = LRMF(3, **kw, solver="reference", tol=1e-14, max_iter=5000).fit(matrix, graph, knn)
    fast = LRMF(3, **kw, tol=1e-10, max_iter=500).fit(matrix, graph, knn)
    torch_fit = LRMF(3, **kw, solver="torch:cpu", tol=1e-12, max_iter=500).fit(matrix, graph, knn)
    assert torch_fit.loss_curve_[-1] == pytest.approx(ref.loss_curve_[-1], rel=1e-8)
    nodes = matrix.models + ["x"]
    # Stated tolerance: probabilities within 1e-4 of the float64 reference (measured 6e-8, 7e-8) and
    # 5e-3 of the float32 fast solver.
    assert np.abs(torch_fit.predict_proba(nodes) - ref.predict_proba(nodes)).max() < 1e-4
    assert np.abs(torch_fit.predict_proba(nodes) - fast.predict_proba(nodes)).max() < 5e-3


def test_torch_solver_is_named_and_loaded_only_when_chosen():
    with pytest.raises(InvalidInputError, match="Unknown solver 'troch'.*'torch'"):
        LRMF(2, solver="troch").fit(*_problem(False)[:2])
    code = ("import sys\nfrom hub_lineage.model.lrmf import LRMF\nfrom hub_lineage.evaluation.synthetic import "
            "make_lineage_data\nd = make_lineage_data(20, 30, random_state=0)\nLRMF(2, max_iter=3).fit(d.matrix, d.graph)"
            "\nprint('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False"], out.stderr
