"""The merge methods mergekit 0.1.5 registers, as a snapshot that imports nothing heavy.

mergekit imports torch (seconds), so the fast path reads this table instead of
``mergekit.merge_methods.registered_methods()``; ``tests/hub_lineage/lineage/test_merge_methods.py``
asserts the two agree (names, base policy, input counts, parameters with their defaults), so a
mergekit upgrade that adds or changes a method fails the tests instead of drifting silently.

``family`` is ours, not mergekit's: it names the rule that turns a recipe into parent shares.

Shares: how much of the merged model each parent is
--------------------------------------------------------
Every rule yields non-negative shares summing to 1; they become the ``weight`` of the node's
``merge`` edges. A parameter given as a gradient (``t: [0, 0.5, 1]``) counts as its mean over
depth (piecewise-linear, as mergekit interpolates it); a conditional parameter (``- filter:
self_attn`` ...) counts as the mean of its branches. Parameters resolve as mergekit does: the
model's own ``parameters`` first, then the slice's, then the recipe's, then mergekit's default.

- ``linear``: share_i = weight_i / sum(weight) (``normalize`` only rescales the result, not its
  composition). A ``base_model`` not among ``models`` is listed with share 0 (linear ignores it).
- ``slerp``: the base gets 1 - t, the other model t (t averaged, clipped to [0, 1]).
- ``multislerp``, ``nuslerp``: without a base, share_i = weight_i / sum(weight); with a base they
  combine task vectors, so the task-vector rule below applies with c_i = weight_i / sum(weight).
- ``task_arithmetic``, ``ties``, ``dare_ties``, ``dare_linear``, ``breadcrumbs``,
  ``breadcrumbs_ties``, ``della``, ``della_linear`` (merged = base + lambda * sum_i w_i * delta_i):
  c_i = lambda * w_i' * kept_i, where w_i' = w_i / sum(w) when ``normalize`` (mergekit's default
  per method: on for ties and della) and w_i otherwise, and kept_i = ``density`` unless
  ``rescale`` (DARE, DELLA) scales the kept part back up, in which case 1.
- ``sce``, ``ram``, ``ramplus_tl``: task vectors with weights chosen at merge time: c_i = 1/n.
- Task-vector rule: each model gets max(c_i, 0); the base gets max(1 - sum(c), BASE_FLOOR = 0.1) (the floor
  keeps the base a parent, as the Hub records it); then all shares are normalised to sum 1.
- ``model_stock``: t = k*cos/((k-1)*cos + 1) with k fine-tuned models and cos = 0.5 (the angle is
  only known at merge time); the base gets 1 - t, each model t/k.
- ``passthrough``: each slice's single source gets that slice's layers (see slices below).
- ``karcher``, ``arcee_fusion``, ``nearswap``: equal shares (nearswap's ``t`` is a similarity
  threshold, not a mixing weight).
- ``slices:``: each output slice is merged by the rule above, and weighs by its layer count
  (``layer_range`` end - start); ``modules:`` weigh equally.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub_lineage.errors import InvalidInputError
from hub_lineage.lineage.weights import check_weight

MERGEKIT_VERSION = "0.1.5"
#: The least share the base of a task-vector merge keeps, so it stays a parent.
BASE_FLOOR = 0.1
#: Assumed cosine between fine-tuned models for model_stock (the real angle is known only at merge time).
MODEL_STOCK_COS = 0.5

Params = Mapping[str, Any] | None


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
    import difflib  # only for the message (preflight's import path stays light)

    close = difflib.get_close_matches(str(name).lower(), list(METHODS), n=2, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise InvalidInputError(
        f"{source}: unknown merge_method {name!r}.{hint} mergekit {MERGEKIT_VERSION} registers: {valid}."
    )


# -- shares -------------------------------------------------------------------------------------


def unit_shares(
    method: MethodSpec, inputs: Sequence[tuple[str, Params]], base: str | None, shared: Sequence[Params], source: str
) -> dict[str, float]:
    """Shares of one merge unit (the whole ``models:`` list, or one output slice).

    ``inputs`` are (model reference, its own ``parameters``), ``shared`` the slice's and the
    recipe's ``parameters`` in precedence order. Non-negative shares summing to 1, by reference.
    """
    base_key = base
    own = {ref: p for ref, p in inputs}
    if method.base == "required" and base_key is None:
        raise InvalidInputError(f"{source}: merge_method {method.name!r} needs a base_model; add 'base_model: ORG/NAME'.")
    if method.base in ("required", "optional") and base_key is not None:
        own.setdefault(base_key, None)
    has_base = base_key in own and method.base != "ignored"
    others = [r for r in own if r != base_key or not has_base]

    def param(name: str, ref: str | None = None, kind: str = "number") -> Any:
        maps = ([own.get(ref)] if ref is not None else []) + list(shared)
        for m in maps:
            if m and name in m and m[name] is not None:
                return _reduce(m[name], name, source, kind)
        value = method.default(name)
        return None if value is None else _reduce(value, name, source, kind)

    def weights(refs: list[str]) -> dict[str, float]:
        out = {}
        for r in refs:
            w = param("weight", r)
            if w is None:
                raise InvalidInputError(
                    f"{source}: model {r!r} has no parameters.weight, which {method.name!r} requires."
                )
            out[r] = check_weight(w, f"{source}: model {r!r}")  # negative or infinite: an error, never clipped
        return out

    family = method.family
    if family == "linear":
        return _normalised(weights(others), source, method.name)
    if family == "slerp":
        t = param("t")
        if t is None:
            raise InvalidInputError(f"{source}: slerp needs parameters.t (the share of the non-base model).")
        t = min(max(t, 0.0), 1.0)
        return {r: (1.0 - t if r == base_key else t) for r in own}
    if family == "weighted":
        w = _normalised(weights(others), source, method.name)
        return _task_vectors(w, base_key) if has_base else w
    if family == "task_arithmetic":
        w = weights(others)
        if param("normalize", kind="flag"):
            w = _normalised(w, source, method.name, clip=False)
        lam = param("lambda")
        rescale = param("rescale", kind="flag")
        c = {r: lam * w[r] * (1.0 if rescale else min(max(param("density", r), 0.0), 1.0)) for r in others}
        return _task_vectors(c, base_key, source, method.name)
    if family == "task_vectors":
        return _task_vectors({r: 1.0 / len(others) for r in others}, base_key)
    if family == "model_stock":
        k = len(others)
        t = k * MODEL_STOCK_COS / ((k - 1) * MODEL_STOCK_COS + 1) if k else 0.0
        return {r: (1.0 - t if r == base_key else t / k) for r in own}
    # passthrough (a single source per slice), karcher, arcee_fusion, nearswap
    return {r: 1.0 / len(own) for r in own}


def _normalised(w: dict[str, float], source: str, method: str, clip: bool = True) -> dict[str, float]:
    total = sum(w.values())
    if not w or abs(total) < 1e-12:
        raise InvalidInputError(
            f"{source}: the weights of {method!r} sum to zero ({', '.join(f'{k}: {v:g}' for k, v in w.items())}); "
            "mergekit would divide by zero. Give at least one model a non-zero weight."
        )
    out = {k: v / total for k, v in w.items()}
    if clip:
        pos = {k: max(v, 0.0) for k, v in out.items()}
        s = sum(pos.values())
        if s <= 0:
            raise InvalidInputError(f"{source}: no model of {method!r} has a positive weight.")
        out = {k: v / s for k, v in pos.items()}
    return out


def _task_vectors(c: dict[str, float], base: str | None, source: str = "recipe", method: str = "") -> dict[str, float]:
    pos = {k: max(v, 0.0) for k, v in c.items()}
    if sum(pos.values()) <= 0:
        raise InvalidInputError(
            f"{source}: the task-vector weights of {method!r} sum to zero or less "
            f"({', '.join(f'{k}: {v:g}' for k, v in c.items())}); the merge would equal its base."
        )
    out = dict(pos)
    if base is not None:
        out[base] = max(1.0 - sum(pos.values()), BASE_FLOOR)
    s = sum(out.values())
    return {k: v / s for k, v in out.items()}


def _reduce(value: Any, name: str, source: str, kind: str) -> Any:
    """One number (or flag) for a parameter that may be a gradient or a conditional."""
    if isinstance(value, Mapping):
        return _reduce(value.get("value"), name, source, kind)
    if isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            return None
        if all(isinstance(v, Mapping) for v in value):
            branches = [_reduce(v, name, source, kind) for v in value]
            branches = [b for b in branches if b is not None]
            if kind == "flag":
                return any(branches)
            return sum(branches) / len(branches) if branches else None
        vals = [_reduce(v, name, source, kind) for v in value]
        if kind == "flag" or len(vals) == 1:
            return vals[0]
        # mean of the piecewise-linear gradient over depth (trapezoid rule on evenly spaced points)
        return (sum(vals) - (vals[0] + vals[-1]) / 2) / (len(vals) - 1)
    if kind == "flag":
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes", "on")
        return bool(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{source}: parameter {name!r} must be a number, got {value!r}.") from None
    if not math.isfinite(number):
        raise InvalidInputError(f"{source}: parameter {name!r} must be finite, got {value!r}.")
    return number
