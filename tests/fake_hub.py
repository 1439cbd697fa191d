"""A Hugging Face hub on 127.0.0.1 that serves local folders as model repos, in the hub's wire format
(the calls `huggingface_hub` makes for `snapshot_download`, `list_repo_files` and `hf_hub_download`):

- ``GET /api/models/<repo>[/revision/<rev>]``: repo info (``sha``, ``siblings``);
- ``GET /api/models/<repo>/tree/<rev>[/<path>]``: the file listing (``type``, ``path``, ``size``, ``oid``);
- ``HEAD|GET /<repo>/resolve/<rev>/<file>``: a file, with ``X-Repo-Commit`` and ``ETag`` headers;
- ``GET /api/agent-harnesses``: huggingface_hub's registry of AI-agent harnesses (an empty one);
- ``HEAD /``: the probe ibench sends to see whether the hub answers.

Every request is recorded (method, path) so tests can tell what was downloaded, except ``HEAD /-/mark/<label>``:
a test's own bookmark between steps (``marks`` splits the record at them).
"""

from __future__ import annotations

import hashlib
import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote, urlsplit

from loopback import Loopback

COMMIT = "0123456789abcdef0123456789abcdef01234567"
MARK = "/-/mark/"


class FakeHub(Loopback):
    def __init__(self, repos: dict[str, Path]):
        self.repos = {name: Path(folder) for name, folder in repos.items()}
        self.requests: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_HEAD(self) -> None:  # noqa: N802
                hub.answer(self, body=False)

            def do_GET(self) -> None:  # noqa: N802
                hub.answer(self, body=True)

        super().__init__(Handler)

    def marks(self) -> dict[str, list[tuple[str, str]]]:
        """The recorded requests split at the bookmarks: ``{label: requests after it, up to the next}``
        (those before the first bookmark under ``""``)."""
        out: dict[str, list[tuple[str, str]]] = {"": []}
        label = ""
        for method, path in self.requests:
            if path.startswith(MARK):
                label = path[len(MARK):]
                out[label] = []
            else:
                out[label].append((method, path))
        return out

    def files(self, repo: str) -> dict[str, Path]:
        folder = self.repos[repo]
        return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}

    def answer(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        path = unquote(urlsplit(h.path).path)
        self.requests.append((h.command, path))
        if path == "/":
            return self.send(h, 200, b"hub", "text/plain", body)
        if path.startswith(MARK):
            return self.send(h, 200, b"", "text/plain", body)
        if path == "/api/agent-harnesses":
            return self.send(h, 200, b'{"standardEnvVars": [], "harnesses": {}}', "application/json", body)
        if path.startswith("/api/models/"):
            return self.api(h, path[len("/api/models/"):], body)
        for repo in self.repos:
            prefix = f"/{repo}/resolve/"
            if path.startswith(prefix):
                _rev, _, name = path[len(prefix):].partition("/")
                file = self.files(repo).get(name)
                if file is None:
                    return self.send(h, 404, b"{}", "application/json", body, {"X-Error-Code": "EntryNotFound"})
                data = file.read_bytes()
                return self.send(h, 200, data, "application/octet-stream", body,
                                 {"X-Repo-Commit": COMMIT, "ETag": f'"{hashlib.sha1(data).hexdigest()}"'})
        return self.send(h, 404, b'{"error": "Repository not found"}', "application/json", body,
                         {"X-Error-Code": "RepoNotFound"})

    def api(self, h: BaseHTTPRequestHandler, rest: str, body: bool) -> None:
        for repo in self.repos:
            if rest == repo or rest.startswith(repo + "/"):
                tail = rest[len(repo):].lstrip("/")
                files = self.files(repo)
                if tail.startswith("tree/"):
                    listing = [{"type": "file", "path": name, "size": p.stat().st_size,
                                "oid": hashlib.sha1(p.read_bytes()).hexdigest()} for name, p in files.items()]
                    return self.send(h, 200, json.dumps(listing).encode(), "application/json", body)
                info = {"id": repo, "modelId": repo, "sha": COMMIT, "private": False,
                        "siblings": [{"rfilename": name} for name in files]}
                return self.send(h, 200, json.dumps(info).encode(), "application/json", body)
        return self.send(h, 404, b'{"error": "Repository not found"}', "application/json", body,
                         {"X-Error-Code": "RepoNotFound"})

    @staticmethod
    def send(h: BaseHTTPRequestHandler, status: int, data: bytes, kind: str, body: bool,
             headers: dict | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", kind)
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        if body:
            h.wfile.write(data)
