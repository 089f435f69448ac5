"""Hub repo ids: the one check every part of hub-lineage uses.

The rules are huggingface_hub's own ``validate_repo_id`` (``[namespace/]name``, at most 96 ASCII
characters of ``[A-Za-z0-9-_.]`` each, no ``--`` or ``..``, no leading or trailing ``-``/``.``,
no ``.git`` ending), written out here with its messages: importing huggingface_hub's validators
pulls in its HTTP client (~60 ms), which ``hub-lineage predict`` must not pay.
``tests/hub_lineage/test_ids.py`` checks that both accept and refuse the same ids. Legacy
canonical ids without a namespace (``gpt2``) are valid Hub ids; callers that need ``org/name``
say so with ``namespace=True``.
"""

from __future__ import annotations

import re

from hub_lineage.errors import InvalidRepoIdError

_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


#: huggingface_hub's REPO_ID_REGEX (``huggingface_hub.utils._validators``), ASCII only as there.
_REPO_ID = re.compile(r"(\b[\w\-.]{1,96}\b/)?\b[\w\-.]{1,96}\b", re.ASCII)


def _rule_broken(repo_id: str) -> str | None:
    """huggingface_hub's message for the first rule ``repo_id`` breaks, or None when it is valid.

    Control characters in the id are shown escaped, so the message stays one line."""
    shown = repo_id if repo_id.isprintable() else repr(repo_id)[1:-1]
    message = _hub_message(repo_id)
    return None if message is None else message.replace(f"'{repo_id}'", f"'{shown}'")


def _hub_message(repo_id: str) -> str | None:
    if repo_id.count("/") > 1:
        return f"Repo id must be in the form 'repo_name' or 'namespace/repo_name': '{repo_id}'."
    if not _REPO_ID.fullmatch(repo_id):
        return ("Repo id must use alphanumeric chars, '-', '_' or '.'. The name cannot start or end with "
                f"'-' or '.' and the maximum length is 96: '{repo_id}'.")
    if "--" in repo_id or ".." in repo_id:
        return f"Cannot have -- or .. in repo_id: '{repo_id}'."
    if repo_id.endswith(".git"):
        return f"Repo_id cannot end by '.git': '{repo_id}'."
    return None


def check_repo_id(repo_id: object, *, namespace: bool = False) -> str:
    """Return ``repo_id`` when it is a valid Hub repo id; raise :class:`InvalidRepoIdError` naming the rule."""
    if not isinstance(repo_id, str) or not repo_id.strip():
        raise InvalidRepoIdError(f"Invalid repo id {repo_id!r}: expected a non-empty 'org/name' string.")
    problem = _rule_broken(repo_id)
    if problem is not None:
        raise InvalidRepoIdError(f"Invalid repo id {repo_id!r}: {problem}")
    if namespace and repo_id.count("/") != 1:
        raise InvalidRepoIdError(f"Invalid repo id {repo_id!r}: expected 'org/name' (a namespace and a name).")
    return repo_id


def is_repo_id(text: object, *, namespace: bool = False) -> bool:
    """Whether ``text`` passes :func:`check_repo_id`."""
    try:
        check_repo_id(text, namespace=namespace)
    except InvalidRepoIdError:
        return False
    return True


def looks_like_local_path(value: str) -> bool:
    """Whether a model reference is a local path (``./ckpt``, ``/models/x``, ``C:\\x``, ``~/m``, ``a/b/c``)."""
    return (value.startswith(("/", "./", "../", "~", "\\")) or value in (".", "..")
            or bool(_WINDOWS_DRIVE.match(value)) or value.count("/") > 1 or "\\" in value)
