"""What ``ibench doctor`` (all of it) and ``ibench run`` (the cheap, local part) check before anything loads.

Each check gives ``Check`` rows: ``ok``, ``warn`` or ``blocker``, each with one line saying what was
found and what to do. ``cheap`` asks nothing of the network (settings, the catalog's unreleased and
gated weights, shutdowns, extras, placement against the free GPU memory); ``online`` asks the hub
whether each weight exists and may be downloaded with this token, and each provider whether it
serves the model (its official SDK; models.retrieve / models.get, never a generation request).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ibench.core import deprecations
from ibench.errors import IbenchError, one_line


@dataclass(frozen=True)
class Check:
    kind: str  # settings | weights | api | judge | gpu | disk | extras | shutdown
    item: str
    state: str  # ok | warn | blocker
    detail: str


@dataclass
class Planned:
    """One ``--model`` of the command: its adapter class and parsed settings (None for module:Class)."""

    name: str
    cls: Any = None
    settings: Any = None
    error: str = ""

    @property
    def options(self) -> dict:
        return self.settings.model_dump() if self.settings is not None else {}


def plan(models: list[str], model_arg: Optional[list[str]], model_config: Optional[Path]) -> list[Planned]:
    from ibench.models.settings import parse_settings

    from .options import model_class, model_options

    out = []
    for name in models:
        cls = model_class(name)
        if cls is None:
            out.append(Planned(name))
            continue
        try:
            out.append(Planned(name, cls, parse_settings(name, cls.Settings, model_options(model_arg, model_config))))
        except IbenchError as exc:
            out.append(Planned(name, cls, None, one_line(exc)))
    return out


def api_model_id(p: Planned) -> Optional[str]:
    if p.name != "api" or p.settings is None:
        return None
    from ibench.models.api.providers import default_model

    return p.options.get("model") or default_model(p.options["provider"])


def _shutdown(model: str, what: str, kind: str) -> Optional[Check]:
    text = deprecations.message(model, what)
    if text is None:
        return None
    return Check(kind, model, "blocker" if deprecations.status(model)[0] == "retired" else "warn", text)


def _extra(extra: str, what: str) -> Optional[Check]:
    from ibench.extras import missing

    lacking = missing(extra)
    if not lacking:
        return None
    return Check("extras", extra, "blocker", f"{what} needs the '{extra}' extra ({', '.join(lacking)} not installed): "
                                             f"pip install 'ibench[{extra}]'")


def cheap(planned: list[Planned], scoring: bool, judge_config: Optional[str]) -> list[Check]:
    """Checks that touch neither the network nor any weights."""
    from ibench.models.catalog import entries_for, refuse_unreleased, weight_ids

    rows: list[Check] = []
    for p in planned:
        if p.error:
            rows.append(Check("settings", p.name, "blocker", p.error))
            continue
        if p.settings is None:
            rows.append(Check("settings", p.name, "ok", "a custom adapter (module:Class): not in the catalog"))
            continue
        for ident in weight_ids(p.cls, p.settings).values():
            try:
                refuse_unreleased(ident, f"model {p.name!r}")
            except IbenchError as exc:
                rows.append(Check("weights", ident, "blocker", one_line(exc)))
        model = api_model_id(p)
        if model:
            rows += [c for c in [_shutdown(model, f"model 'api' ({p.options['provider']})", "shutdown"),
                                 _extra("api", "model 'api'")] if c]
        if p.options.get("quantize"):
            from ibench.models.placement import require_backend

            try:
                require_backend(p.options.get("quant_backend") or "bitsandbytes", p.options["quantize"])
            except IbenchError as exc:
                rows.append(Check("extras", "quant", "blocker", f"model {p.name!r}: {one_line(exc)}"))
        rows += _placement(p, entries_for(p.cls, p.settings))
    if judge_config is not None:
        rows += _judge_local(judge_config)
    if scoring:
        rows += [c for c in [_extra("eval", "ibench run (scoring)")] if c]
    return rows


def _placement(p: Planned, entries: list) -> list[Check]:
    """The placement the adapter will choose, checked against this GPU's free memory (CUDA only)."""
    if not entries or "offload" not in p.options:
        return []
    import torch

    if not torch.cuda.is_available():
        return []
    from ibench.devices import resolve_device
    from ibench.models.placement import choose, gpu_free_gb

    device = torch.device(resolve_device(p.options.get("device", "auto")))
    what = f"model {p.name!r} ({entries[0].id})"
    try:
        decision = choose(entries, p.options["offload"], p.options.get("quantize"), gpu_free_gb(device), what)
    except IbenchError as exc:
        return [Check("gpu", entries[0].id, "blocker", one_line(exc))]
    return [Check("gpu", entries[0].id, "ok", f"{what} on {device}: {decision.describe()}")]


def _judge_local(judge_config: str) -> list[Check]:
    try:
        from ibench.evaluators.judge.config import load_judge_config

        config = load_judge_config(judge_config)
    except IbenchError as exc:
        return [Check("judge", judge_config, "blocker", one_line(exc))]
    rows = [c for c in [_shutdown(config.model, f"judge config {judge_config}", "shutdown")] if c]
    if hasattr(config.settings, "base_url"):  # the OpenAI SDK talks to the server
        rows += [c for c in [_extra("judge", f"judge config {judge_config}")] if c]
    return rows


