"""Model adapters: a lazy registry (backends import only when used) and ``module:Class`` loading."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from ibench.errors import IbenchError, unknown

from .base import ModelAdapter

BUILTIN = {
    "tiny": "ibench.models.tiny:TinyModel",
    "folder": "ibench.models.folder:FolderModel",
    "references": "ibench.models.references:ReferencesModel",
    "sd-composite": "ibench.models.sd_composite:SDCompositeModel",
    "omnigen": "ibench.models.omnigen:OmniGenModel",
    "text2img": "ibench.models.text2img:Text2ImgModel",
    "multiref": "ibench.models.multiref:MultiRefModel",
    "blip-diffusion": "ibench.models.blip_diffusion:BlipDiffusionModel",
    "blip-diffusion-control": "ibench.models.blip_diffusion:BlipDiffusionControlModel",
    "api": "ibench.models.api.adapter:APIModel",
}


def register_model(name: str, target: str) -> None:
    """Add (or replace) a model adapter by name: ``target`` is ``package.module:Class``."""
    BUILTIN[name] = target


def load_class(target: str) -> type[ModelAdapter]:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise IbenchError(f"cannot import model module {module_name!r}: {exc}") from None
    cls = getattr(module, attr, None)
    if not attr or cls is None:
        raise IbenchError(f"model {target!r}: module {module_name!r} has no class {attr!r} (expected module:Class)")
    if not (isinstance(cls, type) and issubclass(cls, ModelAdapter)):
        raise IbenchError(f"{target!r} is not a ModelAdapter subclass (ibench.models.base.ModelAdapter)")
    if inspect.isabstract(cls):
        raise IbenchError(f"{target!r} does not implement {', '.join(sorted(cls.__abstractmethods__))}()")
    return cls


def get_model(name: str, **options: Any) -> ModelAdapter:
    """A model adapter by registered name or ``package.module:Class``."""
    if ":" in name:
        target = name
    elif name in BUILTIN:
        target = BUILTIN[name]
    else:
        raise unknown("model", name, list(BUILTIN))
    return load_class(target)(**options)
