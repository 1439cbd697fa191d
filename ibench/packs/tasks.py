"""A pack's instances as ibench tasks: a ``TaskSpec`` per pack (per subset where the anchor has sub-tasks
with their own protocol, e.g. ImagenHub) and the instances file ``ibench run --instances`` reads.

The spec carries what a run needs (name, family, version, samples, checklist); its instructions come
from the pack's ``instances[-<subset>].jsonl`` (``write_instances``), never drawn from templates: the
template ``{prompt}`` only satisfies the task schema. One sample per instance, as every anchor generates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ibench.core.instance import Instance
from ibench.core.jsonio import write_jsonl_atomic
from ibench.core.paths import DataRoot
from ibench.core.taskspec import TaskSpec
from ibench.errors import IbenchError

from .rows import PACKS_DIR
from .spec import Pack


def task_name(pack: Pack, subset: Optional[str] = None) -> str:
    return f"{pack.task}_{subset}" if subset else pack.task


def task_spec(pack: Pack, subset: Optional[str] = None) -> TaskSpec:
    """The task of ``pack`` (or of one of its subsets); unknown subsets are one line."""
    if pack.subsets and subset not in pack.subsets:
        raise IbenchError(f"pack {pack.name}: name a subset ({', '.join(pack.subsets)})")
    if subset and not pack.subsets:
        raise IbenchError(f"pack {pack.name} has no subsets")
    family = pack.subsets[subset] if subset else pack.family
    return TaskSpec(name=task_name(pack, subset), family=family, version=1, samples=1,
                    instances=max(pack.samples, 1), templates=["{prompt}"],
                    description=f"{pack.title}{f' ({subset})' if subset else ''}: the anchor's test set at "
                                f"{pack.revision}, judged as {pack.anchor_repo}@{pack.anchor_commit[:7]} does",
                    checklist=["The image follows the instruction"])


def instances_path(root: Path, pack: Pack, subset: Optional[str] = None) -> Path:
    return Path(root) / PACKS_DIR / pack.name / (f"instances-{subset}.jsonl" if subset else "instances.jsonl")


def write_instances(instances: list[Instance], root: Path, pack: Pack) -> list[Path]:
    """Write the instances file(s) ``load_instances`` reads (one per subset); returns their paths."""
    groups: dict[Optional[str], list[Instance]] = {}
    for inst in instances:
        subset = inst.meta.get("subset") if pack.subsets else None
        inst = inst.model_copy(update={"task": task_name(pack, subset),
                                       "family": pack.subsets[subset] if subset else pack.family})
        groups.setdefault(subset, []).append(inst)
    paths = []
    for subset, items in sorted(groups.items(), key=lambda kv: kv[0] or ""):
        path = instances_path(root, pack, subset)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_jsonl_atomic(path, [{"id": i.id, "instruction": i.instruction.model_dump(mode="json"),
                                   "checklist": i.checklist, "meta": i.meta} for i in items])
        paths.append(path)
    return paths


def read_instances(root: Path, pack: Pack, subset: Optional[str] = None) -> list[Instance]:
    """A fetched pack's instances from a data root, checked as any instances file is."""
    from ibench.data.instances import load_instances

    path = instances_path(root, pack, subset)
    if not path.is_file():
        raise IbenchError(f"pack {pack.name}{f' ({subset})' if subset else ''} is not fetched into {root}: "
                          f"run `ibench data fetch --pack {pack.name}`")
    return load_instances(path, task_spec(pack, subset), DataRoot(root))
