"""The evaluators' open tables: metric kinds and feature extractors, each ``name -> "module:Class"``.

Scoring dispatches every metric through ``KINDS[metric.kind]``; a kind asks for extractors by name
through ``EXTRACTORS``. Adding a metric kind or an extractor is one class and one entry here (or a
call to ``register_kind`` / ``register_extractor`` from your own code); ``register`` adds a metric
definition and refuses, in one line, one whose kind or extractor no table can serve.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ibench.core.metrics import METRICS, MetricDef
from ibench.errors import IbenchError, unknown

if TYPE_CHECKING:
    from .config import ExtractorConfig
    from .extractor import Extractor
    from .kinds import MetricKind

KINDS: dict[str, str] = {
    "similarity": "ibench.evaluators.similarity:SimilarityKind",
    "control": "ibench.evaluators.control:ControlKind",
    "set": "ibench.evaluators.setlevel:SetKind",
    "copy": "ibench.evaluators.copy:CopyKind",
    "judge": "ibench.evaluators.judge.kind:JudgeKind",
    "locality": "ibench.evaluators.perceptual:LocalityKind",
    "diversity": "ibench.evaluators.perceptual:DiversityKind",
}
EXTRACTORS: dict[str, str] = {
    "clip": "ibench.evaluators.clip:ClipImage",
    "clip_text": "ibench.evaluators.clip:ClipText",
    "dino": "ibench.evaluators.dino:Dino",
    "gram": "ibench.evaluators.gram:Gram",
    "inception": "ibench.evaluators.inception:Inception",
    "dinov2": "ibench.evaluators.dino:Dinov2",
    "csd": "ibench.evaluators.csd:Csd",
    "lpips": "ibench.evaluators.perceptual:Lpips",
    "face": "ibench.evaluators.face:Face",
}


def load_target(target: str, what: str) -> Any:
    """The object a ``module:Name`` entry names; one line when it cannot be imported."""
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise IbenchError(f"{what} {target!r}: cannot import {module_name!r} ({exc})") from None
    obj = getattr(module, attr, None) if attr else None
    if obj is None:
        raise IbenchError(f"{what} {target!r}: module {module_name!r} has no {attr!r} (expected module:Class)")
    return obj


@lru_cache(maxsize=None)
def _kind(target: str) -> "MetricKind":
    return load_target(target, "metric kind")()


def get_kind(name: str) -> "MetricKind":
    """The implementation of a metric kind (one instance per kind)."""
    if name not in KINDS:
        raise unknown("metric kind", name, list(KINDS))
    return _kind(KINDS[name])


def extractor_class(name: str) -> "type[Extractor]":
    if name not in EXTRACTORS:
        raise unknown("extractor", name, list(EXTRACTORS))
    return load_target(EXTRACTORS[name], "extractor")


def build_extractors(names: set[str], config: "ExtractorConfig", device: str) -> "dict[str, Extractor]":
    """Extractor objects by name (cheap: weights are located, not loaded); an unknown name is one line, and
    so are the weights missing on this machine, all of them at once (``ibench.weights.gather``)."""
    from ibench.weights import gather

    shared: dict = {}
    classes = {name: extractor_class(name) for name in sorted(names)}
    built = gather([lambda n=name, c=cls: c.build(config, device, shared) for name, cls in classes.items()])
    return dict(zip(classes, built))


def register_kind(name: str, target: str) -> None:
    """Add (or replace) a metric kind: ``target`` is ``module:Class`` of a ``MetricKind``."""
    KINDS[name] = target
    _kind.cache_clear()


def register_extractor(name: str, target: str) -> None:
    """Add (or replace) an extractor: ``target`` is ``module:Class`` of an ``Extractor``."""
    EXTRACTORS[name] = target


def register(metric: MetricDef) -> MetricDef:
    """Add a metric definition that scoring can serve: its kind and extractors must be in the tables."""
    if metric.kind not in KINDS:
        raise unknown(f"metric kind of metric {metric.name!r}:", metric.kind, list(KINDS))
    kind = get_kind(metric.kind)
    if metric.level != kind.level:
        raise IbenchError(f"metric {metric.name!r}: kind {metric.kind!r} is {kind.level}-level, but the metric "
                          f"says level {metric.level!r}")
    for name in sorted(kind.extractors([metric])):
        if name not in EXTRACTORS:
            raise unknown(f"extractor of metric {metric.name!r}:", name, list(EXTRACTORS))
    kind.check(metric)
    METRICS[metric.name] = metric
    return metric
