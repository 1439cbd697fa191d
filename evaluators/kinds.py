"""The metric-kind protocol and what a kind gets to work with (``ScoringContext``).

A kind scores all the chosen metrics of its kind in one call, so it can share work between them
(one feature pass for CLIP-T and CLIP-I). Per-instance kinds return rows ``{instance_id, sample,
metric, condition, value}``; set-level kinds return one record per metric. ``details`` adds fields
to a metric's entry in results.json (e.g. a judge's failure counts). A sample a kind could not score is
recorded with its reason (``fail``: a failure, e.g. a refused verdict or no face; ``not_asked``: nothing
was tried, e.g. the judge's call budget ran out), so results.json's coverage says why it has no value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Optional

from ibench.core.instance import Instance
from ibench.core.manifest import Manifest
from ibench.core.metrics import Level, MetricDef
from ibench.core.paths import DataRoot, sha256_file
from ibench.core.rundir import Generation, RunStore
from ibench.core.taskspec import TaskSpec
from ibench.errors import IbenchError

from .cache import FeatureCache
from .config import ExtractorConfig
from .extractor import Extractor


class ReferenceHasher:
    """SHA-256 of reference files, computed once per path."""

    def __init__(self) -> None:
        self.memo: dict[Path, str] = {}

    def __call__(self, path: Path) -> str:
        if path not in self.memo:
            if not path.is_file():
                raise IbenchError(f"reference image {path} not found (is the run's data root {path.parent} "
                                  f"still there? pass --data-dir)")
            self.memo[path] = sha256_file(path)
        return self.memo[path]


@dataclass
class ScoringContext:
    """One scoring run: the run's records, where its references are, and the shared extractors/caches."""

    store: RunStore
    manifest: Manifest
    spec: Optional[TaskSpec]
    instances: dict[str, Instance]
    ok: list[Generation]  # the successful generations of known instances
    root: DataRoot
    config: ExtractorConfig
    device: str
    batch_size: int
    num_workers: int
    progress: bool
    extractors: dict[str, Extractor] = field(default_factory=dict)
    caches: dict[str, FeatureCache] = field(default_factory=dict)
    hasher: ReferenceHasher = field(default_factory=ReferenceHasher)
    options: dict[str, dict] = field(default_factory=dict)  # per kind name (e.g. judge: {config, max_calls})


@dataclass
class KindOutput:
    rows: dict[str, list[dict]] = field(default_factory=dict)  # per-instance metrics
    sets: dict[str, dict] = field(default_factory=dict)  # set-level metrics
    skipped: dict[str, str] = field(default_factory=dict)  # metric -> why it has no value
    details: dict[str, dict] = field(default_factory=dict)  # metric -> extra results.json fields
    failed: dict[str, dict[tuple[str, int], str]] = field(default_factory=dict)  # metric -> (instance, sample) -> why
    missing: dict[str, dict[tuple[str, int], str]] = field(default_factory=dict)  # metric -> samples not asked -> why

    def fail(self, metric: str, instance_id: str, sample: int, reason: str) -> None:
        """Record that a sample of ``metric`` failed (a sample with rows for other conditions is partly scored)."""
        self.failed.setdefault(metric, {}).setdefault((instance_id, sample), reason)

    def not_asked(self, metric: str, instance_id: str, sample: int, reason: str) -> None:
        """Record that a sample of ``metric`` was not tried (e.g. a call budget ran out)."""
        self.missing.setdefault(metric, {}).setdefault((instance_id, sample), reason)


class MetricKind:
    """Base class of a metric kind: override ``score`` (and ``check``/``extractors`` when needed)."""

    level: ClassVar[Level] = "instance"

    def check(self, metric: MetricDef) -> None:
        """Raise ``IbenchError`` if this kind cannot score ``metric`` (called by ``register``)."""

    def applies(self, metric: MetricDef, instance: Instance) -> bool:
        """Whether ``metric`` plans to score ``instance`` (what its coverage counts); by default every instance
        for a metric without a target, else the instances with a condition of its target."""
        return metric.target is None or bool(metric.conditions(instance))

    def extractors(self, metrics: list[MetricDef]) -> set[str]:
        """Names (in the extractor table) of the extractors these metrics need."""
        return {m.extractor for m in metrics if m.extractor}

    def score(self, ctx: ScoringContext, metrics: list[MetricDef]) -> KindOutput:
        raise NotImplementedError
