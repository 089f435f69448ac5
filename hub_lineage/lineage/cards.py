"""What a repository says about its parents: model cards, Hub tags, adapter and mergekit configs.

The Hub client downloads; the functions here parse what they are given, except
:func:`edges_from_card`, which also reads a local card and the config files beside it. Every
function returns :class:`~hub_lineage.lineage.edges.Edge` objects with ``child`` = the repository
being described.

Sources, in order of precedence (the first that names any parent wins, later ones only add
detail such as a merge's mixing weights):

1. the card's YAML front matter: ``base_model`` (a string or a list) and ``base_model_relation``;
2. the Hub's tags: ``base_model:finetune:X``, ``base_model:merge:X``, ``base_model:quantized:X``,
   ``base_model:adapter:X`` and bare ``base_model:X``;
3. config files: ``mergekit_config.yml`` (every model the recipe merges) and
   ``adapter_config.json`` (``base_model_name_or_path``).

A merge's edges weigh each parent by its share of the merged model, read from
``mergekit_config.yml`` by :func:`hub_lineage.lineage.recipes.parse_recipe` with the same rules as
``hub-lineage predict --recipe`` and ``mergekit-preflight``.

When no relation is stated it is inferred as the Hub does: several parents -> merge; an
``adapter_config.json`` -> adapter; a quantization config or GGUF/GPTQ/AWQ/EXL2 -> quantized;
otherwise finetune. Parents that are local paths or invalid repo ids are dropped with a
:class:`~hub_lineage.errors.LineageWarning` naming them.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hub_lineage.errors import DataFormatError, InvalidInputError, InvalidRepoIdError, LineageWarning
from hub_lineage.ids import check_repo_id, looks_like_local_path
from hub_lineage.lineage.edges import Edge, Relation

ADAPTER_CONFIG = "adapter_config.json"
MERGEKIT_CONFIG = "mergekit_config.yml"
README = "README.md"
#: Files whose content :func:`edges_from_repo` reads when a repository has them.
LINEAGE_FILES = (README, ADAPTER_CONFIG, MERGEKIT_CONFIG)

_QUANT_WORDS = re.compile(r"(?<![a-z0-9])(gguf|gptq|awq|exl2|bnb|4bit|8bit|int4|int8|nf4|hqq|aqlm)(?![a-z0-9])",
                          re.IGNORECASE)
_QUANT_FILES = ("quantize_config.json", "quant_config.json", "quantization_config.json")


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

    text = text.removeprefix("\ufeff")  # a byte-order mark (Windows editors) hides the front matter
    if not text.lstrip().startswith("---"):
        return ModelCardData()  # no front matter; skip huggingface_hub's warning about it
    if not re.search(r"^---[ \t]*$", text.lstrip().split("\n", 1)[-1] if "\n" in text.lstrip() else "", re.M):
        raise DataFormatError(f"The YAML front matter of {source} is never closed: add a line '---' after it.")
    try:
        return ModelCard(text, ignore_metadata_errors=True).data
    except yaml.YAMLError as exc:
        problem = " ".join(str(exc).split())
        raise DataFormatError(f"Malformed YAML front matter in {source}: {problem}") from None
    except ValueError as exc:
        raise DataFormatError(f"Invalid front matter in {source}: {exc} (expected 'key: value' lines).") from None
    except (TypeError, AttributeError):
        # a known field of the wrong type (`tags: false`): huggingface_hub's ModelCardData raises
        # TypeError on it; the front matter is still valid YAML, so read it as a plain mapping
        return _front_matter(text, source)


def _front_matter(text: str, source: str) -> dict[str, Any]:
    import yaml

    body = text.lstrip().split("\n", 1)[1]
    block = re.split(r"^---[ \t]*$", body, maxsplit=1, flags=re.M)[0]
    try:
        data = yaml.safe_load(block)
    except yaml.YAMLError as exc:
        raise DataFormatError(f"Malformed YAML front matter in {source}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise DataFormatError(f"Invalid front matter in {source}: expected 'key: value' lines.")
    return data


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


def merge_shares(text: str, source: str = MERGEKIT_CONFIG) -> dict[str, float]:
    """Each model a published mergekit recipe merges -> its share of the merged model.

    The recipe reader and share rules of ``hub-lineage predict --recipe``
    (:meth:`hub_lineage.lineage.recipes.Recipe.shares`); local paths are kept as they are written,
    for the caller to drop. Raises DataFormatError naming ``source`` for any recipe problem
    (malformed YAML, unknown merge method, missing weights...).
    """
    from hub_lineage.lineage.recipes import parse_recipe  # ~0.3 s (pydantic): only for repos with a recipe

    try:
        return parse_recipe(text, source=source, keep_local_paths=True).shares()
    except DataFormatError:
        raise
    except InvalidInputError as exc:  # the recipe rules' own errors: here, a file that breaks them
        raise DataFormatError(str(exc)) from None


# -- combining ----------------------------------------------------------------------------------


def edges_from_repo(
    repo_id: str,
    card_text: str | None = None,
    tags: Iterable[str] = (),
    files: Mapping[str, str] | None = None,
    siblings: Iterable[str] = (),
    *,
    card_data: Mapping[str, Any] | None = None,
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
    shares: dict[str, float] = {}
    if MERGEKIT_CONFIG in files:
        shares = merge_shares(files[MERGEKIT_CONFIG], f"{repo_id}/{MERGEKIT_CONFIG}")
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
        if not parents and shares:  # the recipe's parents are those it gives a share
            merged = [model for model, share in shares.items() if share > 0]
            parents = _clean_parents(merged, repo_id, f"{repo_id}/{MERGEKIT_CONFIG}")
            relations = {p: Relation.MERGE for p in parents}
        elif not parents and adapter_parent:
            parents = _clean_parents([adapter_parent], repo_id, f"{repo_id}/{ADAPTER_CONFIG}")
            relations = {p: Relation.ADAPTER for p in parents}
    config = _json_or_none(files.get("config.json"))
    inferred = _infer_relation(repo_id, len(parents), names, tags, config)
    edges = []
    for parent in parents:
        relation = relations.get(parent) or stated or inferred
        weight = shares.get(parent) if relation is Relation.MERGE else None
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
                    files: Mapping[str, str] | None = None) -> list[Edge]:
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
    tags = _card_dict(parse_card(text, str(path_or_text) if source_dir else README)).get("tags")
    tags = tags if isinstance(tags, list) else []  # `tags: false` or `tags: 5` names no tag
    return edges_from_repo(model_id, text, tags=[t for t in tags if isinstance(t, str)], files=files)


def no_parents_reason(text: str, source: str, other: str = "--parent") -> str:
    """Why a card gave no parents, for the error that says so (no front matter, or no base_model);
    ``other`` is the option that names the parents instead (``card`` has ``--model``, not ``--parent``)."""
    if not text.removeprefix("\ufeff").lstrip().startswith("---"):
        return (f"{source} has no YAML front matter ('---' lines at the top) stating its base_model: "
                f"add 'base_model: ORG/NAME' there, or {'name the parents with ' if other == '--parent' else 'pass '}"
                f"{other}")
    return f"{source} states no base_model in its front matter: add 'base_model: ORG/NAME', or use {other}"


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
