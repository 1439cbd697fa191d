"""The ``openai`` judge backend: any OpenAI-compatible chat-completions endpoint, through the official SDK.

A ``vllm serve`` of an open judge (the way to judge at scale on many GPUs) or a hosted API. Requests
run ``concurrency`` at a time; the SDK retries 429, 408/409 and 5xx answers and timeouts up to
``max_retries`` times with exponential backoff, honouring ``Retry-After`` / ``retry-after-ms``.
The API key is read from the environment variable the config names and lives only in the client:
it is scrubbed from every error text this module returns.

A refusal or content-filter block is a definitive failure of that verdict; a timeout or an error
status after the retries is a transient one (never cached: the next run asks again). A message with
more images than the server takes (vLLM's ``--limit-mm-per-prompt``) is an ``image_limit`` failure
naming the limit: known from ``max_images_per_message`` it is never sent, otherwise the server's
HTTP 400 is read. A wrong key, an unknown model or an unreachable server stops scoring with one line
(verdicts so far stay cached).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Optional

from pydantic import Field, field_validator

from ibench.errors import IbenchError

from .backend import Backend, BackendSettings, Reply, image_limit_detail, load_image, prepare_image
from .prompts import Query

CONTENT_FILTER_CODES = ("content_filter", "content_policy_violation", "content_policy", "safety")
#: vLLM's HTTP 400 for a message with more images than ``--limit-mm-per-prompt`` allows, in the wordings of its
#: versions: "At most 8 image(s) may be provided in one prompt. Set `--limit-mm-per-prompt` to increase this
#: limit." (vllm-project/vllm@0045689bdb239a1c53951f3847b9475098f36ef7:vllm/multimodal/processing/context.py,
#: ``validate_num_items``), "... in one request." (v0.6.3: vllm-project/vllm#9739), and "You set image=2 (or
#: defaulted to 1) in `--limit-mm-per-prompt`, but passed 3 image items in the same prompt." (early 2025 releases,
#: xorbitsai/inference#3054; v0.9.2 writes "You set or defaulted to '{"image": 1}' in `--limit-mm-per-prompt`").
IMAGE_LIMIT = re.compile(r"At most (\d+) image\(s\) may be provided|image\W{1,4}(\d+)\W[^.]*--limit-mm-per-prompt")


@lru_cache(maxsize=512)
def data_url(path: str, max_side: int) -> str:
    """The image as a base64 PNG data URL (downscaled to ``max_side``)."""
    buf = io.BytesIO()
    load_image(Path(path), max_side).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@lru_cache(maxsize=512)
def _part_url(part: str, max_side: int) -> str:
    spec = json.loads(part)
    fmt = spec.get("format", "png").upper()
    buf = io.BytesIO()
    prepare_image(spec, max_side).save(buf, format=fmt)  # JPEG at Pillow's default quality, as the anchors encode
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def image_part(part: dict, max_side: int) -> dict:
    """The ``image_url`` part of an image: a PNG data URL, or what an anchor's own judge sends (its
    preprocessing, ``format: jpeg``, ``detail``; see ``ibench.packs.protocol``)."""
    if not any(k in part for k in ("preprocess", "format", "detail")):
        return {"type": "image_url", "image_url": {"url": data_url(part["path"], max_side)}}
    url = _part_url(json.dumps({k: part[k] for k in ("path", "preprocess", "format") if k in part}, sort_keys=True),
                    max_side)
    return {"type": "image_url", "image_url": {"url": url, **({"detail": part["detail"]} if part.get("detail") else {})}}


class OpenAISettings(BackendSettings):
    """The ``openai`` backend's keys: where the endpoint is, and what its requests add."""

    RUNTIME: ClassVar[frozenset[str]] = frozenset({"base_url", "api_key_env", "concurrency", "timeout_s",
                                                   "max_images_per_message"})

    base_url: Optional[str] = Field(default=None, validate_default=True)
    api_key_env: Optional[str] = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")  # the variable's NAME
    concurrency: int = Field(default=8, ge=1, le=256)
    timeout_s: float = Field(default=120.0, gt=0)
    json_mode: bool = False  # ask the server for a JSON object (response_format)
    extra_body: dict[str, Any] = Field(default_factory=dict)  # server-specific request fields (e.g. vLLM's)
    max_images_per_message: Optional[int] = Field(default=None, ge=1)  # the server's limit (vLLM: --limit-mm-per-prompt)

    @field_validator("base_url")
    @classmethod
    def _needed(cls, url: Optional[str]) -> str:
        if not url:
            raise ValueError("backend openai needs base_url (e.g. http://localhost:8000/v1 or https://api.openai.com/v1)")
        return url

    def api_key(self) -> str:
        """The API key from the environment variable the config names (``EMPTY`` when it names none)."""
        if not self.api_key_env:
            return "EMPTY"  # a local vLLM server without --api-key accepts anything
        key = os.environ.get(self.api_key_env, "")
        if not key.strip():
            raise IbenchError(f"judge config: api_key_env {self.api_key_env} is not set in the environment "
                              f"(export {self.api_key_env}=... ; the key is never read from a file)")
        return key.strip()


