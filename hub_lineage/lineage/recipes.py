"""A mergekit recipe as a hypothetical lineage node: its parents, its base, a share per parent.

The fast path never imports mergekit (it imports torch: seconds). Recipes are read with
``yaml.safe_load`` under size, depth and alias limits, into a small mirror of
``mergekit.config.MergeConfiguration`` (:mod:`hub_lineage.lineage.recipe_config`; pydantic,
:mod:`hub_lineage.lineage.recipe_schema`, only for input that is not in canonical form) (``models:`` / ``slices:`` / ``modules:``, ``merge_method``,
``base_model``, ``parameters``...), and the method is checked against
:data:`hub_lineage.lineage.merge_methods.METHODS`, a snapshot of mergekit's registry. Tests assert that the
snapshot equals the registry and that our parents equal ``MergeConfiguration.referenced_models()``;
:func:`mergekit_hooks.bridge.validate_with_mergekit` runs mergekit's own validation when it is wanted.

Shares (how much of the merged model each parent is) follow one documented rule per merge method:
see :mod:`hub_lineage.lineage.merge_methods`. ``slices:`` recipes merge each output slice by that rule and
weigh it by its layer count (``layer_range`` end - start); ``modules:`` weigh equally.

Bad input raises :class:`~hub_lineage.errors.InvalidInputError` naming the recipe file: unknown
method ("did you mean"), both or neither of ``models``/``slices``, weights summing to zero, local
paths (map them with ``model_ids={"./dir": "org/name"}``), oversized or hostile YAML.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hub_lineage.errors import DataFormatError, InvalidInputError
from hub_lineage.ids import is_repo_id
from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.lineage.merge_methods import MethodSpec, get_method, unit_shares
from hub_lineage.lineage.recipe_config import ModelRef, RecipeConfig, read_config
from hub_lineage.lineage.recipe_config import units as _units

MAX_RECIPE_BYTES = 256 * 1024
MAX_YAML_EVENTS = 20_000
MAX_YAML_ALIASES = 100
MAX_YAML_DEPTH = 32


# -- the recipe's fields: canonical input without pydantic (recipe_config), the rest through it --

# -- the result ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parent:
    """A model the recipe merges: its lineage id, the recipe's reference, its share."""

    model: str
    reference: str
    weight: float
    is_base: bool = False


@dataclass
class Recipe:
    """A parsed recipe: the hypothetical merged model and its weighted parents."""

    path: str
    name: str
    method: MethodSpec
    config: RecipeConfig
    parents: list[Parent]
    base_model: str | None
    text: str = field(repr=False, default="")

    def shares(self) -> dict[str, float]:
        """Lineage id -> its share of the merged model, summed over the references to it
        (``org/x@rev`` and ``org/x+lora`` are both ``org/x``); zero for a model the method ignores."""
        out: dict[str, float] = {}
        for p in self.parents:
            out[p.model] = out.get(p.model, 0.0) + p.weight
        return out

    def edges(self) -> list[Edge]:
        """The node's ``merge`` edges (parents with a positive share), child = :attr:`name`."""
        return [Edge(self.name, model, Relation.MERGE, share) for model, share in self.shares().items() if share > 0]

    def referenced_models(self) -> list[str]:
        """Every model reference the recipe names, sorted (as ``referenced_models()`` in mergekit)."""
        return sorted(str(r) for r in self.config.referenced_models())


# -- reading -------------------------------------------------------------------------------------


def read_yaml(text: str, source: str = "recipe") -> dict[str, Any]:
    """Parse recipe YAML safely: size, nesting and alias limits, then ``yaml.safe_load``."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_RECIPE_BYTES:
        raise DataFormatError(f"{source}: recipe is larger than {MAX_RECIPE_BYTES // 1024} KiB; refusing to parse it.")
    depth = aliases = events = 0
    try:
        # Events are produced iteratively, so this scan is safe where the composer would recurse
        # or an alias bomb would expand when the mapping is walked.
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            events += 1
            if isinstance(event, yaml.AliasEvent):
                aliases += 1
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            if depth > MAX_YAML_DEPTH or aliases > MAX_YAML_ALIASES or events > MAX_YAML_EVENTS:
                raise DataFormatError(
                    f"{source}: YAML too deep, too large or with too many aliases (limits: depth "
                    f"{MAX_YAML_DEPTH}, {MAX_YAML_EVENTS} nodes, {MAX_YAML_ALIASES} aliases); refusing it."
                )
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataFormatError(f"{source}: not valid YAML ({str(exc).splitlines()[0]}).") from None
    if not isinstance(data, dict):
        raise DataFormatError(f"{source}: a mergekit recipe is a YAML mapping, got {type(data).__name__}.")
    return data


def load_recipe(path: str | os.PathLike[str], *, model_ids: Mapping[str, str] | None = None) -> Recipe:
    """Read a mergekit YAML recipe file into a :class:`Recipe` (no mergekit import).

    ``model_ids`` maps local model paths used in the recipe to the Hub ids they hold.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_RECIPE_BYTES:
            raise DataFormatError(f"{p}: recipe is larger than {MAX_RECIPE_BYTES // 1024} KiB; refusing to parse it.")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInputError(f"Recipe file {str(p)!r} does not exist.") from None
    except (IsADirectoryError, UnicodeDecodeError, PermissionError) as exc:
        raise DataFormatError(f"{p}: cannot read the recipe ({exc.__class__.__name__}).") from None
    return parse_recipe(text, source=str(p), model_ids=model_ids)


