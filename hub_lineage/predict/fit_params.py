"""What a predictor's fit is made of besides data: its default hyper-parameters (benchmark and
instance level) and its version string (package version + a hash of data and hyper-parameters)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.lineage.graph import LineageGraph


def default_params(seed: int = 0) -> dict[str, Any]:
    """LRMF hyper-parameters of a predictor fitted without search (``tune=False``).

    The evaluation protocol's fixed choices for leaderboard data (chance-level floors, biases,
    side nodes: ``tuning.SETTING_PARAMS``) with the first point of its heterogeneous grid.
    """
    from hub_lineage.evaluation.tuning import SETTING_GRIDS, SETTING_PARAMS

    base = dict(SETTING_PARAMS.get("heterogeneous", {}).get("lrmf", {}))
    return {**base, **SETTING_GRIDS["heterogeneous"]["lrmf"][0], "random_state": seed}


def instance_params(seed: int = 0) -> dict[str, Any]:
    """LRMF hyper-parameters of an instance-level (mixed) predictor: the heterogeneous setting's
    fixed choices without chance floors (item cells are 0/1; the fast solver needs the plain
    logistic link there), ``lambda_lineage`` = 1 (no benchmark-level grid applies to item cells), a
    weak co-response item graph (the instance setting's fixed choice) and a tight ``tol`` (the item
    factors keep improving after the aggregates have settled)."""
    from hub_lineage.evaluation.tuning import SETTING_PARAMS

    base = {k: v for k, v in SETTING_PARAMS["heterogeneous"]["lrmf"].items() if k != "chance"}
    return {"lambda_lineage": 1.0, **base, "lambda_instance": 1e-3, "tol": 1e-6, "max_iter": 100,
            "random_state": seed}


def fit_version(matrix: ObservationMatrix, graph: LineageGraph, params: Mapping[str, Any]) -> str:
    """``<package version>+<hash of data and hyper-parameters>``: refitting the same data keeps it."""
    import hashlib  # here, not at the top: with importlib.metadata ~30 ms that predicting never needs
    from importlib.metadata import PackageNotFoundError, version as _pkg_version

    digest = hashlib.sha1()
    digest.update("\n".join(matrix.models).encode())
    digest.update("\n".join(matrix.items).encode())
    digest.update(np.nan_to_num(matrix.values, nan=-1.0).tobytes())
    digest.update(str(len(graph.edges)).encode())
    digest.update(json.dumps(jsonable(params), sort_keys=True).encode())
    try:
        pkg = _pkg_version("hub-lineage")
    except PackageNotFoundError:
        pkg = "0"
    return f"{pkg}+{digest.hexdigest()[:8]}"


def jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
