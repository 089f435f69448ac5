"""Hub repo ids: the one check every part of hub-lineage uses.

The rule is huggingface_hub's own ``validate_repo_id`` (``[namespace/]name``, at most 96 characters
of ``[A-Za-z0-9-_.]``, no ``--`` or ``..``, no leading or trailing ``-``/``.``). Legacy canonical
ids without a namespace (``gpt2``) are valid Hub ids; callers that need ``org/name`` say so with
``namespace=True``.
"""

from __future__ import annotations

import re

from hub_lineage.errors import InvalidRepoIdError

_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def check_repo_id(repo_id: object, *, namespace: bool = False) -> str:
    """Return ``repo_id`` when it is a valid Hub repo id; raise :class:`InvalidRepoIdError` naming the rule."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if not isinstance(repo_id, str) or not repo_id.strip():
        raise InvalidRepoIdError(f"Invalid repo id {repo_id!r}: expected a non-empty 'org/name' string.")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise InvalidRepoIdError(f"Invalid repo id {repo_id!r}: {exc}") from None
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
