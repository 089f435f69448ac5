"""HubClient: a model's lineage as the Hugging Face Hub states it.

It reads a repository's lineage the way the Hub states it (``model_info`` with its card data, tags
and file list, plus ``README.md``, ``adapter_config.json`` and ``mergekit_config.yml`` when the
repository has them) and walks parents up to the roots. Around that: an on-disk JSON cache under
``HUB_LINEAGE_HOME`` with a TTL, offline mode (``HF_HUB_OFFLINE=1`` or ``offline=True``: the
cache and local edge lists only), and every request sent through
:func:`~hub_lineage.lineage.hub_errors.hub_call` (retries with exponential backoff on 429, 5xx and
timeouts; 404 -> RepoNotFoundError, 401/403/gated -> GatedRepoError, unreachable ->
HubUnavailableError). Other Hub requests (leaderboard details and contents, card pushes) live with
their features and go through the same ``hub_call``.

The token comes from the ``HfApi`` given (by default huggingface_hub's usual resolution:
``HF_TOKEN``, then the saved login). It is never printed, logged or put in an error message.

Example
-------
>>> from huggingface_hub import HfApi
>>> client = HubClient(HfApi(endpoint="http://127.0.0.1:8080", token=False))  # doctest: +SKIP
>>> client.resolve("Qwen/Qwen2.5-7B-Instruct", max_depth=3).nodes  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from hub_lineage import paths
from hub_lineage.errors import (
    DataFormatError,
    GatedRepoError,
    HubUnavailableError,
    InvalidInputError,
    LineageWarning,
    RepoNotFoundError,
)
from hub_lineage.files import write_atomic
from hub_lineage.ids import check_repo_id
from hub_lineage.lineage.cards import LINEAGE_FILES, README, edges_from_repo
from hub_lineage.lineage.edges import Edge
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.lineage.hub_errors import NO_RETRY, EntryNotFoundError, Retry, hub_call
from hub_lineage.lineage.walk import breadth_first

if TYPE_CHECKING:
    from huggingface_hub import HfApi

T = TypeVar("T")
logger = logging.getLogger(__name__)

#: Bumped when the cached record's shape changes, so old records are refetched, not misread.
CACHE_VERSION = 1


class HubClient:
    """Lineage from the Hugging Face Hub, with a cache, offline mode and retries.

    Parameters
    ----------
    api : the ``huggingface_hub.HfApi`` to use (its endpoint and token). Default: ``HfApi()``,
        i.e. ``HF_ENDPOINT`` and the usual token resolution.
    offline : never contact the Hub; default: ``HF_HUB_OFFLINE``.
    cache_dir : where parsed lineage records are kept; default ``paths.hub_cache_dir()``.
    ttl_s : how long a cached record is trusted online (offline, any age is used).
    local_graph : lineage from local files (edge lists), used offline, when the Hub states no
        parent, or when the Hub does not know the repo.
    max_retries : retries after the first attempt on 429, 5xx, timeouts and connection errors.
    timeout_s : per-request timeout in seconds.
    backoff_s : the first retry's wait; it doubles on each retry (``Retry-After`` is not awaited
        longer than ``max_backoff_s``).
    """

    def __init__(
        self,
        api: HfApi | None = None,
        *,
        offline: bool | None = None,
        cache_dir: Path | None = None,
        ttl_s: float = 7 * 86400,
        local_graph: LineageGraph | None = None,
        max_retries: int = 3,
        timeout_s: float = 10.0,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
    ) -> None:
        self._api = api
        self.offline = paths.env_offline() if offline is None else bool(offline)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else paths.hub_cache_dir()
        self.ttl_s = float(ttl_s)
        self.local_graph = local_graph
        self.max_retries = int(max_retries)
        self.timeout_s = float(timeout_s)
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)

    @property
    def api(self) -> HfApi:
        """The ``HfApi`` in use (for pushes: ``client.api.create_commit(...)``)."""
        if self._api is None:
            from huggingface_hub import HfApi

            self._api = HfApi()
        return self._api

    @property
    def endpoint(self) -> str:
        return str(self.api.endpoint)

    @property
    def retry(self) -> Retry:
        """This client's retry policy, for other requests sent with its ``api``."""
        return Retry(self.max_retries, self.backoff_s, self.max_backoff_s)

    # -- public -------------------------------------------------------------------------------

    def direct_parents(self, repo_id: str) -> list[Edge]:
        """Edges from ``repo_id`` to its direct parents (child = ``repo_id``), as the Hub states them.

        Online, a fresh cache record is used, else the Hub is asked (and the record refreshed);
        if the Hub has no parent for the repo, the local graph's parents are used. Offline, the
        cache (any age) and the local graph only.

        Raises
        ------
        InvalidRepoIdError : ``repo_id`` is not a valid repo id.
        RepoNotFoundError : the Hub has no such repo (and the local graph does not know it).
        GatedRepoError : the repo is gated or private and its lineage is not readable.
        HubUnavailableError : the Hub cannot be reached after retries, or offline mode and
            neither the cache nor the local graph knows the repo.
        """
        check_repo_id(repo_id)
        record = self._cache_read(repo_id)
        local = self._local_parents(repo_id)
        if self.offline:
            if record is None and local is None:
                raise HubUnavailableError(
                    f"Offline mode: {repo_id!r} is neither in the Hub cache ({self.cache_dir}) nor in the "
                    "local edge lists. Ingest an edge list that has it (`hub-lineage ingest edges.csv`; "
                    "`hub-lineage lineage` also takes --edges FILE) or go online (unset HF_HUB_OFFLINE).")
            edges = _edges(record) if record is not None else []
            return edges or (local or [])
        if record is not None and time.time() - float(record.get("fetched_at", 0)) < self.ttl_s:
            edges = _edges(record)
        else:
            try:
                edges, readme = self._fetch(repo_id)
            except RepoNotFoundError:
                if local is None:
                    raise
                return local
            except HubUnavailableError as exc:
                if record is None and local is None:
                    raise
                warnings.warn(f"{exc} Using {'cached' if record is not None else 'local'} lineage for "
                              f"{repo_id!r} instead.", LineageWarning, stacklevel=2)
                return (_edges(record) if record is not None else []) or (local or [])
            self._cache_write(repo_id, edges, readme)
        return edges or (local or [])

    def resolve(self, repo_id: str, max_depth: int | None = None) -> LineageGraph:
        """``repo_id`` and its ancestors up to the roots (or ``max_depth`` hops), as a LineageGraph.

        Breadth-first; every repo is asked once, so a cycle on the Hub (A -> B -> A) cannot loop:
        the closing edge is dropped with a LineageWarning. Errors on ``repo_id`` itself are
        raised; an ancestor that cannot be read (deleted, gated, unknown offline) stays a leaf
        of the graph, with a warning when online.
        """
        check_repo_id(repo_id)
        if max_depth is not None and max_depth < 0:
            raise InvalidInputError(f"max_depth must be >= 0 (or None for all ancestors), got {max_depth}.")
        graph = LineageGraph(nodes=[repo_id])

        def parents(node: str) -> list[str]:
            # asked lazily, once per repo: the walk never fetches past max_depth
            edges = self.direct_parents(node) if node == repo_id else self._parents_of_ancestor(node)
            graph.add_edges(edges)
            return [edge.parent for edge in edges]

        breadth_first(repo_id, parents, max_depth=max_depth)
        return graph

    def model_card_text(self, repo_id: str) -> str:
        """The repo's README.md text (cached with its lineage record); '' when it has none."""
        check_repo_id(repo_id)
        record = self._cache_read(repo_id)
        fresh = record is not None and time.time() - float(record.get("fetched_at", 0)) < self.ttl_s
        if record is not None and record.get("readme") is not None and (fresh or self.offline):
            return str(record["readme"])
        if self.offline:
            raise HubUnavailableError(
                f"Offline mode: the model card of {repo_id!r} is not in the Hub cache ({self.cache_dir}).")
        text = self._download(repo_id, README)
        return text if text is not None else ""

    # -- fetching -----------------------------------------------------------------------------

    def _parents_of_ancestor(self, node: str) -> list[Edge]:
        try:
            return self.direct_parents(node)
        except HubUnavailableError as exc:
            if not self.offline:
                warnings.warn(f"Stopped the lineage at {node!r}: {exc}", LineageWarning, stacklevel=3)
        except (RepoNotFoundError, GatedRepoError, DataFormatError) as exc:
            warnings.warn(f"Stopped the lineage at {node!r}: {exc}", LineageWarning, stacklevel=3)
        return []

    def _fetch(self, repo_id: str) -> tuple[list[Edge], str | None]:
        """Ask the Hub for ``repo_id``'s lineage: (edges, README text or None)."""
        info = self._call(repo_id, "model info",
                          lambda: self.api.model_info(repo_id, timeout=self.timeout_s))
        siblings = [s.rfilename for s in (info.siblings or [])]
        card_data = info.card_data.to_dict() if info.card_data is not None else None
        tags = list(info.tags or [])
        texts: dict[str, str] = {}
        gated: GatedRepoError | None = None
        for name in LINEAGE_FILES:
            if name not in siblings:
                continue
            try:
                text = self._download(repo_id, name)
            except GatedRepoError as exc:
                gated = exc
                continue
            if text is not None:
                texts[name] = text
        readme = texts.pop(README, None)
        try:
            edges = edges_from_repo(repo_id, readme, tags, texts, siblings, card_data=card_data)
        except DataFormatError as exc:
            warnings.warn(f"{exc} Reading {repo_id!r}'s lineage from the Hub's metadata and tags instead.",
                          LineageWarning, stacklevel=3)
            edges = edges_from_repo(repo_id, None, tags, {}, siblings, card_data=card_data)
        if not edges and gated is not None and card_data is None:
            raise gated  # the gated files were all we could have learned from
        return edges, readme

    def _download(self, repo_id: str, filename: str) -> str | None:
        """A small text file of the repo (None when the repo has no such file)."""
        try:
            # hf_hub_download retries a failing HEAD itself (5 times, 1-8 s apart): retrying it again
            # here multiplied the waits (~100 s on a failing Hub), so this layer adds no retries
            path = hub_call(lambda: self.api.hf_hub_download(
                repo_id, filename, cache_dir=self.cache_dir / "files", etag_timeout=self.timeout_s),
                repo_id=repo_id, what=filename, endpoint=self.endpoint, retry=NO_RETRY, retried_inside=True)
        except EntryNotFoundError:
            return None
        try:
            return Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise DataFormatError(f"{repo_id}/{filename} is not UTF-8 text.") from None

    def _call(self, repo_id: str, what: str, request: Callable[[], T]) -> T:
        return hub_call(request, repo_id=repo_id, what=what, endpoint=self.endpoint, retry=self.retry)

    # -- local sources and cache --------------------------------------------------------------

    def _local_parents(self, repo_id: str) -> list[Edge] | None:
        if self.local_graph is None or repo_id not in self.local_graph:
            return None
        return self.local_graph.parents(repo_id)

    def _cache_path(self, repo_id: str) -> Path:
        return self.cache_dir / "lineage" / (repo_id.replace("/", "--") + ".json")

    def _cache_read(self, repo_id: str) -> dict[str, Any] | None:
        path = self._cache_path(repo_id)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, ValueError):
            logger.warning("Ignored the unreadable Hub cache record %s.", path)
            return None
        if not isinstance(record, dict) or record.get("version") != CACHE_VERSION or record.get("repo_id") != repo_id:
            return None
        return record

    def _cache_write(self, repo_id: str, edges: list[Edge], readme: str | None) -> None:
        path = self._cache_path(repo_id)
        record = {"version": CACHE_VERSION, "repo_id": repo_id, "fetched_at": time.time(),
                  "endpoint": self.endpoint, "edges": [e.to_dict() for e in edges], "readme": readme}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, json.dumps(record))  # a reader never sees half a record
        except OSError as exc:
            logger.warning("Could not write the Hub cache record %s: %s.", path, exc)


def _edges(record: dict[str, Any]) -> list[Edge]:
    return [Edge.from_dict(e) for e in record.get("edges", [])]
