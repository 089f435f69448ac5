"""A model card's YAML front matter, located and read without touching its bytes.

Shared by the body section (:mod:`hub_lineage.predict.card_section`) and the opt-in model-index
entries (:mod:`hub_lineage.predict.modelcard`): positions come from PyYAML's composer, values
from its safe loader.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from hub_lineage.errors import DataFormatError

#: The front-matter pattern huggingface_hub itself uses (``huggingface_hub.repocard``).
YAML_BLOCK = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")


def load_front_matter(front: str) -> dict[str, Any]:
    """The front matter as a mapping; :class:`DataFormatError` when it is not valid YAML or no mapping."""
    try:
        data = yaml.safe_load(front) if front.strip() else {}
    except yaml.YAMLError as exc:
        raise DataFormatError(f"The model card's YAML front matter is malformed: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DataFormatError(
            f"The model card's YAML front matter must be a mapping of keys, not a {type(data).__name__}.")
    index = data.get("model-index")
    if index is not None and not isinstance(index, list):
        raise DataFormatError("The model card's 'model-index' must be a list of {name, results} entries.")
    return data


def content_end(node: yaml.Node) -> yaml.Mark:
    """Where the last real content of a block node ends (its own end_mark runs past comments)."""
    while isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    return node.end_mark


def line_after(front: str, mark: yaml.Mark) -> int:
    """Index of the start of the line after ``mark`` (or ``mark`` itself at a line start)."""
    if mark.column == 0:
        return mark.index
    nl = front.find("\n", mark.index)
    return len(front) if nl < 0 else nl + 1
