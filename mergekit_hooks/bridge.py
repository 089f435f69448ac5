"""Everything that imports mergekit (and so torch: seconds), in one module.

The fast path (``mergekit-preflight`` without ``--merge``/``--validate-with-mergekit``,
``hub-lineage predict --recipe``) reads recipes with :mod:`hub_lineage.lineage.recipes`, a
mergekit-free mirror; this bridge is imported only when mergekit itself must run: its own recipe
validation, and the merge.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub_lineage.errors import HubUnavailableError, InvalidInputError
from hub_lineage.lineage.recipes import Recipe, read_yaml

if TYPE_CHECKING:
    from mergekit_hooks.preflight import PreflightResult


def _import_mergekit() -> None:
    # mergekit (through its dependencies) touches numpy.core, deprecated in numpy 2: silence that
    # one warning, not warnings in general.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*numpy\.core.*", category=DeprecationWarning)
        import mergekit.config  # noqa: F401
        import mergekit.merge  # noqa: F401


def merge_configuration(text: str, source: str) -> Any:
    """mergekit's own ``MergeConfiguration`` for a recipe, its errors naming the file."""
    import yaml

    read_yaml(text, source)  # the same limits before mergekit sees anything
    _import_mergekit()
    from mergekit.config import MergeConfiguration
    from pydantic import ValidationError

    try:
        return MergeConfiguration.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        # mergekit's validators raise RuntimeError, which pydantic may wrap; the first error speaks.
        first = exc.errors()[0]
        raise InvalidInputError(f"{source}: mergekit rejects the recipe: {first['msg']}.") from None
    except RuntimeError as exc:
        raise InvalidInputError(f"{source}: mergekit rejects the recipe: {exc}.") from None


def run_merge(
    result: PreflightResult,
    out_dir: str | os.PathLike[str],
    *,
    predictor_version: str,
    options: Mapping[str, Any] | None = None,
    predictor_date: str | None = None,
) -> Path:
    """Run mergekit as ``mergekit-yaml RECIPE OUT_DIR`` would, then add the predictions to its README.

    ``options`` are ``mergekit.options.MergeOptions`` fields (``cuda``, ``allow_crimes``...).
    Returns the output directory.
    """
    config = merge_configuration(result.recipe.text, result.recipe.path)
    from mergekit.merge import run_merge as mergekit_run_merge
    from mergekit.options import MergeOptions

    try:
        merge_options = MergeOptions(**dict(options or {}))
    except Exception as exc:  # pydantic ValidationError: an unknown or ill-typed option
        raise InvalidInputError(f"Invalid mergekit option in {dict(options or {})!r}: {exc}") from None
    merge_options.apply_global_options()
    out = Path(out_dir)
    try:
        mergekit_run_merge(config, str(out), options=merge_options, config_source=result.recipe.text)
    except OSError as exc:  # transformers/huggingface_hub could not get a parent's files
        from hub_lineage.paths import env_offline

        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        why = ("offline (HF_HUB_OFFLINE=1): every parent must be a local directory or already in the "
               "Hugging Face cache" if env_offline() else "check the parents' ids, your access and the network")
        raise HubUnavailableError(f"{result.recipe.path}: mergekit could not load a parent model ({first}); "
                                  f"{why}. Nothing was merged into {str(out)!r}.") from None
    write_card(out / "README.md", result, predictor_version=predictor_version, predictor_date=predictor_date)
    return out


def write_card(readme: Path, result: PreflightResult, *, predictor_version: str,
               predictor_date: str | None = None) -> None:
    """Add the predicted scores to the merged model's README (the "Predicted performance" section and
    ``hub_lineage`` key of ``hub-lineage card``; model-index untouched), keeping mergekit's text."""
    import time

    from hub_lineage.files import write_atomic
    from hub_lineage.predict.modelcard import update_card

    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    name = readme.parent.name
    date = predictor_date or time.strftime("%Y-%m-%d", time.gmtime())  # else: the day it predicted
    write_atomic(readme, update_card(text, result.prediction, model_name=name, predictor_version=predictor_version,
                                     predictor_date=date))


def validate_with_mergekit(recipe: Recipe) -> Any:
    """Validate a parsed recipe with mergekit's own ``MergeConfiguration`` (imports mergekit: slow).

    Returns the ``MergeConfiguration``; mergekit's ``RuntimeError``/pydantic errors become an
    :class:`InvalidInputError` naming the recipe file.
    """
    return merge_configuration(recipe.text, recipe.path)