class OpenAIBackend(Backend):
    name = "openai"
    Settings = OpenAISettings

    def __init__(self, config):
        super().__init__(config)
        try:
            import openai
        except ImportError:
            raise IbenchError("the openai judge backend needs the `openai` package: pip install 'ibench[judge]'") from None
        self.openai = openai
        self._key = self.settings.api_key()
        self.client = openai.OpenAI(api_key=self._key, base_url=self.settings.base_url, timeout=self.settings.timeout_s,
                                    max_retries=config.max_retries)

    def identity(self) -> dict:
        return {**super().identity(), "dtype": None}  # no dtype: the server's (kept so verdict keys stay as before)

    @property
    def chunk(self) -> int:
        return self.settings.concurrency * 4

    @property
    def max_images(self) -> Optional[int]:
        return self.settings.max_images_per_message

    def scrub(self, text: str) -> str:
        text = str(text)
        return text.replace(self._key, "***") if self._key and self._key != "EMPTY" else text

    def _render(self, messages: list[dict]) -> list[dict]:
        out = []
        for m in messages:
            if isinstance(m["content"], str):
                out.append({"role": m["role"], "content": m["content"]})
                continue
            parts = [image_part(p, self.config.image_max_side) if p["type"] == "image"
                     else {"type": "text", "text": p["text"]} for p in m["content"]]
            out.append({"role": m["role"], "content": parts})
        return out

    def run(self, queries: list[Query]) -> list[Reply]:
        if len(queries) <= 1 or self.settings.concurrency == 1:
            return [self._one(q) for q in queries]
        with ThreadPoolExecutor(max_workers=min(self.settings.concurrency, len(queries))) as pool:
            return list(pool.map(self._one, queries))

    def _request(self, q: Query) -> dict:
        cfg, own = self.config, self.settings
        kwargs = {"model": cfg.model, "messages": self._render(q.messages),
                  "seed": cfg.seed if q.seed is None else q.seed, "max_completion_tokens": cfg.max_new_tokens}
        if cfg.temperature is not None:  # None: the server's default, as a benchmark's own judge code sends none
            kwargs["temperature"] = cfg.temperature
        if own.json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        if own.extra_body:
            kwargs["extra_body"] = dict(own.extra_body)
        return kwargs

    def _one(self, q: Query) -> Reply:
        oa, cfg, own = self.openai, self.config, self.settings
        t0 = time.perf_counter()
        try:
            resp = self.client.chat.completions.create(**self._request(q))
        except (oa.AuthenticationError, oa.PermissionDeniedError) as exc:
            raise IbenchError(f"judge endpoint {own.base_url} refused the API key from ${own.api_key_env or '(none)'} "
                              f"(HTTP {exc.status_code}): check the key and its access to {cfg.model!r}") from None
        except oa.NotFoundError:
            raise IbenchError(f"judge endpoint {own.base_url}: model {cfg.model!r} not found (HTTP 404): check `model` "
                              f"and `base_url` in the judge config") from None
        except oa.APITimeoutError:
            return Reply(error="timeout", detail=f"no answer in {own.timeout_s:g} s after {cfg.max_retries} retries",
                         transient=True, seconds=time.perf_counter() - t0)
        except oa.APIConnectionError as exc:
            raise IbenchError(f"cannot reach the judge at {own.base_url} ({self.scrub(exc)}): start the server or fix "
                              f"`base_url`; verdicts so far are cached, rerun to resume") from None
        except oa.RateLimitError as exc:
            return Reply(error="rate_limited", detail=self.scrub(exc)[:300], transient=True,
                         seconds=time.perf_counter() - t0)
        except oa.BadRequestError as exc:
            code = str(getattr(exc, "code", "") or "") + " " + str(exc)
            if any(c in code.lower() for c in CONTENT_FILTER_CODES):
                return Reply(finish="content_filter", detail=self.scrub(exc)[:300], seconds=time.perf_counter() - t0)
            said = IMAGE_LIMIT.search(str(exc))
            if said:  # definitive for this server: counted, not retried; not cached (a larger limit answers it)
                limit = int(said.group(1) or said.group(2))
                return Reply(error="image_limit", detail=image_limit_detail(limit, len(q.images), self.scrub(exc)[:200]),
                             seconds=time.perf_counter() - t0)
            return Reply(error="http_400", detail=self.scrub(exc)[:300], transient=True, seconds=time.perf_counter() - t0)
        except oa.APIStatusError as exc:
            return Reply(error=f"http_{exc.status_code}", detail=self.scrub(exc)[:300], transient=True,
                         seconds=time.perf_counter() - t0)
        seconds = time.perf_counter() - t0
        usage = resp.usage
        tokens = {"prompt_tokens": getattr(usage, "prompt_tokens", 0) or 0,
                  "completion_tokens": getattr(usage, "completion_tokens", 0) or 0}
        if not resp.choices:
            return Reply(error="empty_response", detail="the server returned no choices", transient=True,
                         seconds=seconds, **tokens)
        choice = resp.choices[0]
        refusal = getattr(choice.message, "refusal", None)
        finish = "refusal" if refusal else (choice.finish_reason or "stop")
        return Reply(text=choice.message.content, finish=finish, detail=self.scrub(refusal or "")[:300], seconds=seconds,
                     served_model=resp.model, fingerprint=getattr(resp, "system_fingerprint", None), **tokens)

    def close(self) -> None:
        self.client.close()
