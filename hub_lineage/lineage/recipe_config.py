"""The fields of a mergekit recipe that matter before a merge, read without pydantic.

:func:`read_config` turns the YAML mapping into small frozen dataclasses with the attributes of
``mergekit.config.MergeConfiguration`` (``models`` / ``slices`` / ``modules``, ``merge_method``,
``base_model``, ``parameters``...). It accepts only the canonical form (strings, ints, mappings
with string keys...); anything else, a wrong type, a missing field or a form pydantic would
coerce, goes to the pydantic mirror in :mod:`hub_lineage.lineage.recipe_schema`, which either
coerces it exactly as before or raises the same error as before (:mod:`hub_lineage.lineage.recipes`
calls one, then the other). Building that pydantic schema
cost ~0.2 s of every ``mergekit-preflight`` run (pydantic import + model construction, measured),
which a well-formed recipe no longer pays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Params = dict[str, Any] | None


class _Fallback(Exception):
    """The input is not in canonical form: let pydantic decide (coerce or reject)."""


@dataclass(frozen=True)
class ModelRef:
    """``path[@revision][+lora]``, as mergekit's ``ModelReference`` reads it."""

    path: str
    revision: str | None = None
    lora: str | None = None
    override_architecture: str | None = None

    def __str__(self) -> str:
        text = f"{self.path}@{self.revision}" if self.revision else self.path
        return f"{text}+{self.lora}" if self.lora else text


@dataclass(frozen=True)
class InputModel:
    model: ModelRef
    parameters: Params = None


@dataclass(frozen=True)
class InputSlice:
    model: ModelRef
    layer_range: tuple[int, int]
    parameters: Params = None


@dataclass(frozen=True)
class OutputSlice:
    sources: list[InputSlice]
    base_model: ModelRef | None = None
    residual_weight: float | None = None
    parameters: Params = None


@dataclass(frozen=True)
class OutputModule:
    slices: list[OutputSlice] | None = None
    models: list[InputModel] | None = None
    parameters: Params = None


@dataclass(frozen=True)
class RecipeConfig:
    """The fields of ``MergeConfiguration`` that matter before a merge."""

    merge_method: str
    modules: dict[str, OutputModule] | None = None
    slices: list[OutputSlice] | None = None
    models: list[InputModel] | None = None
    base_model: ModelRef | None = None
    dtype: str | None = None
    tokenizer_source: Any = None
    tokenizer: Any = None
    chat_template: str | None = None
    out_dtype: str | None = None
    parameters: Params = None

    def referenced_models(self) -> list[ModelRef]:
        return referenced_models(self)


#: One merge unit: (weight of the unit, [(input ref, its own parameters)], [shared parameter maps]).
Unit = tuple[float, list[tuple[Any, Params]], list[Params]]


def units(cfg: Any) -> list[Unit]:
    """Split a recipe (this module's or the pydantic mirror's) into the pieces mergekit merges
    separately, each with its weight."""
    out: list[Unit] = []

    def add(models: list | None, slices: list | None, params: list[Params], w: float) -> None:
        if models:
            out.append((w, [(m.model, m.parameters) for m in models], params))
        for s in slices or []:
            span = s.sources[0].layer_range[1] - s.sources[0].layer_range[0] if s.sources else 0
            out.append((w * span, [(src.model, src.parameters) for src in s.sources], [s.parameters, *params]))

    if cfg.modules:
        for module in cfg.modules.values():
            add(module.models, module.slices, [module.parameters, cfg.parameters], 1.0)
    add(cfg.models, cfg.slices, [cfg.parameters], 1.0)
    return out


def referenced_models(cfg: Any) -> list[Any]:
    """Base model first, then every input, each once (as ``MergeConfiguration.referenced_models``)."""
    refs: dict[str, Any] = {}
    if cfg.base_model:
        refs[str(cfg.base_model)] = cfg.base_model
    for _, inputs, _ in units(cfg):
        for ref, _ in inputs:
            refs[str(ref)] = ref
    return list(refs.values())


# -- the canonical-form reader --------------------------------------------------------------------


