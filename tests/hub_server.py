"""A loopback Hugging Face Hub for the tests: a real HTTP server on 127.0.0.1 (stdlib only).

It serves the requests that ``huggingface_hub.HfApi`` really sends (read from huggingface_hub
2.4's source), so tests exercise real huggingface_hub code paths instead of mocks:

- ``GET /api/models/<id>`` and ``/api/models/<id>/revision/<rev>``: model info (``id``, ``sha``,
  ``cardData``, ``tags``, ``siblings``, ``gated``...), ``GET /api/models?filter=...&author=...``;
- ``HEAD``/``GET /<id>/resolve/<rev>/<file>`` with ``X-Repo-Commit``, ``ETag`` and
  ``Content-Length``; errors carry ``X-Error-Code`` (``RepoNotFound``, ``EntryNotFound``,
  ``RevisionNotFound``, ``GatedRepo``);
- the write path of ``HfApi.create_commit`` (``POST /api/validate-yaml``,
  ``/api/models/<id>/preupload/<rev>``, ``/api/models/<id>/commit/<rev>`` with its NDJSON body)
  and ``GET /api/whoami-v2``. Every commit is recorded in :attr:`HubServer.commits`;
- datasets (:meth:`HubServer.add_dataset`): ``GET /api/datasets/<id>[/revision/<rev>]``,
  ``GET /api/datasets/<id>/tree/<rev>[/<path>]`` (what ``list_repo_files``/``list_repo_tree``
  send) and ``HEAD``/``GET /datasets/<id>/resolve/<rev>/<file>``, gated and private variants
  answered like models'.

Transient failures (429/5xx) and delays can be injected to test retries and timeouts.
"""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hub_repos import Commit, Failure, HostedModel
from hub_routes import HubHandler

__all__ = ["Commit", "HostedModel", "HubServer"]


class HubServer:
    """A threaded HTTP server that behaves like the parts of the Hub hub-lineage uses.

    Use :meth:`add_model` to host repositories, :meth:`fail_next` / :meth:`delay` to inject
    transient trouble, and read :attr:`requests` and :attr:`commits` to see what arrived.
    """

    def __init__(self) -> None:
        self.models: dict[str, HostedModel] = {}
        self.datasets: dict[str, HostedModel] = {}
        #: (method, path with query, headers with lower-case names) of every request, in order
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.commits: list[Commit] = []
        self._failures: list[Failure] = []
        self._delays: list[Failure] = []  # ``status`` holds the delay in milliseconds
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- content ------------------------------------------------------------------------------

    def add_model(
        self,
        repo_id: str,
        card_text: str | None = None,
        tags: tuple[str, ...] | list[str] = (),
        files: dict[str, str | bytes] | None = None,
        gated: bool | str = False,
        private: bool = False,
        **extra: Any,
    ) -> HostedModel:
        """Host ``repo_id`` with an optional README (``card_text``), tags and other files.

        ``gated=True`` (or ``"auto"``/``"manual"``) answers file downloads with 401/403
        ``GatedRepo`` while the model info stays public, as on the Hub; ``private=True`` answers
        every request for the repo with 401 (which the Hub gives for missing repos too).
        """
        contents = {name: (v.encode() if isinstance(v, str) else v) for name, v in (files or {}).items()}
        if card_text is not None:
            contents["README.md"] = card_text.encode()
        gated_value: bool | str = ("auto" if gated is True else gated)
        model = HostedModel(repo_id, contents, list(tags), gated_value, private,
                            hashlib.sha1(repo_id.encode()).hexdigest(), dict(extra))
        self.models[repo_id] = model
        return model

    def add_dataset(
        self,
        repo_id: str,
        files: dict[str, str | bytes] | None = None,
        gated: bool | str = False,
        private: bool = False,
    ) -> HostedModel:
        """Host the dataset ``repo_id`` with ``files`` (path in repo -> content).

        ``gated``/``private`` behave as in :meth:`add_model`: a gated dataset lists its files but
        answers downloads with 401 (anonymous) or 403 (logged in, not granted) ``GatedRepo``.
        """
        contents = {name: (v.encode() if isinstance(v, str) else v) for name, v in (files or {}).items()}
        dataset = HostedModel(repo_id, contents, [], "auto" if gated is True else gated, private,
                              hashlib.sha1(b"dataset:" + repo_id.encode()).hexdigest())
        self.datasets[repo_id] = dataset
        return dataset

    def fail_next(self, count: int, status: int = 500, path_contains: str = "") -> None:
        """Answer the next ``count`` requests whose path contains ``path_contains`` with ``status``."""
        with self._lock:
            self._failures.append(Failure(status, path_contains, count))

    def delay(self, seconds: float, count: int = 1, path_contains: str = "") -> None:
        """Sleep ``seconds`` before answering the next ``count`` matching requests (for timeouts)."""
        with self._lock:
            self._delays.append(Failure(int(seconds * 1000), path_contains, count))

    def paths(self, method: str | None = None) -> list[str]:
        """Paths requested so far (optionally only those of one HTTP method)."""
        return [p for m, p, _ in self.requests if method is None or m == method]

    def next_delay(self, path: str) -> float | None:
        """Seconds to wait before answering a request for ``path`` (None: answer at once)."""
        item = self._take(self._delays, path)
        return None if item is None else item.status / 1000

    def next_failure(self, path: str) -> int | None:
        """The HTTP status an injected failure answers a request for ``path`` with (None: no failure)."""
        item = self._take(self._failures, path)
        return None if item is None else item.status

    def _take(self, queue: list[Failure], path: str) -> Failure | None:
        with self._lock:
            for item in queue:
                if item.remaining > 0 and item.path_contains in path:
                    item.remaining -= 1
                    return item
        return None


def _handler_for(server: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(HubHandler):
        hub = server

    return Handler
