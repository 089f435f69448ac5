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

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

_FRONT_MATTER = re.compile(r"\A\s*---\s*\n(.*?)\n---\s*(\n|\Z)", re.DOTALL)


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
        match = _FRONT_MATTER.match(readme.decode("utf-8", "replace"))
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
    status: int
    path_contains: str
    remaining: int


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

    def _take(self, queue: list[Failure], path: str) -> Failure | None:
        with self._lock:
            for item in queue:
                if item.remaining > 0 and item.path_contains in path:
                    item.remaining -= 1
                    return item
        return None


def _handler_for(server: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_HubHandler):
        hub = server

    return Handler


class _HubHandler(BaseHTTPRequestHandler):
    hub: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    # -- plumbing -----------------------------------------------------------------------------

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), headers)

    def _error(self, status: int, code: str | None, message: str) -> None:
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._json(status, {"error": message}, headers)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query)
        self.hub.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        delay = self.hub._take(self.hub._delays, path)
        if delay is not None:
            time.sleep(delay.status / 1000)
        failure = self.hub._take(self.hub._failures, path)
        if failure is not None:
            self._body()
            headers = {"Retry-After": "0"} if failure.status == 429 else None
            self._send(failure.status, b'{"error": "injected failure"}', headers)
            return
        try:
            self._route(path, query)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_HEAD = do_POST = _dispatch

    # -- routes -------------------------------------------------------------------------------

    def _route(self, path: str, query: dict[str, list[str]]) -> None:
        if path == "/api/whoami-v2":
            return self._whoami()
        if path == "/api/validate-yaml" and self.command == "POST":
            return self._validate_yaml()
        if path == "/api/models" and self.command == "GET":
            return self._list_models(query)
        if path.startswith(("/api/datasets/", "/datasets/")) and self.command in ("GET", "HEAD"):
            return self._dataset_route(path)
        match = re.fullmatch(r"/api/models/(.+?)/(preupload|commit)/([^/]+)", path)
        if match and self.command == "POST":
            return self._write(match.group(1), match.group(2), match.group(3), query)
        match = re.fullmatch(r"/api/models/(.+?)(?:/revision/([^/]+))?", path)
        if match and self.command == "GET":
            return self._model_info(match.group(1), match.group(2))
        match = re.fullmatch(r"/(.+?)/resolve/([^/]+)/(.+)", path)
        if match and self.command in ("GET", "HEAD"):
            return self._resolve(match.group(1), match.group(2), match.group(3))
        self._error(404, None, f"No route for {self.command} {path}")

    def _lookup(self, repo_id: str) -> HostedModel | None:
        model = self.hub.models.get(repo_id)
        if model is None:
            self._error(404, "RepoNotFound", "Repository not found")
            return None
        if model.private and not self.headers.get("Authorization"):
            self._error(401, "RepoNotFound", "Invalid username or password.")
            return None
        return model

    def _model_info(self, repo_id: str, revision: str | None) -> None:
        model = self._lookup(repo_id)
        if model is None:
            return
        if revision not in (None, "main", model.sha) and not revision.startswith("refs/pr/"):
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        self._json(200, model.info())

    def _list_models(self, query: dict[str, list[str]]) -> None:
        wanted_tags = [t for value in query.get("filter", []) for t in value.split(",") if t]
        author = (query.get("author") or [None])[0]
        search = (query.get("search") or [""])[0].lower()
        limit = int((query.get("limit") or ["0"])[0]) or None
        out = []
        for model in self.hub.models.values():
            if model.private:
                continue
            if author and model.repo_id.split("/")[0] != author:
                continue
            if search and search not in model.repo_id.lower():
                continue
            if not all(tag in model.tags or tag == model.repo_id for tag in wanted_tags):
                continue
            info = model.info()
            if "cardData" not in query and "full" not in query:
                info.pop("cardData", None)
            out.append(info)
        self._json(200, out[:limit])

    def _resolve(self, repo_id: str, revision: str, filename: str) -> None:
        model = self._lookup(repo_id)
        if model is None:
            return
        files = model.files
        if revision.startswith("refs/pr/"):
            num = int(revision.rsplit("/", 1)[1])
            if num not in model.pr_files:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            files = {**model.files, **model.pr_files[num]}
        elif revision not in ("main", model.sha):
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        if model.gated:
            if not self.headers.get("Authorization"):
                return self._error(401, "GatedRepo", f"Access to model {repo_id} is restricted. You must "
                                   "have access to it and be authenticated to access it. Please log in.")
            return self._error(403, "GatedRepo", f"Access to model {repo_id} is restricted and you are "
                               "not in the authorized list. Visit the repo page to ask for access.")
        if filename not in files:
            return self._error(404, "EntryNotFound", f"{filename} does not exist on \"{revision}\"")
        body = files[filename]
        etag = hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest()  # git blob oid, like the Hub
        self._send(200, body, {"X-Repo-Commit": model.sha, "ETag": f'"{etag}"',
                               "Accept-Ranges": "bytes"}, content_type="application/octet-stream")

    def _whoami(self) -> None:
        if not self.headers.get("Authorization"):
            return self._error(401, None, "Invalid credentials in Authorization header")
        self._json(200, {"type": "user", "name": "loopback-user", "fullname": "Loopback User",
                         "orgs": [], "auth": {"type": "access_token",
                                              "accessToken": {"displayName": "test", "role": "write"}}})

    def _validate_yaml(self) -> None:
        payload = json.loads(self._body() or b"{}")
        match = _FRONT_MATTER.match(payload.get("content", ""))
        if match:
            try:
                data = yaml.safe_load(match.group(1))
            except yaml.YAMLError as exc:
                return self._json(400, {"errors": [{"message": f"Invalid YAML: {exc}"}], "warnings": []},
                                  {"X-Error-Message": "Invalid metadata"})
            if data is not None and not isinstance(data, dict):
                return self._json(400, {"errors": [{"message": "metadata must be a mapping"}], "warnings": []})
        self._json(200, {"errors": [], "warnings": []})

    def _write(self, repo_id: str, action: str, revision: str, query: dict[str, list[str]]) -> None:
        body = self._body()
        model = self.hub.models.get(repo_id)
        if model is None:
            return self._error(404, "RepoNotFound", "Repository not found")
        if not self.headers.get("Authorization"):
            return self._error(401, None, "Invalid credentials in Authorization header")
        if action == "preupload":
            files = json.loads(body or b"{}").get("files", [])
            return self._json(200, {"files": [{"path": f["path"], "uploadMode": "regular",
                                               "shouldIgnore": False, "oid": None} for f in files]})
        self._commit(model, unquote(revision), query, body)

    def _commit(self, model: HostedModel, revision: str, query: dict[str, list[str]], body: bytes) -> None:
        create_pr = (query.get("create_pr") or ["0"])[0] in ("1", "true", "True")
        summary, description, files, deleted = "", "", {}, []
        for line in body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            value = item.get("value", {})
            if item.get("key") == "header":
                summary, description = value.get("summary", ""), value.get("description", "")
            elif item.get("key") == "file":
                raw = value.get("content", "")
                files[value["path"]] = (base64.b64decode(raw) if value.get("encoding") == "base64"
                                        else raw.encode())
            elif item.get("key") in ("deletedFile", "deletedFolder"):
                deleted.append(value["path"])
            else:
                return self._error(400, None, f"Unsupported commit operation {item.get('key')!r}")
        oid = hashlib.sha1(body).hexdigest()
        pr_num = None
        if create_pr:
            pr_num = len(model.pr_files) + 1
            model.pr_files[pr_num] = files
        else:
            model.files.update(files)
            for path in deleted:
                model.files.pop(path, None)
            model.sha = oid
        self.hub.commits.append(Commit(model.repo_id, revision, create_pr, summary, description, files,
                                       deleted, pr_num, bool(self.headers.get("Authorization"))))
        base = self.hub.url
        self._json(200, {
            "commitUrl": f"{base}/{model.repo_id}/commit/{oid}",
            "commitOid": oid,
            "pullRequestUrl": f"{base}/{model.repo_id}/discussions/{pr_num}" if create_pr else None,
        })

    # -- datasets -----------------------------------------------------------------------------

    def _dataset_route(self, path: str) -> None:
        match = re.fullmatch(r"/api/datasets/(.+?)/tree/([^/]+)(?:/(.+))?", path)
        if match:
            return self._dataset_tree(match.group(1), match.group(2), match.group(3) or "")
        match = re.fullmatch(r"/api/datasets/(.+?)(?:/revision/([^/]+))?", path)
        if match:
            return self._dataset_info(match.group(1), match.group(2))
        match = re.fullmatch(r"/datasets/(.+?)/resolve/([^/]+)/(.+)", path)
        if match:
            return self._dataset_file(match.group(1), match.group(2), match.group(3))
        self._error(404, None, f"No route for {self.command} {path}")

    def _dataset(self, repo_id: str, revision: str | None) -> HostedModel | None:
        dataset = self.hub.datasets.get(repo_id)
        if dataset is None or (dataset.private and not self.headers.get("Authorization")):
            status = 404 if dataset is None else 401
            self._error(status, "RepoNotFound", "Repository not found")
            return None
        if revision not in (None, "main", dataset.sha):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return None
        return dataset

    def _dataset_info(self, repo_id: str, revision: str | None) -> None:
        dataset = self._dataset(repo_id, revision)
        if dataset is None:
            return
        self._json(200, {
            "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24], "id": repo_id,
            "author": repo_id.split("/")[0], "sha": dataset.sha, "private": dataset.private,
            "gated": dataset.gated, "disabled": False, "downloads": 0, "likes": 0, "tags": [],
            "lastModified": "2025-06-01T00:00:00.000Z", "createdAt": "2025-01-01T00:00:00.000Z",
            "siblings": [{"rfilename": name} for name in sorted(dataset.files)]})

    def _dataset_tree(self, repo_id: str, revision: str, folder: str) -> None:
        """The tree listing (files and folders), public even for gated datasets, as on the Hub."""
        dataset = self._dataset(repo_id, revision)
        if dataset is None:
            return
        recursive = "recursive=true" in self.path.lower()
        prefix = folder.rstrip("/") + "/" if folder else ""
        entries: dict[str, dict[str, Any]] = {}
        for name, body in sorted(dataset.files.items()):
            if not name.startswith(prefix):
                continue
            rest = name[len(prefix):]
            if "/" in rest and not recursive:
                sub = prefix + rest.split("/", 1)[0]
                entries[sub] = {"type": "directory", "oid": hashlib.sha1(sub.encode()).hexdigest(), "size": 0,
                                "path": sub}
                continue
            if recursive:
                parts = rest.split("/")[:-1]
                for depth in range(1, len(parts) + 1):
                    sub = prefix + "/".join(parts[:depth])
                    entries[sub] = {"type": "directory", "oid": hashlib.sha1(sub.encode()).hexdigest(),
                                    "size": 0, "path": sub}
            entries[name] = {"type": "file", "oid": hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest(),
                             "size": len(body), "path": name}
        if folder and not entries:
            return self._error(404, "EntryNotFound", f"{folder} does not exist on \"{revision}\"")
        self._json(200, list(entries.values()))

    def _dataset_file(self, repo_id: str, revision: str, filename: str) -> None:
        dataset = self._dataset(repo_id, revision)
        if dataset is None:
            return
        if dataset.gated:
            if not self.headers.get("Authorization"):
                return self._error(401, "GatedRepo", f"Access to dataset {repo_id} is restricted. You must "
                                   "have access to it and be authenticated to access it. Please log in.")
            return self._error(403, "GatedRepo", f"Access to dataset {repo_id} is restricted and you are "
                               "not in the authorized list. Visit the dataset page to ask for access.")
        if filename not in dataset.files:
            return self._error(404, "EntryNotFound", f"{filename} does not exist on \"{revision}\"")
        body = dataset.files[filename]
        etag = hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest()
        self._send(200, body, {"X-Repo-Commit": dataset.sha, "ETag": f'"{etag}"', "Accept-Ranges": "bytes"},
                   content_type="application/octet-stream")
