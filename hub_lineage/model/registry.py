"""The methods ``hub-lineage evaluate --methods`` knows: a name, how to build it, what to tune.

The registry imports the estimator modules; they never import it (that is what keeps
:mod:`hub_lineage.model.baselines` and :mod:`hub_lineage.model.factor_models` out of a cycle).
Torch, scipy and the solvers load only when an estimator is fitted.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub_lineage.errors import InvalidInputError
from hub_lineage.model.base import Estimator
from hub_lineage.model.baselines import MF, MLA, MeanBaseline
from hub_lineage.model.factor_models import NCF, LinearFactors
from hub_lineage.model.lrmf import LRMF


@dataclass(frozen=True)
class Method:
    """A named estimator: ``make(**params)`` builds it unfitted; ``grid`` is what the protocol may tune."""

    name: str
    make: Callable[..., Estimator]
    description: str
    grid: tuple[dict[str, Any], ...] = ({},)


METHODS: dict[str, Method] = {
    "lrmf": Method("lrmf", LRMF, "lineage-regularized matrix factorization"),
    "mla": Method("mla", MLA, "mean of the nearest scored lineage relatives",
                  ({}, {"decay": 0.5, "max_hops": 4})),
    "parent": Method("parent", lambda **p: MLA(direction="parents", **p), "the direct parents' own values"),
    "ncf": Method("ncf", NCF, "neural CF over architecture, type and parameter count"),
    "mf": Method("mf", MF, "matrix factorization without lineage (LRMF with both lambdas 0)"),
    "linear": Method("linear", LinearFactors, "ridge regression on model factors"),
    "mean": Method("mean", lambda **p: MeanBaseline("benchmark", **p), "per-benchmark training mean"),
    "difficulty": Method("difficulty", lambda **p: MeanBaseline("item", **p),
                         "per-item training mean (item difficulty across the other models)"),
    "global_mean": Method("global_mean", lambda **p: MeanBaseline("global", **p), "one global training mean"),
}


def get_method(name: str) -> Method:
    """The registered method called ``name``; an unknown name raises :class:`InvalidInputError`
    naming it, the closest valid name ("Did you mean ...?") and every valid one."""
    key = name.strip().lower()
    method = METHODS.get(key)
    if method is None:
        close = difflib.get_close_matches(key, METHODS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InvalidInputError(f"Unknown method {name!r}.{hint} Valid methods: {', '.join(METHODS)}.")
    return method


def make_estimator(name: str, **params: Any) -> Estimator:
    """An unfitted estimator for the method ``name`` with ``params``."""
    return get_method(name).make(**params)


__all__ = ["METHODS", "Method", "get_method", "make_estimator"]
