"""A fake OpenAI-compatible chat-completions server on 127.0.0.1 (tests and benchmarks).

It speaks the real wire format (``POST /v1/chat/completions``: the request body the SDK sends, a
``chat.completion`` object or an ``{"error": ...}`` body with the real status codes and headers) and
answers from ``reply(body, n)``: a string (the assistant content) or a ``Canned`` (status, headers,
delay, finish reason, refusal). Every request is recorded (headers, lower-cased, and body) for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Callable, Optional, Union

from loopback import Loopback


@dataclass
class Canned:
    content: Optional[str] = None
    status: int = 200
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    finish_reason: str = "stop"
    refusal: Optional[str] = None
    error: Optional[dict] = None  # the "error" object of a non-200 answer


Reply = Union[str, Canned]


def user_text(body: dict) -> str:
    """All text parts of a request's user messages, joined (what a canned reply usually keys on)."""
    out = []
    for m in body["messages"]:
        if m["role"] != "user":
            continue
        content = m["content"]
        out += [content] if isinstance(content, str) else [p["text"] for p in content if p["type"] == "text"]
    return "\n".join(out)


class FakeOpenAI(Loopback):
    def __init__(self, reply: Callable[[dict, int], Reply], latency: float = 0.0, model: str = "fake-judge-2026-01-01"):
        self.reply, self.latency, self.model = reply, latency, model
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.inflight = self.max_inflight = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                with server.lock:
                    n = len(server.requests)
                    server.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                            "body": body})
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                answer = server.reply(body, n)
                canned = answer if isinstance(answer, Canned) else Canned(content=answer)
                with server.lock:
                    server.inflight += 1
                    server.max_inflight = max(server.max_inflight, server.inflight)
                time.sleep(server.latency + canned.delay)
                with server.lock:
                    server.inflight -= 1
                if canned.status != 200:
                    error = canned.error or {"message": f"status {canned.status}", "type": "server_error", "code": None}
                    return self._send(canned.status, {"error": error}, canned.headers)
                prompt = len(json.dumps(body["messages"])) // 4
                completion = len(canned.content or "") // 4
                self._send(200, {
                    "id": f"chatcmpl-{n}", "object": "chat.completion", "created": 1767225600, "model": server.model,
                    "system_fingerprint": "fp_fake",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": canned.content,
                                                         "refusal": canned.refusal},
                                 "logprobs": None, "finish_reason": canned.finish_reason}],
                    "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                              "total_tokens": prompt + completion}}, canned.headers)

            def _send(self, status: int, payload: dict, headers: Optional[dict] = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, str(v))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

        super().__init__(Handler, "/v1")

    @property
    def calls(self) -> int:
        return len(self.requests)
