"""Task definitions: one strictly validated YAML file per task."""

from __future__ import annotations

import hashlib
import json
import string
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ibench.errors import IbenchError

from .instruction import MARKER, MARKER_NAME
from .metrics import METRICS
from .vocabulary import POOL_IMAGE_SETS, REAL_IMAGE_SETS, REFERENCE_KINDS, Control, Family, Kind, Pool, RealImageSet, capability
from .yamlio import describe, load_yaml

#: Where target prompts come from: a DreamBench prompt of the (first) subject, a DreamBench scene with every
#: subject, a content photo's caption, or an edit of the source image: ``edit`` (the whole image: a scene edit of
#: a content photo, a DreamBench prompt of a subject photo), ``object_edit`` (the masked subject of a DreamBench
#: source photo: its colour or material), ``replace`` (the source's subject replaced by the referenced subject).
PromptSource = Literal["subject", "scene", "content", "edit", "object_edit", "replace"]
EDIT_PROMPTS = frozenset({"edit", "object_edit", "replace"})
CAPTION_FIELDS = frozenset({"cls", "caption", "control"})  # what a reference caption may use (data/draw.py: Drawer._ref)


class ReferenceSpec(BaseModel):
    """How one reference of an instance is drawn."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    marker: str
    kind: Kind
    control: Optional[Control] = None
    pools: list[Pool] = Field(default_factory=list)
    views: int = Field(default=3, ge=1, description="images per subject reference")
    caption: Optional[str] = None

    @model_validator(mode="after")
    def _check(self) -> "ReferenceSpec":
        if self.caption is not None:
            try:
                fields = {f for _, f, _, _ in string.Formatter().parse(self.caption) if f is not None}
            except ValueError as exc:
                raise ValueError(f"{self.marker}: caption {self.caption!r}: {exc}") from None
            bad = sorted(fields - CAPTION_FIELDS)
            if bad:
                raise ValueError(f"{self.marker}: caption {self.caption!r}: unknown field {{{bad[0]}}} "
                                 f"(use {', '.join('{' + f + '}' for f in sorted(CAPTION_FIELDS))})")
        if not MARKER_NAME.match(self.marker):
            raise ValueError(f"marker {self.marker!r} must look like 'ref#1'")
        if (self.kind == "control") != (self.control is not None):
            raise ValueError(f"{self.marker}: `control` is required for kind control and only there")
        allowed = REFERENCE_KINDS[self.kind].pools
        bad = [p for p in self.pools if p not in allowed]
        if bad:
            raise ValueError(f"{self.marker}: pool {bad[0]!r} does not fit kind {self.kind}")
        return self


class ReferenceSetSpec(BaseModel):
    """The real images FID/KID compare a task's outputs with, and why those."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pools: list[RealImageSet] = Field(min_length=1)
    reason: str = Field(min_length=10)


def drawn_image_sets(references: list[ReferenceSpec]) -> list[str]:
    """The real-image sets a task's references draw from (what ``reference_set`` used to be implicitly)."""
    sets: list[str] = []
    for r in references:
        sets += [POOL_IMAGE_SETS[p] for p in r.pools if p in POOL_IMAGE_SETS] or list(REFERENCE_KINDS[r.kind].real_images)
    return list(dict.fromkeys(sets))
