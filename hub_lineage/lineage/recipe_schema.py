"""The pydantic mirror of ``mergekit.config.MergeConfiguration``, for recipes not in canonical form.

:func:`hub_lineage.lineage.recipe_config.read_config` reads well-formed recipes without pydantic;
whatever it does not accept (a wrong type, a missing field, a value pydantic coerces such as
``layer_range: ["0", "16"]``) is validated here, so coercions and error messages are pydantic's,
as they always were. Importing this module costs ~0.2 s (pydantic and the model construction).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from hub_lineage.errors import DataFormatError
from hub_lineage.lineage.recipe_config import referenced_models


class ModelRef(BaseModel):
    """``path[@revision][+lora]``, as mergekit's ``ModelReference`` reads it."""

    model_config = ConfigDict(frozen=True)
    path: str
    revision: str | None = None
    lora: str | None = None
    override_architecture: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            chunks = value.split("+")
            if len(chunks) > 2:
                raise ValueError(f"cannot parse model reference {value!r}: more than one '+'")
            out = _split_path(chunks[0])
            if len(chunks) == 2:
                out["lora"] = chunks[1]
            return out
        if isinstance(value, dict) and "model" in value:
            model = value["model"]
            out = _split_path(model) if isinstance(model, str) else dict(model)
            lora = value.get("lora")
            if isinstance(lora, dict):
                lora = str(lora.get("path")) + (f"@{lora['revision']}" if lora.get("revision") else "")
            return {**out, "lora": lora, "override_architecture": value.get("override_architecture")}
        return value

    def __str__(self) -> str:
        text = f"{self.path}@{self.revision}" if self.revision else self.path
        return f"{text}+{self.lora}" if self.lora else text


def _split_path(value: str) -> dict[str, Any]:
    if value.count("@") > 1:
        raise ValueError(f"invalid model path {value!r}: more than one '@'")
    path, _, rev = value.partition("@")
    return {"path": path, "revision": rev or None}


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class InputModel(_Loose):
    model: ModelRef
    parameters: dict[str, Any] | None = None


class InputSlice(_Loose):
    model: ModelRef
    layer_range: tuple[int, int]
    parameters: dict[str, Any] | None = None


class OutputSlice(_Loose):
    sources: list[InputSlice]
    base_model: ModelRef | None = None
    residual_weight: float | None = None
    parameters: dict[str, Any] | None = None


class OutputModule(_Loose):
    slices: list[OutputSlice] | None = None
    models: list[InputModel] | None = None
    parameters: dict[str, Any] | None = None


class RecipeConfig(_Loose):
    """The fields of ``MergeConfiguration`` that matter before a merge."""

    modules: dict[str, OutputModule] | None = None
    slices: list[OutputSlice] | None = None
    models: list[InputModel] | None = None
    merge_method: str
    base_model: ModelRef | None = None
    dtype: str | None = None
    tokenizer_source: Any = None
    tokenizer: Any = None
    chat_template: str | None = None
    out_dtype: str | None = None
    parameters: dict[str, Any] | None = None

    def referenced_models(self) -> list[ModelRef]:
        return referenced_models(self)


def validate(data: dict[str, Any], source: str = "recipe") -> RecipeConfig:
    """Validate (and coerce) ``data`` with pydantic; a bad field raises :class:`DataFormatError`
    naming the recipe, the field's path and pydantic's message."""
    try:
        return RecipeConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "recipe"
        raise DataFormatError(f"{source}: invalid recipe field {where!r}: {first['msg']}.") from None
