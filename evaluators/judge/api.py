"""The ``openai`` judge backend: any OpenAI-compatible chat-completions endpoint, through the official SDK.

A ``vllm serve`` of an open judge (the way to judge at scale on many GPUs) or a hosted API. Requests
run ``concurrency`` at a time; the SDK retries 429, 408/409 and 5xx answers and timeouts up to
``max_retries`` times with exponential backoff, honouring ``Retry-After`` / ``retry-after-ms``.
The API key is read from the environment variable the config names and lives only in the client:
it is scrubbed from every error text this module returns.

A refusal or content-filter block is a definitive failure of that verdict; a timeout or an error
status after the retries is a transient one (never cached: the next run asks again). A wrong key, an
unknown model or an unreachable server stops scoring with one line (verdicts so far stay cached).
"""

from __future__ import annotations

import base64
import io
import time
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

from ibench.errors import IbenchError

from .backend import Backend, Reply, load_image
from .prompts import Query

CONTENT_FILTER_CODES = ("content_filter", "content_policy_violation", "content_policy", "safety")


@lru_cache(maxsize=512)
def data_url(path: str, max_side: int) -> str:
    """The image as a base64 PNG data URL (downscaled to ``max_side``)."""
    buf = io.BytesIO()
    load_image(Path(path), max_side).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(self, config):
        super().__init__(config)
        try:
            import openai
        except ImportError:
            raise IbenchError("the openai judge backend needs the `openai` package: pip install 'ibench[judge]'") from None
        self.openai = openai
        self._key = config.api_key()
        self.client = openai.OpenAI(api_key=self._key, base_url=config.base_url, timeout=config.timeout_s,
                                    max_retries=config.max_retries)

    def scrub(self, text: str) -> str:
        text = str(text)
        return text.replace(self._key, "***") if self._key and self._key != "EMPTY" else text

    def _render(self, messages: list[dict]) -> list[dict]:
        out = []
        for m in messages:
            if isinstance(m["content"], str):
                out.append({"role": m["role"], "content": m["content"]})
                continue
            parts = [{"type": "image_url", "image_url": {"url": data_url(p["path"], self.config.image_max_side)}}
                     if p["type"] == "image" else {"type": "text", "text": p["text"]} for p in m["content"]]
            out.append({"role": m["role"], "content": parts})
        return out

    def run(self, queries: list[Query]) -> list[Reply]:
        if len(queries) <= 1 or self.config.concurrency == 1:
            return [self._one(q) for q in queries]
        with ThreadPoolExecutor(max_workers=min(self.config.concurrency, len(queries))) as pool:
            return list(pool.map(self._one, queries))

    def _request(self, q: Query) -> dict:
        cfg = self.config
        kwargs = {"model": cfg.model, "messages": self._render(q.messages), "temperature": cfg.temperature,
                  "seed": cfg.seed, "max_completion_tokens": cfg.max_new_tokens}
        if cfg.json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        if cfg.extra_body:
            kwargs["extra_body"] = dict(cfg.extra_body)
        return kwargs

    def _one(self, q: Query) -> Reply:
        oa, cfg = self.openai, self.config
        t0 = time.perf_counter()
        try:
            resp = self.client.chat.completions.create(**self._request(q))
        except (oa.AuthenticationError, oa.PermissionDeniedError) as exc:
            raise IbenchError(f"judge endpoint {cfg.base_url} refused the API key from ${cfg.api_key_env or '(none)'} "
                              f"(HTTP {exc.status_code}): check the key and its access to {cfg.model!r}") from None
        except oa.NotFoundError:
            raise IbenchError(f"judge endpoint {cfg.base_url}: model {cfg.model!r} not found (HTTP 404): check `model` "
                              f"and `base_url` in the judge config") from None
        except oa.APITimeoutError:
            return Reply(error="timeout", detail=f"no answer in {cfg.timeout_s:g} s after {cfg.max_retries} retries",
                         transient=True, seconds=time.perf_counter() - t0)
        except oa.APIConnectionError as exc:
            raise IbenchError(f"cannot reach the judge at {cfg.base_url} ({self.scrub(exc)}): start the server or fix "
                              f"`base_url`; verdicts so far are cached, rerun to resume") from None
        except oa.RateLimitError as exc:
            return Reply(error="rate_limited", detail=self.scrub(exc)[:300], transient=True,
                         seconds=time.perf_counter() - t0)
        except oa.BadRequestError as exc:
            code = str(getattr(exc, "code", "") or "") + " " + str(exc)
            if any(c in code.lower() for c in CONTENT_FILTER_CODES):
                return Reply(finish="content_filter", detail=self.scrub(exc)[:300], seconds=time.perf_counter() - t0)
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
