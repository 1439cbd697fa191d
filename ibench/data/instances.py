"""Instances of a task: drawn deterministically from a data root for a seed, or read from a user's JSONL."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from ibench.core.instance import SAFE_ID, Instance, instance_id, render_checklist
from ibench.core.instruction import Instruction
from ibench.core.paths import DataRoot
from ibench.core.taskspec import TaskSpec
from ibench.core.yamlio import describe
from ibench.errors import IbenchError

from .catalog import Catalog
from .draw import Drawer


def checklist(spec: TaskSpec, instruction: Instruction) -> list[str]:
    return render_checklist(list(spec.checklist), instruction)


def build_instances(spec: TaskSpec, root: DataRoot, seed: int = 0, count: int | None = None) -> list[Instance]:
    """The first ``count`` (default: the task's) instances; the same seed gives the same list."""
    count = spec.instances if count is None else count
    drawer, out, seen = Drawer(spec, Catalog(root), seed), [], set()
    for _ in range(max(50, count * 20)):
        if len(out) == count:
            break
        drawn = drawer.draw()
        if drawn is None:  # unusable (e.g. an edit mask that covers almost nothing): draw again
            continue
        instruction, meta, keys = drawn
        iid = instance_id(spec.name, instruction)
        keys = keys or [iid]  # a scaling group's draws name every prefix: its tasks skip the same draws
        if iid in seen or any(k in seen for k in keys):
            continue
        seen.update([iid, *keys])
        meta = {k: v for k, v in meta.items() if v}
        out.append(Instance(id=iid, task=spec.name, task_version=spec.version, family=spec.family,
                            instruction=instruction, checklist=checklist(spec, instruction), meta=meta))
    for inst in out:
        inst.instruction.check_files(root)
    return out


#: Keys of a line of an --instances file: the Instance fields (as ``ibench instances`` exports them).
LINE_KEYS = frozenset({"instruction", "id", "meta", "checklist", "task", "task_version", "family"})


def load_instances(path, spec: TaskSpec, root: DataRoot) -> list[Instance]:
    """Instances from a JSONL file (bring your own instructions): each line is an ``Instance`` or
    ``{"instruction": {...}, "id"?: ..., "meta"?: {...}}``; errors name the file and line."""
    path, out, seen = Path(path), [], set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise IbenchError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise IbenchError(f"{path}: cannot read ({exc.strerror})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise IbenchError(f"{where}: invalid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or "instruction" not in row:
            raise IbenchError(f"{where}: each line must be a JSON object with an 'instruction'")
        unknown = sorted(set(row) - LINE_KEYS)
        if unknown:
            raise IbenchError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(LINE_KEYS))})")
        try:
            instruction = Instruction.model_validate(row["instruction"])
        except ValidationError as exc:
            raise IbenchError(f"{where}: instruction {describe(exc)}") from None
        try:
            instruction.check_files(root)
        except IbenchError as exc:
            raise IbenchError(f"{where}: {exc}") from None
        iid = str(row.get("id") or instance_id(spec.name, instruction))
        if not SAFE_ID.match(iid):  # ids name folders (images/<id>/, the folder model's <dir>/<id>/)
            raise IbenchError(f"{where}: key 'id': {iid!r} must be letters, digits, '.', '_' or '-' "
                              f"(it names a folder), at most 128 characters")
        if iid in seen:
            raise IbenchError(f"{where}: duplicate instance id {iid!r}")
        seen.add(iid)
        try:
            out.append(Instance(id=iid, task=spec.name, task_version=spec.version, family=spec.family,
                                instruction=instruction, checklist=row.get("checklist") or checklist(spec, instruction),
                                meta=row.get("meta") or {}))
        except ValidationError as exc:
            raise IbenchError(f"{where}: {describe(exc)}") from None
    if not out:
        raise IbenchError(f"{path}: no instances")
    return out