def parse_recipe(text: str, *, source: str = "recipe", model_ids: Mapping[str, str] | None = None,
                 keep_local_paths: bool = False) -> Recipe:
    """Parse recipe text (see :func:`load_recipe`); ``source`` names it in messages.

    A reference to a local path that ``model_ids`` does not map raises InvalidInputError, unless
    ``keep_local_paths``: then its path is kept as its lineage id, for a caller that drops such
    parents itself (a published ``mergekit_config.yml`` often names the author's directories).
    """
    data = read_yaml(text, source)
    if "merge_method" in data:
        get_method(data["merge_method"], source=source)
    forms = [k for k in ("models", "slices", "modules") if data.get(k)]
    if len(forms) != 1:
        found = " and ".join(repr(k) for k in forms) if forms else "none of them"
        raise InvalidInputError(
            f"{source}: a recipe needs exactly one of 'models', 'slices' or 'modules' (found {found}); "
            "list the input models under one of them."
        )
    cfg = read_config(data)
    if cfg is None:  # not in canonical form: pydantic coerces or rejects it, as it always did
        from hub_lineage.lineage.recipe_schema import validate

        cfg = validate(data, source)
    method = get_method(cfg.merge_method, source=source)
    ids = _resolve_ids(cfg, source, model_ids or {}, keep_local_paths)
    shares, base_ref = _shares(cfg, method, source)
    base = str(base_ref) if base_ref else None
    parents = [Parent(ids[ref], ref, w, ref == base) for ref, w in shares.items()]
    return Recipe(
        path=source,
        name=f"mergekit-recipe:{source}",
        method=method,
        config=cfg,
        parents=parents,
        base_model=ids[base] if base else None,
        text=text,
    )


def is_local_path(path: str) -> bool:
    """Whether a model path names a directory rather than a Hub repo id (mergekit's own test)."""
    return os.path.exists(path) or not is_repo_id(path)


def _resolve_ids(cfg: RecipeConfig, source: str, model_ids: Mapping[str, str],
                 keep_local_paths: bool = False) -> dict[str, str]:
    """Map each reference to its lineage id (the Hub repo id); local paths need ``model_ids``."""
    out: dict[str, str] = {}
    local: list[str] = []
    for ref in cfg.referenced_models():
        mapped = model_ids.get(ref.path) or model_ids.get(os.path.normpath(os.path.abspath(ref.path)))
        if mapped:
            out[str(ref)] = mapped
        elif not keep_local_paths and is_local_path(ref.path):
            local.append(ref.path)
        else:
            out[str(ref)] = ref.path
    if local:
        names = ", ".join(repr(p) for p in local)
        raise InvalidInputError(
            f"{source}: {names} {'is a local path, not a Hub repo id' if len(local) == 1 else 'are local paths, not Hub repo ids'}"
            "; preflight predicts from Hub lineage. Write the Hub id in the recipe, or say which Hub "
            f"model each directory holds: --model-id {local[0]}=ORG/NAME."
        )
    return out


# -- shares --------------------------------------------------------------------------------------


def _shares(cfg: RecipeConfig, method: MethodSpec, source: str) -> tuple[dict[str, float], ModelRef | None]:
    total: dict[str, float] = {str(r): 0.0 for r in cfg.referenced_models()}
    units = _units(cfg)
    mass = sum(u[0] for u in units)
    if mass <= 0:
        raise InvalidInputError(f"{source}: every slice has an empty layer_range; nothing would be merged.")
    base = cfg.base_model
    for weight, inputs, params in units:
        if weight <= 0:
            continue
        for ref, share in unit_shares(method, [(str(x), p) for x, p in inputs], str(base) if base else None,
                                      params, source).items():
            total[ref] = total.get(ref, 0.0) + share * weight / mass
    return total, base
