"""What a repository says about its parents: model cards, Hub tags, adapter and mergekit configs.

Pure parsing, no I/O (the Hub client downloads; this module reads). Every function returns
:class:`~hub_lineage.lineage.graph.Edge` objects with ``child`` = the repository being described.

Sources, in order of precedence (the first that names any parent wins, later ones only add
detail such as a merge's mixing weights):

1. the card's YAML front matter: ``base_model`` (a string or a list) and ``base_model_relation``;
2. the Hub's tags: ``base_model:finetune:X``, ``base_model:merge:X``, ``base_model:quantized:X``,
   ``base_model:adapter:X`` and bare ``base_model:X``;
3. config files: ``mergekit_config.yml`` (every referenced model, with its ``weight``) and
   ``adapter_config.json`` (``base_model_name_or_path``).

When no relation is stated it is inferred as the Hub does: several parents -> merge; an
``adapter_config.json`` -> adapter; a quantization config or GGUF/GPTQ/AWQ/EXL2 -> quantized;
otherwise finetune. Parents that are local paths or invalid repo ids are dropped with a
:class:`~hub_lineage.errors.LineageWarning` naming them.
"""

from __future__ import annotations

import json
import re
import sys
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hub_lineage.errors import DataFormatError, InvalidRepoIdError, LineageWarning
from hub_lineage.lineage.graph import Edge, Relation

ADAPTER_CONFIG = "adapter_config.json"
MERGEKIT_CONFIG = "mergekit_config.yml"
README = "README.md"
#: Files whose content :func:`edges_from_repo` reads when a repository has them.
LINEAGE_FILES = (README, ADAPTER_CONFIG, MERGEKIT_CONFIG)

_QUANT_WORDS = re.compile(r"(?<![a-z0-9])(gguf|gptq|awq|exl2|bnb|4bit|8bit|int4|int8|nf4|hqq|aqlm)(?![a-z0-9])",
                          re.IGNORECASE)
_QUANT_FILES = ("quantize_config.json", "quant_config.json", "quantization_config.json")


def check_repo_id(repo_id: str) -> str:
    """Return ``repo_id`` if it is a valid Hub repo id; raise InvalidRepoIdError naming the rule.

    Uses huggingface_hub's own ``validate_repo_id`` (``org/name``, no ``--`` or ``..``, at most
    96 characters of ``[A-Za-z0-9-_.]``).
    """
    from huggingface_hub.utils import validate_repo_id
    from huggingface_hub.errors import HFValidationError

    if not isinstance(repo_id, str) or not repo_id.strip():
        raise InvalidRepoIdError(f"Invalid repo id {repo_id!r}: expected a non-empty 'org/name' string.")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise InvalidRepoIdError(f"Invalid repo id {repo_id!r}: {exc}") from None
    return repo_id


def looks_like_local_path(value: str) -> bool:
    """Whether a parent reference is a local path (``./ckpt``, ``/models/x``, ``C:\\x``, ``~/m``)."""
    return (value.startswith(("/", "./", "../", "~", "\\")) or value in (".", "..")
            or bool(re.match(r"^[A-Za-z]:[\\/]", value)) or value.count("/") > 1 or "\\" in value)


def _clean_parents(values: Iterable[str], child: str, source: str) -> list[str]:
    """Valid, de-duplicated parent ids; local paths and invalid ids are dropped with a warning."""
    out: list[str] = []
    for raw in values:
        value = raw.strip()
        if value.startswith("hf://"):
            value = value.removeprefix("hf://")
        value = value.split("@", 1)[0] if "@" in value and not looks_like_local_path(value) else value
        if not value:
            continue
        if looks_like_local_path(value):
            warnings.warn(f"Ignored parent {raw!r} of {child!r} in {source}: it is a local path, not a "
                          "Hub repo id, so its lineage cannot be followed.", LineageWarning, stacklevel=3)
            continue
        try:
            check_repo_id(value)
        except InvalidRepoIdError as exc:
            warnings.warn(f"Ignored parent of {child!r} in {source}: {exc}", LineageWarning, stacklevel=3)
            continue
        if value not in out:
            out.append(value)
    return out


# -- model cards --------------------------------------------------------------------------------