class ScalingSpec(BaseModel):
    """Tasks of one scaling group share their instances: the same subjects, views, scene and paraphrase
    index for each instance; a task keeps the first N of ``max_references`` subjects (N: its subject
    references), so its instances differ from the group's other tasks only in the number of references."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    group: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    max_references: int = Field(ge=1, le=8)


GENERATION_FIELDS = {"name", "version", "templates", "references", "prompts"}


class TaskSpec(BaseModel):
    """A task: instruction templates, how instances are drawn, metrics and the human checklist."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    family: Family
    version: int = Field(ge=1)
    description: str
    templates: list[str] = Field(min_length=1)
    references: list[ReferenceSpec] = Field(default_factory=list)
    prompts: PromptSource = "subject"
    instances: int = Field(default=50, ge=1)
    samples: int = Field(default=4, ge=1)
    metrics: list[str] = Field(default_factory=list)
    set_metrics: list[str] = Field(default_factory=list)
    reference_set: Optional[ReferenceSetSpec] = None  # required with set_metrics (load_task says what to add)
    checklist: list[str] = Field(min_length=1)
    scaling: Optional[ScalingSpec] = None

    @model_validator(mode="after")
    def _check(self) -> "TaskSpec":
        markers = [r.marker for r in self.references]
        if len(set(markers)) != len(markers):
            raise ValueError("a reference marker is defined more than once")
        for i, template in enumerate(self.templates):
            used = set(MARKER.findall(template))
            if used != set(markers):
                missing, extra = set(markers) - used, used - set(markers)
                what = f"does not use [{sorted(missing)[0]}]" if missing else f"uses undefined [{sorted(extra)[0]}]"
                raise ValueError(f"templates[{i}] {what}")
            if "{prompt}" not in template:
                raise ValueError(f"templates[{i}] has no {{prompt}} placeholder")
        if self.prompts == "content" and not any(
            r.kind == "content" or "content" in r.pools for r in self.references
        ):
            raise ValueError("prompts: content needs a reference drawn from the content pool")
        if self.set_metrics and self.reference_set is None:
            raise ValueError("reference_set is required with set_metrics")
        self._check_edits()
        self._check_scaling()
        return self

    def _check_edits(self) -> None:
        sources = [r for r in self.references if r.kind == "source"]
        if len(sources) > 1:
            raise ValueError("a task has at most one source reference (the image to edit)")
        if self.prompts in EDIT_PROMPTS and not sources:
            raise ValueError(f"prompts: {self.prompts} needs a reference of kind source (the image to edit)")
        if self.prompts in ("object_edit", "replace") and sources[0].pools != ["subject"]:
            raise ValueError(f"prompts: {self.prompts} needs the source drawn from pools: [subject] (its class names "
                             f"the edited object)")
        if self.prompts == "replace" and not any(r.kind == "subject" for r in self.references):
            raise ValueError("prompts: replace needs a subject reference (what replaces the source's subject)")
        for i, r in enumerate(self.references):
            if "same_source" in r.pools and (r.pools != ["same_source"] or not sources
                                             or self.references.index(sources[0]) > i):
                raise ValueError(f"{r.marker}: pool same_source needs a source reference before it, and no other pool")

    def _check_scaling(self) -> None:
        if self.scaling is None:
            return
        if not self.references or any(r.kind != "subject" or r.pools for r in self.references):
            raise ValueError("scaling: every reference must be a DreamBench subject (kind subject, no pools)")
        if len(self.references) > self.scaling.max_references:
            raise ValueError(f"scaling: {len(self.references)} subject references exceed max_references "
                             f"{self.scaling.max_references}")
        if self.prompts != "scene":
            raise ValueError("scaling: prompts must be scene (one scene for every number of subjects)")

    @property
    def capabilities(self) -> set[str]:
        """What a model must support to render this task's instances (``subject``, ``control:edge``, ...)."""
        return {capability(r.kind, r.control) for r in self.references}

    def spec_hash(self) -> str:
        """Hash of what defines the instances and so the outputs (part of the run id).

        Metrics, checklist, description and default counts are left out: editing them neither
        changes an image nor should make a run start over.
        """
        fields = GENERATION_FIELDS | ({"scaling"} if self.scaling else set())  # unset: the hash of older tasks stays
        blob = json.dumps(self.model_dump(mode="json", include=fields), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_task(path: str | Path) -> TaskSpec:
    """Load and validate one task YAML; errors name the file and the key."""
    path = Path(path)
    data = load_yaml(path)
    _require_reference_set(path, data)
    try:
        spec = TaskSpec.model_validate(data)
    except ValidationError as exc:
        raise IbenchError(f"{path}: {describe(exc)}") from None
    if spec.name != path.stem:
        raise IbenchError(f"{path}: key 'name': {spec.name!r} must match the file name {path.stem!r}")
    _check_metrics(path, spec)
    return spec


def _check_metrics(path: Path, spec: TaskSpec) -> None:
    """Metric names must be registered (a typo would silently score nothing), each in the right list."""
    for key, names, level in (("metrics", spec.metrics, "image"), ("set_metrics", spec.set_metrics, "set")):
        for i, name in enumerate(names):
            metric = METRICS.get(name)
            known = sorted(n for n, m in METRICS.items() if (m.level == "set") == (level == "set"))
            if metric is not None and (metric.level == "set") != (level == "set"):
                other = "set_metrics" if metric.level == "set" else "metrics"
                raise IbenchError(f"{path}: key '{key}.{i}': {name!r} belongs under '{other}'")
            if metric is None:
                raise IbenchError(f"{path}: key '{key}.{i}': unknown {key.replace('_', ' ')[:-1]} {name!r} "
                                  f"(known: {', '.join(known)})")


def _require_reference_set(path: Path, data: dict) -> None:
    """A task with set metrics names its reference set; the error says exactly what to add."""
    if not data.get("set_metrics") or "reference_set" in data:
        return
    try:
        refs = [ReferenceSpec.model_validate(r) for r in data.get("references") or []]
        pools = drawn_image_sets(refs) or ["content"]
    except (ValidationError, TypeError):
        pools = ["content"]
    raise IbenchError(
        f"{path}: key 'reference_set' is required with set_metrics (the real images FID/KID compare with): add "
        f"`reference_set: {{pools: [{', '.join(pools)}], reason: \"<why outputs should look like these>\"}}` "
        f"(pools: {', '.join(REAL_IMAGE_SETS)}; [{', '.join(pools)}] is what this task's references draw from)")
