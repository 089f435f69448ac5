"""Hub requests with retries, and the one translation of Hub failures into hub-lineage's errors.

Every request hub-lineage sends to the Hugging Face Hub (lineage reads in
:class:`~hub_lineage.lineage.hub.HubClient`, leaderboard details and contents downloads, model
card pushes) goes through :func:`hub_call`: 429, 5xx, timeouts and connection errors are retried
with exponential backoff, and what still fails becomes one of

- :class:`~hub_lineage.errors.RepoNotFoundError` (404, or 401 on a repo that may be private;
  :class:`EntryNotFoundError` when the repo exists but the file does not),
- :class:`~hub_lineage.errors.GatedRepoError` (gated or private: 401/403; a refused token on a write),
- :class:`~hub_lineage.errors.HubUnavailableError` (unreachable, offline mode, other HTTP errors),

with a message that names the repository, what was asked for and what to do. Exceptions that are
not Hub failures propagate unchanged. The token is never put in a message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from hub_lineage.errors import GatedRepoError, HubLineageError, HubUnavailableError, RepoNotFoundError

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: HTTP statuses worth retrying (rate limits and server trouble).
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
#: Where gated repositories are accepted (the public site, whatever endpoint answered).
HUB_PAGE = "https://huggingface.co"


class EntryNotFoundError(RepoNotFoundError):
    """The repository exists but has no such file."""


@dataclass(frozen=True)
class Retry:
    """How often and how patiently a failed request is retried.

    ``max_retries`` retries follow the first attempt; the first waits ``backoff_s`` and each
    next one twice as long, never more than ``max_backoff_s`` (a ``Retry-After`` header is
    honoured up to that cap too).
    """

    max_retries: int = 3
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0


#: The policy of every request unless its caller says otherwise.
DEFAULT_RETRY = Retry()
#: For requests that must not be repeated blindly (a commit could land twice).
NO_RETRY = Retry(max_retries=0)


class HubRequestFailed(Exception):
    """A Hub request failed for a known reason (``kind`` as in :func:`classify`) after retries."""

    def __init__(self, kind: str, status: int | None, attempts: int) -> None:
        super().__init__(kind, status)
        self.kind, self.status, self.attempts = kind, status, attempts


def hub_call(
    request: Callable[[], T],
    *,
    repo_id: str,
    what: str,
    endpoint: str | None = None,
    repo_type: Literal["model", "dataset"] = "model",
    retry: Retry = DEFAULT_RETRY,
    write: bool = False,
    hint: str = "",
    retried_inside: bool = False,
) -> T:
    """Run one huggingface_hub ``request`` with retries; raise hub-lineage's error if it fails.

    Parameters
    ----------
    request : the call, e.g. ``lambda: api.model_info(repo_id)``.
    repo_id, what : the repository and what is fetched from it (``"model info"``, a file
        name), for the messages.
    endpoint : the Hub's URL, named in messages (default: "the Hub").
    repo_type : ``"model"`` or ``"dataset"`` (the page to accept a gated repo's conditions on).
    retry : the retry policy; writes should pass :data:`NO_RETRY`.
    write : the request pushes ``what`` to the repo: a 401/403 then means the token lacks
        write access rather than a gated repository.
    hint : a sentence added to "not found" messages (e.g. how such repos are named).
    retried_inside : ``request`` retries by itself (``hf_hub_download`` does), so the message does
        not count this layer's attempts.
    """
    where = f"the Hub at {endpoint}" if endpoint else "the Hub"
    try:
        return call_with_retries(request, retry, label=f"{what} of {repo_id} from {where}")
    except HubRequestFailed as failed:
        if retried_inside:
            failed.attempts = -1
        raise hub_error(failed, repo_id=repo_id, what=what, where=where, repo_type=repo_type,
                        write=write, hint=hint, page_root=(endpoint or HUB_PAGE).rstrip("/")) from None


def hub_error(failed: HubRequestFailed, *, repo_id: str, what: str, where: str = "the Hub",
              repo_type: str = "model", write: bool = False, hint: str = "",
              page_root: str = HUB_PAGE) -> HubLineageError:
    """The hub-lineage error for a failed request (see :func:`hub_call` for the parameters)."""
    kind, status = failed.kind, failed.status
    noun = "dataset" if repo_type == "dataset" else "repository"
    hint = f": {hint}" if hint else ""
    if write:
        if kind in ("not_found", "entry"):
            return RepoNotFoundError(f"Cannot push {what} to {repo_id!r}: {where} has no such {repo_type} "
                                     f"repository{hint}.")
        if kind == "gated":
            return GatedRepoError(f"Cannot push {what} to {repo_id!r}: the token was refused (HTTP {status}); "
                                  "it needs write access to this repository.")
    elif kind == "entry":
        return EntryNotFoundError(f"{repo_id!r} has no file {what!r} on {where}.")
    elif kind == "not_found":
        private = " (or it is private: log in with `hf auth login` or set HF_TOKEN)" if status == 401 else ""
        return RepoNotFoundError(f"{noun.capitalize()} {repo_id!r} was not found on {where}{private}{hint}.")
    elif kind == "gated":
        # the page on the Hub that was asked (a custom HF_ENDPOINT's, not huggingface.co's)
        page = f"{page_root}/datasets/{repo_id}" if repo_type == "dataset" else f"{page_root}/{repo_id}"
        return GatedRepoError(
            f"Cannot read {what} of {repo_id!r} (HTTP {status}): the {noun} is gated or private; accept its "
            f"conditions on {page} and log in (`hf auth login` or HF_TOKEN) with an account that has access.")
    action = f"push {what} to {repo_id!r}" if write else f"fetch {what} of {repo_id!r}"
    if kind == "offline":
        return HubUnavailableError(f"Cannot {action}: huggingface_hub is in offline mode (HF_HUB_OFFLINE).")
    detail = f"HTTP {status}" if status else "timeout or connection error"
    tries = "huggingface_hub's retries" if failed.attempts < 0 else f"{failed.attempts + 1} attempt(s)"
    return HubUnavailableError(f"Cannot {action} {'on' if write else 'from'} {where}: {detail} after {tries}.")


def call_with_retries(request: Callable[[], T], retry: Retry = DEFAULT_RETRY, label: str = "") -> T:
    """Run one huggingface_hub request, retrying 429, 5xx and timeouts with exponential backoff.

    Each wait is logged (INFO, one line naming ``label`` and why), so a command stalled on a
    failing or slow Hub says on what it waits (the CLI shows the library's INFO lines on stderr).

    Raises :class:`HubRequestFailed` (kind, HTTP status, attempts made - 1) for a classified
    failure; unknown exceptions propagate unchanged.
    """
    attempt = 0
    while True:
        try:
            return request()
        except Exception as exc:  # classified below; anything unknown is re-raised as is
            kind, status, retry_after = classify(exc)
            if kind == "unknown":
                raise
            if kind == "transient" and attempt < retry.max_retries:
                wait = retry.backoff_s * (2 ** attempt)
                if retry_after is not None:
                    wait = max(wait, min(retry_after, retry.max_backoff_s))
                wait = min(wait, retry.max_backoff_s)
                logger.info("Waiting for the Hub: %s failed (%s); retry %d of %d in %.3g s ...",
                            label or "a request", _why(exc, status), attempt + 1, retry.max_retries, wait)
                time.sleep(wait)
                attempt += 1
                continue
            raise HubRequestFailed(kind, status, attempt) from exc


def _why(exc: BaseException, status: int | None) -> str:
    return f"HTTP {status}" if status else type(exc).__name__


def classify(exc: BaseException) -> tuple[str, int | None, float | None]:
    """(kind, HTTP status, Retry-After seconds) of a failed huggingface_hub call.

    Kinds: ``entry`` (no such file), ``not_found``, ``gated``, ``transient`` (retry),
    ``offline``, ``error`` (other HTTP errors), ``unknown`` (not a Hub error: re-raised as is).
    hf_hub_download wraps connection trouble in a LocalEntryNotFoundError, so the cause chain
    is followed.
    """
    from huggingface_hub import errors as hf

    try:
        import httpx2 as httpx  # the HTTP client of huggingface_hub 2.x
    except ImportError:  # huggingface_hub 1.x (allowed by pyproject) uses httpx
        import httpx

    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, hf.OfflineModeIsEnabled):
            return "offline", None, None
        if isinstance(exc, hf.GatedRepoError):
            return "gated", _status(exc), None
        if isinstance(exc, hf.RemoteEntryNotFoundError):
            return "entry", 404, None
        if isinstance(exc, hf.RepositoryNotFoundError | hf.RevisionNotFoundError):
            return "not_found", _status(exc), None
        if isinstance(exc, hf.HfHubHTTPError):
            status = _status(exc)
            if status in RETRY_STATUS:
                retry_after = exc.response.headers.get("Retry-After") if exc.response is not None else None
                return "transient", status, _seconds(retry_after)
            if status in (401, 403):
                return "gated", status, None
            if status == 404:
                return "not_found", status, None
            return "error", status, None
        if isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
            return "transient", None, None
        if isinstance(exc, hf.LocalEntryNotFoundError) and exc.__cause__ is None:
            return "transient", None, None
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
        seen += 1
    return "unknown", None, None


def _status(exc: Any) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
