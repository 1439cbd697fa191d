"""The real images a task's FID/KID compares against: the pools its references draw from.

- a subject reference (or a control map made from DreamBench photos): every DreamBench photo;
- a style reference: every image of its style pools (StyleDrop set, classic paintings);
- a content reference (or a control map made from content photos): every content photo;
- a task without references (txt2img): DreamBench, the source of its prompts.

Whole pools, not just the drawn instances, so the reference set (and its cached statistics)
is the same for every run of the task on the same data root.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Optional

from ibench.data.catalog import Catalog
from ibench.core.instance import Instance
from ibench.core.paths import DataRoot
from ibench.core.taskspec import TaskSpec
from ibench.core.vocabulary import REFERENCE_KINDS

KIND_POOLS = {kind: list(info.real_images) for kind, info in REFERENCE_KINDS.items()}
# same_source: a map of the task's source image, which today's editing tasks draw from DreamBench (issue 15's
# explicit `reference_set:` key replaces this inference)
POOL_MAP = {"subject": "dreambench", "same_subject": "dreambench", "same_source": "dreambench"}


@dataclass(frozen=True)
class ReferenceSet:
    name: str  # e.g. "dreambench+styledrop+classic"
    files: tuple[Path, ...]

    @cached_property
    def key(self) -> str:
        """Identity of the set on disk: pool names, relative paths and sizes (no hashing; one stat per file, once)."""
        h = hashlib.sha256(self.name.encode())
        for p in self.files:
            h.update(f"{p}:{p.stat().st_size}\n".encode())
        return f"{self.name}@{h.hexdigest()[:16]}"


def task_pools(spec: Optional[TaskSpec], instances: list[Instance]) -> list[str]:
    pools: list[str] = []
    if spec is not None:
        for rs in spec.references:
            pools += [POOL_MAP.get(p, p) for p in rs.pools] or KIND_POOLS[rs.kind]
    else:
        for inst in instances:
            for ref in inst.instruction.references:
                pools += KIND_POOLS[ref.kind]
    return list(dict.fromkeys(pools)) or ["dreambench"]


def reference_set(spec: Optional[TaskSpec], instances: list[Instance], root: DataRoot) -> ReferenceSet:
    catalog = Catalog(root)
    files: list[Path] = []
    pools = task_pools(spec, instances)
    for pool in pools:
        if pool == "dreambench":
            files += [root.resolve(im) for s in catalog.subjects for im in s.images]
        else:
            files += [root.resolve(p.image) for p in catalog.photos(pool)]
    return ReferenceSet("+".join(pools), tuple(sorted(dict.fromkeys(files))))