def parse_card(text: str, source: str = README) -> Any:
    """The card's metadata as huggingface_hub's ``ModelCardData`` (empty when it has none).

    Raises DataFormatError naming ``source`` when the YAML front matter is malformed or not a
    mapping.
    """
    import yaml
    from huggingface_hub import ModelCard, ModelCardData

    if not text.lstrip().startswith("---"):
        return ModelCardData()  # no front matter; skip huggingface_hub's warning about it
    try:
        return ModelCard(text, ignore_metadata_errors=True).data
    except yaml.YAMLError as exc:
        problem = " ".join(str(exc).split())
        raise DataFormatError(f"Malformed YAML front matter in {source}: {problem}") from None
    except ValueError as exc:
        raise DataFormatError(f"Invalid front matter in {source}: {exc} (expected 'key: value' lines).") from None


def _card_dict(card: Any) -> dict[str, Any]:
    if card is None:
        return {}
    if isinstance(card, Mapping):
        return dict(card)
    return card.to_dict()


def base_models(card: Any, source: str = README) -> list[str]:
    """``base_model`` of a card (ModelCardData or mapping) as a list; [] when absent.

    Raises DataFormatError when it is neither a string nor a list of strings.
    """
    value = _card_dict(card).get("base_model")
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise DataFormatError(
        f"base_model in {source} is {value!r} ({type(value).__name__}): it must be a repo id string "
        "or a list of repo id strings.")


def card_relation(card: Any, source: str = README) -> Relation | None:
    """The card's explicit ``base_model_relation``, or None when it states none."""
    value = _card_dict(card).get("base_model_relation")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise DataFormatError(f"base_model_relation in {source} is {value!r}: it must be one of "
                              "finetune, merge, adapter, quantized.")
    try:
        return Relation.parse(value)
    except ValueError as exc:
        raise DataFormatError(f"base_model_relation in {source}: {exc}") from None


# -- tags ---------------------------------------------------------------------------------------


def parents_from_tags(tags: Iterable[str]) -> dict[str, Relation | None]:
    """Parent id -> relation from the Hub's ``base_model:[relation:]X`` tags (None: bare tag only)."""
    out: dict[str, Relation | None] = {}
    for tag in tags:
        if not isinstance(tag, str) or not tag.startswith("base_model:"):
            continue
        rest = tag.removeprefix("base_model:")
        head, sep, tail = rest.partition(":")
        relation: Relation | None = None
        if sep:
            try:
                relation = Relation.parse(head)
                rest = tail
            except ValueError:
                pass  # a colon that is not a relation prefix; keep the whole rest as the id
        if relation is not None or rest not in out:
            out[rest] = relation if relation is not None else out.get(rest)
    return out


def is_quantized(repo_id: str = "", tags: Iterable[str] = (), siblings: Iterable[str] = (),
                 config: Mapping[str, Any] | None = None) -> bool:
    """The Hub's quantization signals: a quantization config, GGUF/GPTQ/AWQ/EXL2 tags, names or files."""
    if config and "quantization_config" in config:
        return True
    name = repo_id.split("/")[-1]
    if _QUANT_WORDS.search(name.replace("_", "-")):
        return True
    for tag in tags:
        if not str(tag).startswith("base_model:") and _QUANT_WORDS.fullmatch(str(tag)):
            return True
    for file in siblings:
        lower = str(file).lower()
        if lower.endswith((".gguf", ".ggml", ".exl2")) or lower.rsplit("/", 1)[-1] in _QUANT_FILES:
            return True
    return False


# -- config files -------------------------------------------------------------------------------


