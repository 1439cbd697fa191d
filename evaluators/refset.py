"""The real images a task's FID/KID compares against: the task's ``reference_set`` (pools and reason).

Each task YAML names its set explicitly (``reference_set: {pools: [...], reason: ...}``): whole
real-image sets of the data root (``dreambench``: every subject photo; ``styledrop``, ``classic``:
style images; ``content``: content photos), not just the drawn instances, so the set (and its cached
statistics) is the same for every run of the task on the same data root. A run of an unregistered
task falls back to the sets its instances' references draw from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Optional

from ibench.core.instance import Instance
from ibench.core.paths import DataRoot
from ibench.core.taskspec import TaskSpec
from ibench.core.vocabulary import REFERENCE_KINDS
from ibench.data.catalog import Catalog

FALLBACK_REASON = "the task is not registered: the real-image sets its instances' references draw from"


@dataclass(frozen=True)
class ReferenceSet:
    name: str  # e.g. "dreambench+styledrop+classic"
    files: tuple[Path, ...]
    reason: str = ""

    @cached_property
    def key(self) -> str:
        """Identity of the set on disk: pool names, relative paths and sizes (no hashing; one stat per file, once)."""
        h = hashlib.sha256(self.name.encode())
        for p in self.files:
            h.update(f"{p}:{p.stat().st_size}\n".encode())
        return f"{self.name}@{h.hexdigest()[:16]}"


def task_image_sets(spec: Optional[TaskSpec], instances: list[Instance]) -> tuple[list[str], str]:
    """(real-image sets, reason): the spec's ``reference_set``, else what the instances draw from."""
    if spec is not None and spec.reference_set is not None:
        return list(spec.reference_set.pools), spec.reference_set.reason
    sets: list[str] = []
    for inst in instances:
        for ref in inst.instruction.references:
            sets += REFERENCE_KINDS[ref.kind].real_images
    return list(dict.fromkeys(sets)) or ["content"], FALLBACK_REASON


def reference_set(spec: Optional[TaskSpec], instances: list[Instance], root: DataRoot) -> ReferenceSet:
    catalog = Catalog(root)
    files: list[Path] = []
    sets, reason = task_image_sets(spec, instances)
    for name in sets:
        if name == "dreambench":
            files += [root.resolve(im) for s in catalog.subjects for im in s.images]
        else:
            files += [root.resolve(p.image) for p in catalog.photos(name)]
    return ReferenceSet("+".join(sets), tuple(sorted(dict.fromkeys(files))), reason)
