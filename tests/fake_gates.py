"""Loopback fakes for what ``ibench doctor`` asks: gated repos on the fake hub, and the providers' model look-ups.

- ``GatedHub``: ``FakeHub`` where some repos are gated as the Hugging Face hub gates them: without a token
  401, with a token that has not been granted access 403, both with ``X-Error-Code: GatedRepo`` (what
  ``huggingface_hub`` turns into ``GatedRepoError``); an unknown repo is 404 ``RepoNotFound``.
- ``FakeProviders``: ``FakeAPI`` plus ``GET /v1/models/<id>`` (OpenAI's models.retrieve) and
  ``GET /v1beta/models/<id>`` (Gemini's models.get), serving only the ids in ``served``; GETs are
  recorded in ``requests`` with the POSTs, so a test can tell that no generation request was made.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote, urlsplit

from fake_api import FakeAPI
from fake_hub import FakeHub


class GatedHub(FakeHub):
    def __init__(self, repos: dict[str, Path], gated: dict[str, set[str]]):
        super().__init__(repos)
        self.gated = gated  # repo -> the tokens granted access

    def answer(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        path = unquote(urlsplit(h.path).path)
        for repo, granted in self.gated.items():
            if path.startswith((f"/api/models/{repo}/", f"/{repo}/resolve/")) or path == f"/api/models/{repo}":
                token = h.headers.get("Authorization", "").removeprefix("Bearer ").strip()
                if token in granted:
                    break
                self.requests.append((h.command, path))
                status = 403 if token else 401
                message = f"Access to model {repo} is restricted" + ("" if token else ": log in")
                return self.send(h, status, json.dumps({"error": message}).encode(), "application/json", body,
                                 {"X-Error-Code": "GatedRepo", "X-Error-Message": message})
        return super().answer(h, body)


class FakeProviders(FakeAPI):
    def __init__(self, served: tuple[str, ...] = ("gpt-image-2", "gemini-3.1-flash-image"), **kwargs):
        super().__init__(**kwargs)
        self.served = set(served)
        api = self

        def do_get(h: BaseHTTPRequestHandler) -> None:
            path = urlsplit(h.path).path
            with api.lock:
                api.requests.append({"path": h.path, "method": "GET", "headers": dict(h.headers), "images": []})
            if path.startswith("/v1/models/"):
                model = unquote(path[len("/v1/models/"):])
                if model in api.served:
                    return h._reply(200, {"id": model, "object": "model", "created": 0, "owned_by": "openai"})
                return h._reply(404, {"error": {"message": f"The model `{model}` does not exist or you do not have "
                                                           f"access to it.", "type": "invalid_request_error",
                                                "param": None, "code": "model_not_found"}})
            if path.startswith("/v1beta/models/"):
                model = unquote(path[len("/v1beta/models/"):])
                if model in api.served:
                    return h._reply(200, {"name": f"models/{model}", "displayName": model,
                                          "supportedGenerationMethods": ["generateContent"]})
                return h._reply(404, {"error": {"code": 404, "message": f"models/{model} is not found",
                                                "status": "NOT_FOUND"}})
            h._reply(404, {"error": {"message": f"no route {path}"}})

        self.httpd.RequestHandlerClass.do_GET = do_get

    def generation_requests(self) -> list[dict]:
        return [r for r in self.requests if r.get("method") != "GET"]