def adapter_base(text: str, source: str = ADAPTER_CONFIG) -> str | None:
    """``base_model_name_or_path`` of a PEFT ``adapter_config.json`` (None when absent)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{source} is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise DataFormatError(f"{source} must hold a JSON object, not {type(data).__name__}.")
    value = data.get("base_model_name_or_path")
    if value is not None and not isinstance(value, str):
        raise DataFormatError(f"base_model_name_or_path in {source} is {value!r}: it must be a string.")
    return value or None


def merge_parents(
    text: str, source: str = MERGEKIT_CONFIG, *, use_mergekit: bool | None = None
) -> tuple[dict[str, float | None], str | None]:
    """Every model a mergekit recipe references, with its scalar ``weight``, and the base model.

    Returns ``({model: weight or None}, base_model or None)``.

    ``use_mergekit=True`` reads the recipe through mergekit's own ``MergeConfiguration`` (full
    validation; falls back to plain parsing when the ``mergekit`` extra is not installed).
    ``False`` reads ``models`` / ``base_model`` / ``slices`` from a ``yaml.safe_load``. ``None``
    (the default) uses mergekit only when it is already imported: importing it pulls in torch
    (seconds), which the fast paths (``predict``, ``mergekit-preflight``) must not pay. Both
    readings give the same models and weights for a valid recipe.
    """
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataFormatError(f"Malformed YAML in {source}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise DataFormatError(f"{source} must be a YAML mapping with 'models' or 'slices'.")
    if use_mergekit is None:
        use_mergekit = "mergekit.config" in sys.modules
    if not use_mergekit:
        return _merge_parents_plain(data, source)
    try:
        from mergekit.config import MergeConfiguration  # heavy (torch): only when asked for
    except ImportError:
        return _merge_parents_plain(data, source)
    try:
        config = MergeConfiguration.model_validate(data)
    except Exception as exc:  # pydantic errors and mergekit's RuntimeErrors from validators
        raise DataFormatError(f"{source} is not a valid mergekit recipe: {' '.join(str(exc).split())[:400]}") from None
    weights: dict[str, float | None] = {}
    base = str(config.base_model.model.path) if config.base_model else None
    inputs = list(config.models or [])
    for out_slice in config.slices or []:
        inputs.extend(out_slice.sources)
    for item in inputs:
        _add_weight(weights, str(item.model.model.path), (item.parameters or {}).get("weight"))
    for ref in config.referenced_models():
        weights.setdefault(str(ref.model.path), None)
    return weights, base


def _merge_parents_plain(data: dict[str, Any], source: str) -> tuple[dict[str, float | None], str | None]:
    weights: dict[str, float | None] = {}
    base = data.get("base_model")
    inputs = list(data.get("models") or [])
    for out_slice in data.get("slices") or []:
        inputs.extend((out_slice or {}).get("sources") or [])
    if not inputs and not base:
        raise DataFormatError(f"{source} names no models: a mergekit recipe needs 'models' or 'slices'.")
    for item in inputs:
        if isinstance(item, str):
            item = {"model": item}
        if not isinstance(item, dict) or not isinstance(item.get("model"), str):
            raise DataFormatError(f"{source}: each model entry needs a 'model' string, got {item!r}.")
        _add_weight(weights, item["model"].split("+", 1)[0], (item.get("parameters") or {}).get("weight"))
    if isinstance(base, str):
        weights.setdefault(base.split("+", 1)[0], None)
    return weights, base.split("+", 1)[0] if isinstance(base, str) else None


def _add_weight(weights: dict[str, float | None], model: str, value: Any) -> None:
    # Per-layer gradients and conditional weights have no single mixing weight: keep None.
    weight = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if weights.get(model) is None:
        weights[model] = weight


# -- combining ----------------------------------------------------------------------------------


def edges_from_repo(
    repo_id: str,
    card_text: str | None = None,
    tags: Iterable[str] = (),
    files: Mapping[str, str] | None = None,
    siblings: Iterable[str] = (),
    *,
    card_data: Mapping[str, Any] | None = None,
    use_mergekit: bool | None = None,
) -> list[Edge]:
    """Direct parents of ``repo_id`` from everything known about it, as Edges (child = repo_id).

    Parameters
    ----------
    repo_id : the repository described (validated).
    card_text : its README.md (front matter + body), if known.
    tags : its Hub tags.
    files : name -> text of config files (``adapter_config.json``, ``mergekit_config.yml``,
        ``config.json``...).
    siblings : the names of all files in the repository (for adapter/quantization inference).
    card_data : the Hub's ``cardData`` (used when ``card_text`` is None).
    use_mergekit : how to read ``mergekit_config.yml`` (see :func:`merge_parents`).

    Precedence: explicit card metadata > tags > config files. Raises DataFormatError for a
    malformed card or config; invalid or local parents are dropped with a LineageWarning.
    """
    check_repo_id(repo_id)
    files = dict(files or {})
    tags = list(tags)
    names = set(siblings) | set(files)
    if card_text is not None:
        card = _card_dict(parse_card(card_text, f"{repo_id}/{README}"))
    else:
        card = dict(card_data or {})
    source = f"{repo_id}/{README}"
    merge_weights: dict[str, float | None] = {}
    if MERGEKIT_CONFIG in files:
        merge_weights, _ = merge_parents(files[MERGEKIT_CONFIG], f"{repo_id}/{MERGEKIT_CONFIG}",
                                                  use_mergekit=use_mergekit)
    adapter_parent = adapter_base(files[ADAPTER_CONFIG], f"{repo_id}/{ADAPTER_CONFIG}") if ADAPTER_CONFIG in files else None
    tag_parents = parents_from_tags(tags)

    stated = card_relation(card, source)
    card_parents = _clean_parents(base_models(card, source), repo_id, source)
    if card_parents:
        parents = card_parents
        relations = {p: stated or tag_parents.get(p) for p in parents}
    else:
        parents = _clean_parents(tag_parents, repo_id, f"the tags of {repo_id}")
        relations = {p: tag_parents[p] for p in parents}
        stated = None
        if not parents and merge_weights:
            parents = _clean_parents(merge_weights, repo_id, f"{repo_id}/{MERGEKIT_CONFIG}")
            relations = {p: Relation.MERGE for p in parents}
        elif not parents and adapter_parent:
            parents = _clean_parents([adapter_parent], repo_id, f"{repo_id}/{ADAPTER_CONFIG}")
            relations = {p: Relation.ADAPTER for p in parents}
    config = _json_or_none(files.get("config.json"))
    inferred = _infer_relation(repo_id, len(parents), names, tags, config)
    edges = []
    for parent in parents:
        relation = relations.get(parent) or stated or inferred
        weight = merge_weights.get(parent) if relation is Relation.MERGE else None
        edges.append(Edge(repo_id, parent, relation, weight))
    return edges


def _infer_relation(repo_id: str, n_parents: int, names: set[str], tags: list[str],
                    config: Mapping[str, Any] | None) -> Relation:
    """The relation the Hub infers when none is stated."""
    if n_parents > 1:
        return Relation.MERGE
    if ADAPTER_CONFIG in names:
        return Relation.ADAPTER
    if is_quantized(repo_id, tags, names, config):
        return Relation.QUANTIZED
    if MERGEKIT_CONFIG in names or "merge" in {str(t).lower() for t in tags}:
        return Relation.MERGE
    return Relation.FINETUNE


def _json_or_none(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def edges_from_card(path_or_text: str | Path, model_id: str, *,
                    files: Mapping[str, str] | None = None,
                    use_mergekit: bool | None = None) -> list[Edge]:
    """Direct parents stated in a model card (a README.md path or its text) for ``model_id``.

    This is what ``hub-lineage predict --card README.md`` uses. Config files lying next to a card
    file (``adapter_config.json``, ``mergekit_config.yml``, ``config.json``) are read too, unless
    ``files`` is given. Raises DataFormatError for a malformed card and InvalidRepoIdError for an
    invalid ``model_id``.
    """
    text, source_dir = _read_card(path_or_text)
    if files is None and source_dir is not None:
        files = {}
        for name in (ADAPTER_CONFIG, MERGEKIT_CONFIG, "config.json"):
            sibling = source_dir / name
            if sibling.is_file():
                files[name] = sibling.read_text(encoding="utf-8")
    tags = _card_dict(parse_card(text, str(path_or_text) if source_dir else README)).get("tags") or []
    return edges_from_repo(model_id, text, tags=[t for t in tags if isinstance(t, str)], files=files,
                           use_mergekit=use_mergekit)


def _read_card(path_or_text: str | Path) -> tuple[str, Path | None]:
    """(card text, its directory) for a path; (text, None) for card text given inline."""
    if isinstance(path_or_text, Path) or ("\n" not in str(path_or_text) and not str(path_or_text).startswith("---")):
        path = Path(path_or_text)
        if not path.is_file():
            raise DataFormatError(f"Model card {str(path)!r} does not exist (give a README.md path or its text).")
        try:
            return path.read_text(encoding="utf-8"), path.parent
        except UnicodeDecodeError as exc:
            raise DataFormatError(f"Model card {str(path)!r} is not UTF-8 text: {exc}.") from None
    return str(path_or_text), None
