"""A loopback fake of the OpenAI Images API and the Gemini ``generateContent`` API (127.0.0.1 only).

It speaks each provider's wire format as the official SDKs send and parse it:

- ``POST /v1/images/generations`` (JSON) and ``POST /v1/images/edits`` (multipart, ``image[]`` parts) answer
  ``{"created", "data": [{"b64_json", "revised_prompt"}], "usage"}``; errors are
  ``{"error": {"message", "type", "param", "code"}}`` (a refusal is 400 ``moderation_blocked``);
- ``POST /v1beta/models/<model>:generateContent`` answers ``candidates[].content.parts[].inlineData`` (proto JSON: either field spelling) or,
  when blocked, ``promptFeedback.blockReason``.

Every request is recorded (path, headers, JSON body or form fields, the received image bytes in order).
The image it returns is a deterministic function of the prompt and images, so the same request gives
the same picture. ``script`` holds forced replies (status, headers, body) served before normal ones;
``refuse`` a word whose presence in the prompt gets a refusal; ``latency`` seconds delay every reply.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import re
import time
from http.server import BaseHTTPRequestHandler
from typing import Any, Optional

from PIL import Image

from loopback import Loopback


def png_for(seed: bytes, size: int = 32) -> bytes:
    """A small PNG whose colours derive from ``seed`` (deterministic)."""
    digest = hashlib.sha256(seed).digest()
    im = Image.new("RGB", (size, size), tuple(digest[:3]))
    im.paste(tuple(digest[3:6]), (0, 0, size // 2, size // 2))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def multipart_form(content_type: str, raw: bytes) -> tuple[dict[str, str], list[tuple[str, str, bytes]]]:
    """A multipart/form-data body as (text fields, [(field name, content type, bytes) of each file part]).

    Split at the boundary with bytes operations: the stdlib email parser takes ~20 ms a megabyte, which
    on the server's one GIL would make the fake, not the client, the bottleneck of bench_api.
    """
    boundary = re.search(r'boundary="?([^";]+)"?', content_type).group(1).encode()
    fields: dict[str, str] = {}
    files: list[tuple[str, str, bytes]] = []
    for part in raw.split(b"--" + boundary)[1:]:
        if part.startswith(b"--"):  # the closing delimiter
            break
        head, _, body = part.partition(b"\r\n\r\n")
        body = body[:-2] if body.endswith(b"\r\n") else body
        headers = head.decode("utf-8", "replace")
        name = re.search(r'\bname="([^"]*)"', headers).group(1)
        ctype = re.search(r"(?im)^content-type:\s*([^\s;]+)", headers)
        if re.search(r'\bfilename="', headers):
            files.append((name, ctype.group(1).lower() if ctype else "application/octet-stream", body))
        else:
            fields[name] = body.decode()
    return fields, files


def _b64(data: str) -> bytes:
    """The SDK sends URL-safe base64, possibly unpadded."""
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


class FakeAPI(Loopback):
    """The fake server; use as a context manager (``with FakeAPI() as api: api.url``)."""

    def __init__(self, latency: float = 0.0, refuse: Optional[str] = None):
        self.latency = latency
        self.refuse = refuse
        self.script: list[tuple[int, dict, Any]] = []
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"api": self})
        super().__init__(handler)

    def scripted(self) -> Optional[tuple[int, dict, Any]]:
        with self.lock:
            return self.script.pop(0) if self.script else None


class _Handler(BaseHTTPRequestHandler):
    api: FakeAPI

    def log_message(self, *args) -> None:  # quiet
        pass

    def _reply(self, status: int, body: Any, headers: Optional[dict] = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        record: dict[str, Any] = {"path": self.path, "headers": dict(self.headers), "images": []}
        if self.headers.get("Content-Type", "").startswith("multipart/form-data"):
            record["body"], record["images"] = multipart_form(self.headers["Content-Type"], raw)
        else:
            record["body"] = json.loads(raw or b"{}")
        with self.api.lock:
            self.api.requests.append(record)
        if self.api.latency:
            time.sleep(self.api.latency)
        forced = self.api.scripted()
        if forced is not None:
            status, headers, body = forced
            return self._reply(status, body, headers)
        if self.path.startswith("/v1/images/"):
            return self._openai(record)
        if ":generateContent" in self.path:
            return self._gemini(record)
        self._reply(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error",
                                    "param": None, "code": None}})

    def _openai(self, record: dict) -> None:
        prompt = str(record["body"].get("prompt", ""))
        if self.api.refuse and self.api.refuse in prompt:
            return self._reply(400, {"error": {"message": "Your request was rejected by the safety system.",
                                               "type": "image_generation_user_error", "param": None,
                                               "code": "moderation_blocked"}})
        seed = prompt.encode() + b"".join(data for _, _, data in record["images"])
        self._reply(200, {"created": int(time.time()), "output_format": "png",
                          "data": [{"b64_json": base64.b64encode(png_for(seed)).decode(),
                                    "revised_prompt": f"revised: {prompt}"}],
                          "usage": {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30,
                                    "input_tokens_details": {"image_tokens": 5, "text_tokens": 5}}})

    def _gemini(self, record: dict) -> None:
        parts = record["body"]["contents"][0]["parts"]
        text = " ".join(p["text"] for p in parts if "text" in p)
        images = [_b64(p["inlineData"]["data"]) for p in parts if "inlineData" in p]
        mimes = [p["inlineData"].get("mimeType") or p["inlineData"].get("mime_type") for p in parts if "inlineData" in p]
        record["images"] = [("inlineData", mime, d) for mime, d in zip(mimes, images)]
        if self.api.refuse and self.api.refuse in text:
            return self._reply(200, {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT",
                                                        "blockReasonMessage": "The prompt was blocked."},
                                     "modelVersion": "fake"})
        png = png_for(text.encode() + b"".join(images))
        self._reply(200, {"candidates": [{"content": {"role": "model", "parts": [
            {"text": "Here is the image."},
            {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(png).decode()}}]},
            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 1290, "totalTokenCount": 1302},
            "modelVersion": "fake"})
