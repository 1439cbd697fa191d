"""The judge config: which VLM answers, through which backend, with which decoding (``--judge-config``).

A YAML file or a preset name shipped in ``configs/`` (``ibench.evaluators.judge`` package data)::

    backend: openai                 # a name in the backend table (transformers | openai | yours)
    model: Qwen/Qwen2.5-VL-72B-Instruct
    revision: null                  # a commit (transformers) or a dated model snapshot (API); part of the identity
    mode: generate                  # generate | logprob (a backend that reads answer probabilities)
    image_max_side: 768
    base_url: http://localhost:8000/v1   # from here on: the backend's own settings (its ``Settings`` model)
    api_key_env: null
    concurrency: 8

The common keys are the fields of ``JudgeConfig``; every other key belongs to the backend's own
``Settings`` (``ibench.evaluators.judge.backend``), which refuses a key it does not know. In memory
the config holds ``backend`` and ``settings`` (that backend's settings object). Only what changes
verdicts forms the judge's identity (``COMMON_IDENTITY`` and the settings' non-runtime fields); where
to reach the judge, how many requests at once, batch sizes and devices do not.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import (BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, ValidationInfo, field_validator,
                      model_validator)

from ibench.core import deprecations
from ibench.core.yamlio import describe, load_yaml
from ibench.errors import IbenchError, unknown

from .backend import BACKENDS, BackendSettings, backend_class

CONFIG_ENV = "IBENCH_JUDGE_CONFIG"
DEFAULT_PRESET = "qwen2.5-vl-7b"
COMMON_IDENTITY = ("backend", "model", "revision", "mode", "prompts", "temperature", "seed", "max_new_tokens",
                   "image_max_side", "max_reference_images", "system_role")


class JudgeConfig(BaseModel):
    """One judge: the common keys, and the backend's own settings. See the module docstring and docs/judge.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str
    model: str = Field(min_length=1)
    revision: Optional[str] = None
    mode: Literal["generate", "logprob"] = "generate"
    prompts: str = "v1"  # a shipped prompt version or a path to your own prompt YAML
    temperature: Optional[float] = Field(default=0.0, ge=0.0, le=2.0)  # None: send none (the API's default)
    seed: int = 0
    max_new_tokens: int = Field(default=256, ge=8)
    image_max_side: int = Field(default=768, ge=16)
    max_reference_images: Optional[int] = Field(default=None, ge=1)  # per reference; None: all its images
    system_role: bool = True  # False: the rubric goes into the first user turn (templates without a system role)
    max_retries: int = Field(default=3, ge=0)
    settings: SerializeAsAny[BackendSettings]

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        """The file's flat form: every key that is not a common key is a setting of the named backend."""
        if not isinstance(data, dict) or not isinstance(data.get("settings", {}), dict):
            return data  # a settings object already, or a value pydantic refuses with its key
        own = {**data.get("settings", {}), **{k: v for k, v in data.items() if k not in cls.model_fields}}
        try:
            own = backend_class(str(data.get("backend"))).Settings.model_validate(own)
        except IbenchError:
            pass  # no such backend: the backend field's own check names the problem
        return {**{k: v for k, v in data.items() if k in cls.model_fields}, "settings": own}

    @field_validator("backend")
    @classmethod
    def _known(cls, name: str) -> str:
        try:
            backend_class(name)
        except IbenchError as exc:
            raise ValueError(str(exc)) from None
        return name

    @field_validator("mode")
    @classmethod
    def _offered(cls, mode: str, info: ValidationInfo) -> str:
        name = info.data.get("backend")
        offered = backend_class(name).modes if name else {mode}
        if mode not in offered:
            raise ValueError(f"mode {mode}: backend {name} offers {', '.join(sorted(offered))} only "
                             f"(logprob needs a backend that reads answer probabilities, e.g. transformers)")
        return mode

    def identity(self) -> dict:
        """What the verdicts depend on (the backend adds what it resolves; the prompts add their file's hash)."""
        return {**{k: getattr(self, k) for k in COMMON_IDENTITY}, **self.settings.identity()}


def identity_hash(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def presets() -> dict[str, Path]:
    """Shipped judge configs by name (``configs/<name>.yaml``); ``tiny`` is built in code (``tiny.py``)."""
    folder = resources.files("ibench.evaluators.judge").joinpath("configs")
    return {p.name[:-5]: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".yaml")}


def _problem(exc: ValidationError, source: Any) -> str:
    """The first problem, naming the backend's own keys when a key is unknown."""
    text = describe(exc)
    name = source.get("backend") if isinstance(source, dict) else None
    if exc.errors()[0]["type"] == "extra_forbidden" and name in BACKENDS:
        own = ", ".join(backend_class(name).Settings.model_fields)
        text += f" (backend {name} takes the common keys and: {own or 'nothing else'})"
    return text


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
        raise IbenchError(f"{where}: {_problem(exc, source)}") from None
    deprecations.check(config.model, where)  # a shut-down API model is refused (naming its successor); one line before
    return config
