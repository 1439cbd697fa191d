"""The ``api`` adapter: settings, the request cache, bounded concurrency, retries and the call budget.

One request per sample, ``concurrency`` of them in flight at once (so give ``--batch-size`` at least
``concurrency``). A reply already in the cache is used without a request; a refusal or safety block is
that sample's failure with the provider's reason (cached, so a rerun does not pay for it again); 429s,
5xx and dropped connections are retried with backoff, honouring ``Retry-After``. ``max_calls`` (or
``max_cost`` / ``cost_per_call``) caps the requests of one command: when it is spent the run stops
cleanly after recording what it made, and rerunning the same command resumes. API keys come only
from the environment variable ``api_key_env`` (default ``OPENAI_API_KEY`` / ``GEMINI_API_KEY``); no
setting holds one, so none reaches a manifest, a cache entry or a record.
"""

from __future__ import annotations

import io
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, Literal, Optional

from PIL import Image
from pydantic import Field

from ibench.core import deprecations
from ibench.core.paths import cache_dir
from ibench.core.vocabulary import ALL_CAPABILITIES
from ibench.errors import IbenchError

from ..base import Failed, ModelAdapter, Request, StopRun
from ..settings import AdapterSettings, Count, Number
from .cache import Reply, RequestCache, request_key
from .providers import PROVIDERS, Fatal, default_model
from .render import render
from .retry import Transient, call_with_retries


class APISettings(AdapterSettings):
    RUNTIME: ClassVar[frozenset[str]] = AdapterSettings.RUNTIME | {
        "concurrency", "max_retries", "backoff", "max_calls", "max_cost", "cost_per_call", "timeout", "cache_dir",
        "api_key_env"}

    provider: Literal["openai", "gemini"] = "openai"
    model: Optional[str] = None  # default: gpt-image-2 (openai), gemini-3.1-flash-image (gemini)
    base_url: Optional[str] = None  # a gateway or an OpenAI-compatible server
    size: Optional[str] = None  # openai: "1024x1024", ...; gemini: image_size ("1K", "2K")
    quality: Optional[str] = None  # openai only
    aspect_ratio: Optional[str] = None  # gemini only ("1:1", "16:9", ...)
    modalities: Optional[list[str]] = None  # gemini response modalities (default ["IMAGE"])
    params: dict[str, Any] = Field(default_factory=dict)  # more provider parameters (output-affecting)
    views: Count = 1  # images sent per reference
    reference_side: Count = 1024  # references are sent at most this many px a side
    # runtime: how fast and how much, not what
    api_key_env: Optional[str] = None
    concurrency: Count = 4
    max_retries: int = Field(5, ge=0)
    backoff: Number = 1.0  # first retry wait (s) when the server sends no Retry-After
    max_calls: Optional[Count] = None
    max_cost: Optional[Number] = None  # with cost_per_call: max_calls = floor(max_cost / cost_per_call)
    cost_per_call: Optional[Number] = None
    timeout: Number = 300.0
    cache_dir: Optional[str] = None  # default: <ibench cache>/api


class Budget:
    """How many provider requests this command may still make (thread-safe)."""

    def __init__(self, limit: Optional[int]):
        self.limit, self.used, self.lock = limit, 0, threading.Lock()

    def take(self) -> bool:
        with self.lock:
            if self.limit is not None and self.used >= self.limit:
                return False
            self.used += 1
            return True


class APIModel(ModelAdapter):
    """Closed image models behind an API (providers: openai, gemini); every reference kind, in context."""

    name = "api"
    capabilities = ALL_CAPABILITIES
    Settings = APISettings

    def __init__(self, **options: Any):
        super().__init__(**options)
        if self.config.model is None:
            self.config = self.config.model_copy(update={"model": default_model(self.config.provider)})
            self.options = self.config.model_dump()
        o = self.options
        deprecations.check(o["model"], f"model 'api' ({o['provider']})")  # a retired model: one line, no request
        provider_cls = PROVIDERS[o["provider"]]
        env = o["api_key_env"] or provider_cls.key_env
        key = os.environ.get(env, "").strip()
        if not key:
            raise IbenchError(f"model 'api': no API key for {o['provider']}: set the environment variable {env} "
                              f"(keys are read only from the environment; `api_key_env` names another variable)")
        self.provider = provider_cls(o, key)
        self.cache = RequestCache(Path(o["cache_dir"]) if o["cache_dir"] else cache_dir() / "api")
        limit = o["max_calls"]
        if o["max_cost"] is not None:
            if not o["cost_per_call"]:
                raise IbenchError("model 'api': `max_cost` needs `cost_per_call` (the price of one image)")
            by_cost = math.floor(o["max_cost"] / o["cost_per_call"])
            limit = by_cost if limit is None else min(limit, by_cost)
        self.budget = Budget(limit)
        self.pool = ThreadPoolExecutor(max_workers=o["concurrency"], thread_name_prefix="ibench-api")

    def generate(self, batch: list[Request]) -> list[Image.Image | Failed]:
        futures = [self.pool.submit(self._one, req) for req in batch]
        outcomes: list = []
        fatal: Optional[str] = None
        for fut in futures:
            try:
                outcomes.append(fut.result())
            except Fatal as exc:
                outcomes.append(None)
                fatal = str(exc)
        if fatal:
            raise StopRun(f"model 'api' stopped: {fatal} (check the model name, the key in "
                          f"{self.options['api_key_env'] or self.provider.key_env} and base_url)", outcomes)
        if any(o is None for o in outcomes):
            raise StopRun(f"model 'api': the call budget is spent ({self.budget.used} requests, max_calls="
                          f"{self.budget.limit}); raise max_calls or max_cost", outcomes)
        return outcomes

    def _one(self, req: Request) -> Image.Image | Failed | None:
        o, provider = self.options, self.provider
        rendered = render(req, o["views"], o["reference_side"])
        request = provider.describe(rendered, req.seed)
        req.meta.update(prompt=request.get("prompt") or rendered.prompt("<image {i}>", " "), images=rendered.numbers, endpoint=request["endpoint"],
                        seed_sent=provider.seed_support, seed_honoured=None if provider.seed_support else False)
        key = request_key(provider.name, o["model"], self.settings(), request, req.sample, req.seed)
        reply = self.cache.get(provider.name, key)
        if reply is not None:
            req.meta["cached"] = True
        else:
            if not self.budget.take():
                return None
            try:
                reply, attempts = call_with_retries(lambda: provider.call(rendered, req.seed), o["max_retries"],
                                                    float(o["backoff"]))
            except Transient as exc:
                return Failed(f"{exc} (gave up after {o['max_retries'] + 1} attempts; a rerun tries again)")
            except Fatal:
                raise
            except Exception as exc:  # noqa: BLE001 - one bad request fails its sample
                return Failed(f"{provider.name}: {type(exc).__name__}: {exc}")
            self.cache.put(provider.name, key, request, reply)
            req.meta.update(cached=False, attempts=attempts)
        req.meta.update({k: v for k, v in reply.meta.items() if v is not None})
        return self._outcome(reply)

    def _outcome(self, reply: Reply) -> Image.Image | Failed:
        if reply.refusal is not None:
            return Failed(f"refused by {self.provider.name}: {reply.refusal}")
        try:
            with Image.open(io.BytesIO(reply.image)) as im:
                return im.convert("RGB")
        except OSError as exc:
            return Failed(f"{self.provider.name} returned an image that does not decode: {exc}")

    def close(self) -> None:
        self.pool.shutdown(wait=True)
