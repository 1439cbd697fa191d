"""The run manifest: a run's identity (what its outputs depend on) and where it came from.

``identity`` holds only what changes the outputs; its hash is the run id, so the same command
resumes the same run and two models never share one. Everything else (creation time, data root,
package versions) is provenance and never part of the id.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ibench.errors import IbenchError

from .yamlio import describe


class Identity(BaseModel):
    """What a run's outputs depend on (see ``run_id``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str
    task_version: int
    spec_hash: str
    model: str
    model_settings: dict[str, Any] = Field(default_factory=dict)
    seed: int
    data: str
    instances: Optional[str] = None  # hash of a user's own instance list (``--instances``)

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def run_id(self) -> str:
        """``<task>-<model>-<10 hex of the identity hash>``, safe as a folder name."""
        digest = hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True, default=str).encode()).hexdigest()[:10]
        return f"{self.task}-{self.model}-{digest}".replace(":", "_").replace("/", "_")


class ScalingPoint(BaseModel):
    """Where a run of a reference-scaling task sits: its group and its number of subject references."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    group: str
    n_references: int

    @classmethod
    def of(cls, spec: Any) -> Optional["ScalingPoint"]:
        """The point of a ``TaskSpec`` in its scaling group (None for a task of no group)."""
        return cls(group=spec.scaling.group, n_references=len(spec.references)) if spec.scaling else None


class Manifest(BaseModel):
    """``manifest.json`` of a run directory: what reports need about a run is recorded here when it is made."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    identity: Identity
    family: str
    created: str
    data_root: str
    derived_dir: Optional[str] = None
    environment: dict[str, Any] = Field(default_factory=dict)
    # the adapter's default output-affecting settings: labels show only the settings that differ
    # (``ibench.core.labels``); None in runs made before it was recorded
    model_defaults: Optional[dict[str, Any]] = None
    # the task's scaling group and N (``ibench.report.scaling``); None for other tasks and older runs
    scaling: Optional[ScalingPoint] = None

    @classmethod
    def parse(cls, data: Any, source: str) -> "Manifest":
        """Validate a manifest read from ``source``; anything malformed is one line naming the field."""
        if not isinstance(data, dict):
            raise IbenchError(f"{source}: a manifest must be a JSON object, not {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise IbenchError(f"{source}: {describe(exc)}") from None

    def as_dict(self) -> dict[str, Any]:
        return {**self.model_dump(mode="json", exclude={"identity"}, exclude_none=True),
                "identity": self.identity.as_dict()}
