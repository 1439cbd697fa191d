"""A built instance: one instruction of a task, with what the human checklist asks about it."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from .instruction import Instruction

#: Instance ids name folders (``images/<id>/``, the folder model's ``<dir>/<id>/``).
SAFE_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")


class Instance(BaseModel):
    """One built instance: an instruction plus what the human checklist asks about it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    task: str
    task_version: int
    family: str
    instruction: Instruction
    checklist: list[str]
    meta: dict[str, Any] = {}


def instance_id(task: str, instruction: Instruction) -> str:
    blob = json.dumps(instruction.model_dump(mode="json"), sort_keys=True)
    return f"{task}-{hashlib.sha256(blob.encode()).hexdigest()[:10]}"


def render_checklist(items: list[str], instruction: Instruction) -> list[str]:
    """A task's checklist for one instruction: markers get their captions, ``{prompt}`` the target prompt."""
    out = []
    for item in items:
        for ref in instruction.references:
            item = item.replace(f"[{ref.marker}]", f"[{ref.marker}] ({ref.caption})")
        out.append(item.replace("{prompt}", instruction.target_prompt))
    return out
