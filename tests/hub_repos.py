"""What the loopback Hub hosts (:class:`HostedModel`) and records (:class:`Commit`), and injected trouble."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

FRONT_MATTER = re.compile(r"\A\s*---\s*\n(.*?)\n---\s*(\n|\Z)", re.DOTALL)


def git_oid(body: bytes) -> str:
    """The git blob id of ``body``: the Hub's ETag and tree ``oid`` of a regular file."""
    return hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest()


@dataclass
class HostedModel:
    """One model repository on the loopback Hub."""

    repo_id: str
    files: dict[str, bytes]
    tags: list[str]
    gated: bool | str = False
    private: bool = False
    sha: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    pr_files: dict[int, dict[str, bytes]] = field(default_factory=dict)

    def card_data(self) -> dict[str, Any] | None:
        """The README's YAML front matter, as the Hub exposes it in ``cardData``."""
        readme = self.files.get("README.md")
        if readme is None:
            return None
        match = FRONT_MATTER.match(readme.decode("utf-8", "replace"))
        if not match:
            return None
        try:
            data = yaml.safe_load(match.group(1))
        except yaml.YAMLError:
            return None  # the real Hub drops a card's metadata when its YAML is broken
        return data if isinstance(data, dict) else None

    def info(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "_id": hashlib.sha1(self.repo_id.encode()).hexdigest()[:24],
            "id": self.repo_id,
            "modelId": self.repo_id,
            "author": self.repo_id.split("/")[0] if "/" in self.repo_id else None,
            "sha": self.sha,
            "lastModified": "2025-06-01T00:00:00.000Z",
            "createdAt": "2025-01-01T00:00:00.000Z",
            "private": self.private,
            "disabled": False,
            "gated": self.gated,
            "downloads": 0,
            "likes": 0,
            "library_name": "transformers",
            "tags": list(self.tags),
            "siblings": [{"rfilename": name} for name in sorted(self.files)],
        }
        card = self.card_data()
        if card is not None:
            data["cardData"] = card
        data.update(self.extra)
        return data


@dataclass
class Commit:
    """What one ``create_commit`` call delivered."""

    repo_id: str
    revision: str
    create_pr: bool
    summary: str
    description: str
    files: dict[str, bytes]
    deleted: list[str]
    pr_num: int | None
    authorization: bool


@dataclass
class Failure:
    """An injected failure (``status``) or delay (``status`` in milliseconds) for ``remaining`` requests."""

    status: int
    path_contains: str
    remaining: int