def gated_without_token(planned: list[Planned]) -> list[Check]:
    """Gated weights that are not cached here while no Hugging Face token is set (local checks only)."""
    from ibench.models.catalog import gated_hint, weight_ids
    from ibench.weights import MissingWeights, find_local

    token = _token()
    rows = []
    for p in planned:
        if p.settings is None or token:
            continue
        for key, ident in weight_ids(p.cls, p.settings).items():
            hint = gated_hint(ident)
            if not hint:
                continue
            try:
                cached = find_local(ident, f"{p.name} {key}") is not None
            except MissingWeights:
                continue  # offline and missing: the weights check names it, with the same hint
            if not cached:
                rows.append(Check("weights", ident, "blocker", f"model {p.name!r}: {hint}"))
    return rows


def _token() -> Optional[str]:
    from huggingface_hub import get_token

    return get_token()


def hub(ident: str, what: str) -> Check:
    """Whether the hub has ``ident`` and this machine may download it (or, offline, whether it is cached)."""
    from ibench.models.catalog import gated_hint, lookup
    from ibench.weights import MissingWeights, endpoint, find_local

    if Path(ident).expanduser().exists():
        return Check("weights", ident, "ok", f"{what}: a local folder")
    try:
        found = find_local(ident, what)
    except MissingWeights as exc:
        hint = gated_hint(ident)
        return Check("weights", ident, "blocker", one_line(exc) + (f"; {hint}" if hint else ""))
    if found is not None:
        return Check("weights", ident, "ok", f"{what}: in the Hugging Face cache")
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    token = _token()
    entry = lookup(ident)
    size = f" (~{(entry.download or entry.weights_gb()).gb:g} GB to download)" if entry else ""
    try:
        HfApi(endpoint=endpoint()).auth_check(ident, token=token or False)
    except GatedRepoError:
        where = entry.licence_url if entry else f"{endpoint()}/{ident}"
        if token:
            return Check("weights", ident, "blocker", f"{what}: {ident} is gated and this token has no access yet: "
                                                      f"accept its licence at {where} with the token's account")
        return Check("weights", ident, "blocker", f"{what}: {ident} is gated and no Hugging Face token is set: accept "
                                                  f"its licence at {where}, then `hf auth login` (or set HF_TOKEN)")
    except RepositoryNotFoundError:
        return Check("weights", ident, "blocker", f"{what}: the hub at {endpoint()} has no repo {ident!r} (or it is "
                                                  f"private): check the id, or pass a local folder")
    except (HfHubHTTPError, OSError) as exc:
        return Check("weights", ident, "warn", f"{what}: could not ask the hub ({type(exc).__name__}: "
                                               f"{one_line(str(exc))[:160]})")
    return Check("weights", ident, "ok", f"{what}: on the hub, downloadable with this machine's credentials{size}")


def provider(model: str, provider_name: str, base_url: Optional[str], key_env: str, what: str) -> Check:
    """Whether the provider serves ``model`` to this key (OpenAI models.retrieve, Gemini models.get)."""
    key = os.environ.get(key_env, "").strip() if key_env else "EMPTY"
    if not key:
        return Check("api", model, "blocker", f"{what}: no API key: set the environment variable {key_env}")
    try:
        if provider_name == "openai":
            import openai

            client = openai.OpenAI(api_key=key, base_url=base_url or None, max_retries=0, timeout=20)
            try:
                info = client.models.retrieve(model)
            except (openai.NotFoundError, openai.PermissionDeniedError) as exc:
                return Check("api", model, "blocker", f"{what}: openai does not serve {model!r} to this key "
                                                      f"({exc.status_code}): check the model name (`ibench list models`)")
            except openai.AuthenticationError as exc:
                return Check("api", model, "blocker", f"{what}: openai refused the key in {key_env} ({exc.status_code})")
            except (openai.APIConnectionError, openai.APIStatusError) as exc:
                return Check("api", model, "warn", f"{what}: could not ask openai ({type(exc).__name__})")
            shutdown = getattr(info, "shutdown_date", None) or (info.model_extra or {}).get("shutdown_date")
            note = f"; the provider lists a shutdown on {shutdown}" if shutdown else ""
            return Check("api", model, "warn" if shutdown else "ok", f"{what}: served (models.retrieve){note}")
        from google import genai
        from google.genai import errors, types

        client = genai.Client(api_key=key, http_options=types.HttpOptions(base_url=base_url or None, timeout=20000))
        try:
            client.models.get(model=model)
        except errors.APIError as exc:
            state = "blocker" if exc.code in (400, 401, 403, 404) else "warn"
            return Check("api", model, state, f"{what}: gemini answered {exc.code} {exc.status or ''} for {model!r}: "
                                              f"check the model name and the key in {key_env}")
        return Check("api", model, "ok", f"{what}: served (models.get)")
    except ImportError as exc:
        return Check("api", model, "blocker", f"{what}: the {exc.name} SDK is not installed: pip install 'ibench[api]'")
    except OSError as exc:
        return Check("api", model, "warn", f"{what}: could not reach the provider ({exc})")