def read_config(data: dict[str, Any]) -> RecipeConfig | None:
    """The recipe's config as this module's dataclasses, or None when ``data`` is not in canonical
    form (then :func:`hub_lineage.lineage.recipe_schema.validate` decides: coerce or reject)."""
    try:
        return _config(data)
    except _Fallback:
        return None


def _need(ok: bool) -> None:
    if not ok:
        raise _Fallback


def _opt_str(value: Any) -> str | None:
    _need(value is None or isinstance(value, str))
    return value


def _params(value: Any) -> Params:
    _need(value is None or (isinstance(value, dict) and all(isinstance(k, str) for k in value)))
    return None if value is None else dict(value)


def _list(value: Any, item: Callable[[Any], Any]) -> list | None:
    _need(value is None or isinstance(value, list))
    return None if value is None else [item(v) for v in value]


def _mapping(value: Any) -> dict[str, Any]:
    _need(isinstance(value, dict))
    return value


def _split_path(value: str) -> dict[str, Any]:
    _need(value.count("@") <= 1)
    path, _, rev = value.partition("@")
    return {"path": path, "revision": rev or None}


def _ref(value: Any) -> ModelRef:
    if isinstance(value, str):
        chunks = value.split("+")
        _need(len(chunks) <= 2)
        fields = _split_path(chunks[0])
        if len(chunks) == 2:
            fields["lora"] = chunks[1]
    elif isinstance(value, dict) and "model" in value:
        model = value["model"]
        _need(isinstance(model, (str, dict)))
        fields = _split_path(model) if isinstance(model, str) else dict(model)
        lora = value.get("lora")
        if isinstance(lora, dict):
            lora = str(lora.get("path")) + (f"@{lora['revision']}" if lora.get("revision") else "")
        fields = {**fields, "lora": lora, "override_architecture": value.get("override_architecture")}
    else:
        fields = _mapping(value)
    path = fields.get("path")
    _need(isinstance(path, str))
    return ModelRef(path, _opt_str(fields.get("revision")), _opt_str(fields.get("lora")),
                    _opt_str(fields.get("override_architecture")))


def _opt_ref(value: Any) -> ModelRef | None:
    return None if value is None else _ref(value)


def _input_model(value: Any) -> InputModel:
    value = _mapping(value)
    _need("model" in value)
    return InputModel(_ref(value["model"]), _params(value.get("parameters")))


def _input_slice(value: Any) -> InputSlice:
    value = _mapping(value)
    span = value.get("layer_range")
    _need("model" in value and isinstance(span, list) and len(span) == 2
          and all(type(x) is int for x in span))
    return InputSlice(_ref(value["model"]), (span[0], span[1]), _params(value.get("parameters")))


def _output_slice(value: Any) -> OutputSlice:
    value = _mapping(value)
    _need(isinstance(value.get("sources"), list))
    residual = value.get("residual_weight")
    _need(residual is None or type(residual) in (int, float))
    return OutputSlice(_list(value["sources"], _input_slice), _opt_ref(value.get("base_model")),
                       None if residual is None else float(residual), _params(value.get("parameters")))


def _module(value: Any) -> OutputModule:
    value = _mapping(value)
    return OutputModule(_list(value.get("slices"), _output_slice), _list(value.get("models"), _input_model),
                        _params(value.get("parameters")))


def _config(data: dict[str, Any]) -> RecipeConfig:
    method = data.get("merge_method")
    _need(isinstance(method, str))
    modules = data.get("modules")
    _need(modules is None or (isinstance(modules, dict) and all(isinstance(k, str) for k in modules)))
    return RecipeConfig(
        merge_method=method,
        modules=None if modules is None else {k: _module(v) for k, v in modules.items()},
        slices=_list(data.get("slices"), _output_slice),
        models=_list(data.get("models"), _input_model),
        base_model=_opt_ref(data.get("base_model")),
        dtype=_opt_str(data.get("dtype")),
        tokenizer_source=data.get("tokenizer_source"),
        tokenizer=data.get("tokenizer"),
        chat_template=_opt_str(data.get("chat_template")),
        out_dtype=_opt_str(data.get("out_dtype")),
        parameters=_params(data.get("parameters")),
    )
