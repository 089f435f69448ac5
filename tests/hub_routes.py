"""The loopback Hub's request handler: the routes ``huggingface_hub.HfApi`` really calls.

Model info and listing, file resolution (with the Hub's ``X-Error-Code`` headers), the write path of
``create_commit``, ``whoami`` and datasets; see :mod:`hub_server` for the list.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from hub_repos import FRONT_MATTER, Commit, HostedModel, git_oid

if TYPE_CHECKING:
    from hub_server import HubServer


class HubHandler(BaseHTTPRequestHandler):
    """Answers one request like the Hub would; :class:`hub_server.HubServer` subclasses it with ``hub`` set."""

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
        delay = self.hub.next_delay(path)
        if delay is not None:
            time.sleep(delay)
        failure = self.hub.next_failure(path)
        if failure is not None:
            self._body()
            headers = {"Retry-After": "0"} if failure == 429 else None
            self._send(failure, b'{"error": "injected failure"}', headers)
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
        self._serve_file(model, "model", files, filename, revision)

    def _serve_file(self, repo: HostedModel, kind: str, files: dict[str, bytes], filename: str,
                    revision: str) -> None:
        """A file download as the Hub answers it: 401/403 ``GatedRepo``, 404 ``EntryNotFound``, or the bytes."""
        if repo.gated:
            if not self.headers.get("Authorization"):
                return self._error(401, "GatedRepo", f"Access to {kind} {repo.repo_id} is restricted. You must "
                                   "have access to it and be authenticated to access it. Please log in.")
            page = "repo" if kind == "model" else kind
            return self._error(403, "GatedRepo", f"Access to {kind} {repo.repo_id} is restricted and you are "
                               f"not in the authorized list. Visit the {page} page to ask for access.")
        if filename not in files:
            return self._error(404, "EntryNotFound", f"{filename} does not exist on \"{revision}\"")
        body = files[filename]
        self._send(200, body, {"X-Repo-Commit": repo.sha, "ETag": f'"{git_oid(body)}"', "Accept-Ranges": "bytes"},
                   content_type="application/octet-stream")

    def _whoami(self) -> None:
        if not self.headers.get("Authorization"):
            return self._error(401, None, "Invalid credentials in Authorization header")
        self._json(200, {"type": "user", "name": "loopback-user", "fullname": "Loopback User",
                         "orgs": [], "auth": {"type": "access_token",
                                              "accessToken": {"displayName": "test", "role": "write"}}})

    def _validate_yaml(self) -> None:
        payload = json.loads(self._body() or b"{}")
        match = FRONT_MATTER.match(payload.get("content", ""))
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
            entries[name] = {"type": "file", "oid": git_oid(body), "size": len(body), "path": name}
        if folder and not entries:
            return self._error(404, "EntryNotFound", f"{folder} does not exist on \"{revision}\"")
        self._json(200, list(entries.values()))

    def _dataset_file(self, repo_id: str, revision: str, filename: str) -> None:
        dataset = self._dataset(repo_id, revision)
        if dataset is None:
            return
        self._serve_file(dataset, "dataset", dataset.files, filename, revision)
