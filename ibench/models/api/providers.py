"""The providers of the ``api`` adapter, through their official SDKs (``openai``, ``google-genai``).

A provider turns a ``Rendered`` instruction into the request it sends (``describe``: what is cached
and recorded, images as hashes, never credentials) and into a ``Reply`` (``call``). Errors are sorted
into ``Transient`` (retried), ``Fatal`` (the run stops: bad key, unknown model) and anything else (that
sample fails). SDK-side retries are off: ``ibench.models.api.retry`` owns them.
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar, Optional

from ibench.errors import IbenchError

from .cache import Reply
from .render import Rendered
from .retry import Transient, retry_after

REFUSAL_CODES = {"moderation_blocked", "content_policy_violation", "image_generation_user_error"}


class Fatal(Exception):
    """An error every later request would hit too (authentication, permissions, unknown model)."""


def _missing_sdk(package: str) -> IbenchError:
    return IbenchError(f"the api adapter needs the {package!r} package: pip install 'ibench[api]'")


class Provider:
    name: ClassVar[str]
    key_env: ClassVar[str]  # the environment variable holding the API key, by default
    seed_support: ClassVar[bool]

    def __init__(self, settings: dict, api_key: str):
        self.s = settings

    def describe(self, rendered: Rendered, seed: int) -> dict:
        raise NotImplementedError

    def call(self, rendered: Rendered, seed: int) -> Reply:
        raise NotImplementedError


class OpenAIProvider(Provider):
    """OpenAI Images: ``images.generate`` without references, ``images.edit`` with every reference image."""

    name = "openai"
    key_env = "OPENAI_API_KEY"
    seed_support = False  # the Images API takes no seed

    def __init__(self, settings: dict, api_key: str):
        super().__init__(settings, api_key)
        try:
            import openai
        except ImportError:
            raise _missing_sdk("openai") from None
        self.openai = openai
        self.client = openai.OpenAI(api_key=api_key, base_url=settings.get("base_url") or None, max_retries=0,
                                    timeout=settings["timeout"])

    def _params(self) -> dict:
        s = self.s
        params = {"model": s["model"], "n": 1, **(s.get("params") or {})}
        for key in ("size", "quality"):
            if s.get(key):
                params[key] = s[key]
        return params

    def describe(self, rendered: Rendered, seed: int) -> dict:
        endpoint = "images.edit" if rendered.images else "images.generate"
        return {"endpoint": endpoint, "prompt": rendered.prompt(), "images": rendered.hashes(), **self._params()}

    def call(self, rendered: Rendered, seed: int) -> Reply:
        o = self.openai
        try:
            if rendered.images:
                files = [(f"image_{i}.png", data, "image/png") for i, data in enumerate(rendered.images, 1)]
                resp = self.client.images.edit(image=files, prompt=rendered.prompt(), **self._params())
            else:
                resp = self.client.images.generate(prompt=rendered.prompt(), **self._params())
        except (o.AuthenticationError, o.PermissionDeniedError, o.NotFoundError) as exc:
            raise Fatal(f"openai: {exc.status_code} {_openai_message(exc)}") from None
        except o.BadRequestError as exc:
            code = (exc.body or {}).get("code") if isinstance(exc.body, dict) else None
            if code in REFUSAL_CODES:
                return Reply(refusal=f"{code}: {_openai_message(exc)}")
            raise
        except (o.RateLimitError, o.InternalServerError) as exc:
            raise Transient(f"openai: {exc.status_code} {_openai_message(exc)}", retry_after(exc.response.headers)) from None
        except (o.APIConnectionError, o.APITimeoutError) as exc:
            raise Transient(f"openai: {type(exc).__name__}: {exc}") from None
        except o.APIStatusError as exc:
            if exc.status_code >= 500 or exc.status_code in (408, 409):
                raise Transient(f"openai: {exc.status_code} {_openai_message(exc)}",
                                retry_after(exc.response.headers)) from None
            raise
        item = (resp.data or [None])[0]
        meta: dict[str, Any] = {"revised_prompt": getattr(item, "revised_prompt", None)}
        if resp.usage is not None:
            meta["usage"] = {"input_tokens": resp.usage.input_tokens, "output_tokens": resp.usage.output_tokens}
        if item is None or not item.b64_json:
            return Reply(refusal="openai returned no image", meta=meta)
        return Reply(image=base64.b64decode(item.b64_json), meta=meta)


def _openai_message(exc) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    return str(body.get("message") or exc.message)


class GeminiProvider(Provider):
    """Gemini ``generateContent``: the instruction as interleaved text and image parts, image output modality."""

    name = "gemini"
    key_env = "GEMINI_API_KEY"
    seed_support = True  # sent in generationConfig; the API documents it as best effort

    def __init__(self, settings: dict, api_key: str):
        super().__init__(settings, api_key)
        try:
            import httpx2
            from google import genai
            from google.genai import errors, types
        except ImportError:
            raise _missing_sdk("google-genai") from None
        self.types, self.errors, self.transport_errors = types, errors, (httpx2.TransportError, OSError)
        options = types.HttpOptions(base_url=settings.get("base_url") or None, timeout=int(settings["timeout"] * 1000))
        self.client = genai.Client(api_key=api_key, http_options=options)

    def _config(self, seed: int) -> dict:
        s = self.s
        config: dict[str, Any] = {"response_modalities": list(s.get("modalities") or ["IMAGE"]), "candidate_count": 1,
                                  "seed": seed, **(s.get("params") or {})}
        image = {k: v for k, v in (("aspect_ratio", s.get("aspect_ratio")), ("image_size", s.get("size"))) if v}
        if image:
            config["image_config"] = image
        return config

    def describe(self, rendered: Rendered, seed: int) -> dict:
        hashes = rendered.hashes()
        parts = [{"text": seg} if isinstance(seg, str) else {"image": hashes[seg - 1]} for seg in rendered.segments]
        return {"endpoint": "generateContent", "model": self.s["model"], "parts": parts, "config": self._config(seed)}

    def call(self, rendered: Rendered, seed: int) -> Reply:
        t = self.types
        parts = [t.Part.from_text(text=seg) if isinstance(seg, str)
                 else t.Part.from_bytes(data=rendered.images[seg - 1], mime_type="image/png") for seg in rendered.segments]
        try:
            resp = self.client.models.generate_content(model=self.s["model"], contents=[t.Content(role="user", parts=parts)],
                                                       config=t.GenerateContentConfig(**self._config(seed)))
        except self.errors.APIError as exc:
            message = f"gemini: {exc.code} {exc.status or ''} {exc.message or ''}".strip()
            if exc.code in (401, 403, 404):
                raise Fatal(message) from None
            if exc.code in (408, 429) or (exc.code or 0) >= 500:
                raise Transient(message, retry_after(getattr(exc.response, "headers", None))) from None
            raise
        except self.transport_errors as exc:  # connection refused, reset, timed out
            raise Transient(f"gemini: {type(exc).__name__}: {exc}") from None
        return self._reply(resp)

    def _reply(self, resp) -> Reply:
        texts, image = [], None
        cand = (resp.candidates or [None])[0]
        for part in (cand.content.parts or []) if cand is not None and cand.content else []:
            if part.inline_data is not None and (part.inline_data.mime_type or "").startswith("image/") and image is None:
                image = part.inline_data.data
            elif part.text:
                texts.append(part.text)
        meta: dict[str, Any] = {"text": " ".join(texts) or None, "model_version": resp.model_version}
        if image is not None:
            return Reply(image=image, meta=meta)
        feedback = resp.prompt_feedback
        if feedback is not None and feedback.block_reason is not None:
            reason = f"{_name(feedback.block_reason)}: {feedback.block_reason_message or 'prompt blocked'}"
        elif cand is not None and cand.finish_reason is not None:
            reason = f"{_name(cand.finish_reason)}: {cand.finish_message or ' '.join(texts) or 'no image returned'}"
        else:
            reason = "no image returned"
        return Reply(refusal=reason, meta=meta)


def _name(value) -> str:
    return getattr(value, "value", None) or str(value)


PROVIDERS: dict[str, type[Provider]] = {"openai": OpenAIProvider, "gemini": GeminiProvider}


def default_model(provider: str) -> Optional[str]:
    """Models the providers serve today (ibench.models.catalog_data.API_MODELS has the sources)."""
    return {"openai": "gpt-image-2", "gemini": "gemini-3.1-flash-image"}.get(provider)
