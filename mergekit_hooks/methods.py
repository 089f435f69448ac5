"""The merge methods mergekit 0.1.5 registers, as a snapshot that imports nothing heavy.

mergekit imports torch (seconds), so the fast path reads this table instead of
``mergekit.merge_methods.registered_methods()``; ``tests/mergekit_hooks/test_methods.py``
asserts the two agree (names, base policy, input counts, parameters with their defaults), so a
mergekit upgrade that adds or changes a method fails the tests instead of drifting silently.

``family`` is ours, not mergekit's: it names the rule :mod:`mergekit_hooks.recipe` uses to turn a
recipe into parent shares (see that module's docstring).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from hub_lineage.errors import InvalidInputError

MERGEKIT_VERSION = "0.1.5"


class _Required:
    """Marks a parameter without a default (mergekit's ``MISSING``)."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class MethodSpec:
    """One registered merge method.

    ``base`` is mergekit's base policy (``required``, ``optional``, ``ignored``, ``forbidden``);
    ``parameters`` maps a parameter name to ``(scope, default)`` where scope is mergekit's
    ``shared`` / ``input`` / ``non_base`` and default may be :data:`REQUIRED`.
    """

    name: str
    pretty_name: str
    family: str
    base: str
    min_inputs: int
    max_inputs: int | None = None
    min_non_base: int | None = None
    max_non_base: int | None = None
    parameters: dict[str, tuple[str, Any]] = field(default_factory=dict)

    def default(self, name: str, fallback: Any = None) -> Any:
        scope_default = self.parameters.get(name)
        if scope_default is None or scope_default[1] is REQUIRED:
            return fallback
        return scope_default[1]


def _gta(name: str, pretty: str, normalize: bool, rescale: bool, extra: dict[str, tuple[str, Any]]) -> MethodSpec:
    params: dict[str, tuple[str, Any]] = {
        "int8_mask": ("shared", False),
        "normalize": ("shared", normalize),
        "rescale": ("shared", rescale),
        "lambda": ("shared", 1.0),
        "weight": ("non_base", REQUIRED),
        "density": ("non_base", 1.0),
    }
    params.update(extra)
    return MethodSpec(name, pretty, "task_arithmetic", "required", 1, parameters=params)


_GAMMA = {"gamma": ("non_base", 0.01)}
_EPSILON = {"epsilon": ("non_base", 0.15)}

#: Every method of mergekit 0.1.5's registry, in its registration order.
METHODS: dict[str, MethodSpec] = {
    m.name: m
    for m in (
        MethodSpec("multislerp", "Multi-SLERP", "weighted", "optional", 1, min_non_base=1,
                   parameters={"weight": ("non_base", REQUIRED), "normalize_weights": ("shared", True),
                               "eps": ("shared", 1e-08)}),
        MethodSpec("nearswap", "NearSwap", "equal", "required", 2, 2, parameters={"t": ("shared", REQUIRED)}),
        MethodSpec("ram", "Reinforced Agent Merging", "task_vectors", "required", 1,
                   parameters={"epsilon": ("shared", 1e-05)}),
        MethodSpec("ramplus_tl", "Reinforced Agent Merging Plus (Tensor-Local)", "task_vectors", "required", 1,
                   parameters={"r": ("shared", 0.1), "alpha": ("shared", 0.2), "epsilon": ("shared", 1e-05)}),
        MethodSpec("sce", "SCE", "task_vectors", "required", 1,
                   parameters={"int8_mask": ("shared", False), "select_topk": ("shared", 1.0)}),
        MethodSpec("linear", "Linear", "linear", "ignored", 1,
                   parameters={"weight": ("input", REQUIRED), "normalize": ("shared", True)}),
        MethodSpec("slerp", "SLERP", "slerp", "required", 2, 2, parameters={"t": ("shared", REQUIRED)}),
        MethodSpec("nuslerp", "NuSLERP", "weighted", "optional", 1, min_non_base=2, max_non_base=2,
                   parameters={"weight": ("non_base", REQUIRED), "nuslerp_row_wise": ("shared", False),
                               "nuslerp_flatten": ("shared", True)}),
        MethodSpec("passthrough", "Passthrough", "passthrough", "ignored", 1, 1,
                   parameters={"scale": ("input", None)}),
        MethodSpec("model_stock", "Model Stock", "model_stock", "required", 3,
                   parameters={"filter_wise": ("shared", False)}),
        MethodSpec("arcee_fusion", "Arcee Fusion", "equal", "required", 2, 2),
        MethodSpec("karcher", "Karcher Mean", "equal", "ignored", 1,
                   parameters={"max_iter": ("shared", 10), "tol": ("shared", 1e-05)}),
        _gta("task_arithmetic", "Task Arithmetic", False, False, {}),
        _gta("ties", "TIES", True, False, {}),
        _gta("dare_ties", "DARE TIES", False, True, {}),
        _gta("dare_linear", "Linear DARE", False, True, {}),
        _gta("breadcrumbs", "Model Breadcrumbs", False, False, _GAMMA),
        _gta("breadcrumbs_ties", "Model Breadcrumbs with TIES", False, False, _GAMMA),
        _gta("della", "DELLA", True, True, _EPSILON),
        _gta("della_linear", "Linear DELLA", False, True, _EPSILON),
    )
}


def get_method(name: str, *, source: str = "recipe") -> MethodSpec:
    """The spec of merge method ``name``; an unknown name raises with a "did you mean".

    Raises
    ------
    InvalidInputError
        Naming the unknown method, the closest registered names and every valid one.
    """
    spec = METHODS.get(name) if isinstance(name, str) else None
    if spec is not None:
        return spec
    valid = ", ".join(sorted(METHODS))
    close = difflib.get_close_matches(str(name).lower(), list(METHODS), n=2, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise InvalidInputError(
        f"{source}: unknown merge_method {name!r}.{hint} mergekit {MERGEKIT_VERSION} registers: {valid}."
    )
