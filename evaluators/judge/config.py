"""The judge config: which VLM answers, through which backend, with which decoding (``--judge-config``).

A YAML file or a preset name shipped in ``configs/`` (``ibench.evaluators.judge`` package data)::

    backend: openai                 # transformers | openai
    model: Qwen/Qwen2.5-VL-72B-Instruct
    revision: null                  # a commit (transformers) or a dated model snapshot (API); part of the identity
    base_url: http://localhost:8000/v1
    api_key_env: null               # NAME of the environment variable holding the key (never the key)
    mode: generate                  # generate | logprob (transformers only)
    concurrency: 8
    max_retries: 3
    timeout_s: 120
    image_max_side: 768

Only the fields that change verdicts (``IDENTITY_FIELDS``) form the judge's identity; where to reach the
judge, how many requests at once, batch sizes and devices do not.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ibench.core import deprecations
from ibench.core.yamlio import describe, load_yaml
from ibench.errors import IbenchError, unknown

CONFIG_ENV = "IBENCH_JUDGE_CONFIG"
DEFAULT_PRESET = "qwen2.5-vl-7b"
IDENTITY_FIELDS = ("backend", "model", "revision", "mode", "prompts", "temperature", "seed", "max_new_tokens",
                   "image_max_side", "max_reference_images", "system_role", "json_mode", "dtype", "extra_body")


class JudgeConfig(BaseModel):
    """One judge. See the module docstring and docs/judge.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["transformers", "openai"]
    model: str = Field(min_length=1)
    revision: Optional[str] = None
    mode: Literal["generate", "logprob"] = "generate"
    prompts: str = "v1"  # a shipped prompt version or a path to your own prompt YAML
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    seed: int = 0
    max_new_tokens: int = Field(default=256, ge=8)
    image_max_side: int = Field(default=768, ge=16)
    max_reference_images: Optional[int] = Field(default=None, ge=1)  # per reference; None: all its images
    system_role: bool = True  # False: the rubric goes into the first user turn (templates without a system role)
    max_retries: int = Field(default=3, ge=0)
    # openai backend
    base_url: Optional[str] = None
    api_key_env: Optional[str] = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    concurrency: int = Field(default=8, ge=1, le=256)
    timeout_s: float = Field(default=120.0, gt=0)
    json_mode: bool = False  # ask the server for a JSON object (response_format)
    extra_body: dict[str, Any] = Field(default_factory=dict)  # server-specific request fields (e.g. vLLM's)
    # transformers backend
    device: str = "auto"
    dtype: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    batch_size: int = Field(default=8, ge=1)

    @model_validator(mode="after")
    def _check(self) -> "JudgeConfig":
        if self.mode == "logprob" and self.backend != "transformers":
            raise ValueError("mode logprob needs backend transformers (an API returns text)")
        if self.backend == "openai" and not self.base_url:
            raise ValueError("backend openai needs base_url (e.g. http://localhost:8000/v1 or https://api.openai.com/v1)")
        return self

    def identity(self) -> dict:
        """What the verdicts depend on (the prompt file's hash is added by the prompts)."""
        return {k: getattr(self, k) for k in IDENTITY_FIELDS}

    def api_key(self) -> str:
        """The API key from the environment variable the config names (``EMPTY`` when it names none)."""
        if not self.api_key_env:
            return "EMPTY"  # a local vLLM server without --api-key accepts anything
        key = os.environ.get(self.api_key_env, "")
        if not key.strip():
            raise IbenchError(f"judge config: api_key_env {self.api_key_env} is not set in the environment "
                              f"(export {self.api_key_env}=... ; the key is never read from a file)")
        return key.strip()


def identity_hash(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def presets() -> dict[str, Path]:
    """Shipped judge configs by name (``configs/<name>.yaml``); ``tiny`` is built in code (``tiny.py``)."""
    folder = resources.files("ibench.evaluators.judge").joinpath("configs")
    return {p.name[:-5]: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".yaml")}


def load_judge_config(source: "JudgeConfig | dict | str | Path | None" = None) -> JudgeConfig:
    """A config object, dict, YAML file or preset name; None: ``$IBENCH_JUDGE_CONFIG``, else the default preset."""
    if isinstance(source, JudgeConfig):
        return source
    if source is None:
        source = os.environ.get(CONFIG_ENV) or DEFAULT_PRESET
    where = "judge config"
    if str(source) == "tiny":  # the offline embedded judge: a tiny random VLM (meaningless verdicts)
        from .tiny import tiny_judge_config

        source = tiny_judge_config()
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if not path.is_file():
            known = presets()
            if str(source) not in known:
                if str(source).endswith((".yaml", ".yml")) or os.sep in str(source):
                    raise IbenchError(f"judge config {path} not found")
                raise unknown("judge config", str(source), [*known, "tiny"])
            path = known[str(source)]
        where = str(path)
        source = load_yaml(path, what="a judge config")
    try:
        config = JudgeConfig.model_validate(source)
    except ValidationError as exc:
        raise IbenchError(f"{where}: {describe(exc)}") from None
    if config.backend == "openai":  # a shut-down API model is refused (naming its successor); one line before
        deprecations.check(config.model, where)
    return config
