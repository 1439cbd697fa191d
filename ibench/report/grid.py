"""The image grid of a report: per task, a few instances with their instruction, references and each
model's output, as thumbnails embedded as data URIs (so the HTML stands alone)."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from PIL import Image

from ibench.errors import IbenchError
from ibench.core.paths import DataRoot
from .runs import RunInfo, data_root_of
from ibench.core.rundir import RunStore

THUMB = 160
REF_VIEWS = 2


def thumbnail_uri(path: Path, size: int = THUMB) -> Optional[str]:
    """A JPEG data URI of the image scaled to fit ``size``; None when the file is missing or unreadable."""
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail((size, size), Image.BICUBIC)
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=82)
    except (OSError, ValueError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass
class RefCell:
    marker: str
    kind: str
    caption: str
    images: list[Optional[str]]


@dataclass
class GridRow:
    instance_id: str
    text: str
    target_prompt: str
    references: list[RefCell]
    outputs: dict[str, Optional[str]] = field(default_factory=dict)  # model label -> thumbnail


@dataclass
class TaskGrid:
    task: str
    family: str
    models: list[str]
    rows: list[GridRow]


def _ref_uri(root: Optional[DataRoot], rel: str) -> Optional[str]:
    if root is None:
        return None
    try:
        return thumbnail_uri(root.resolve(rel))
    except IbenchError:
        return None


def task_grids(runs: list[RunInfo], per_task: int = 4, data_dir: Optional[Path] = None) -> list[TaskGrid]:
    """One grid per task: the first ``per_task`` instances of the task's first run, every model's sample 0
    (or its first successful sample) beside them."""
    grids = []
    for task in sorted({r.task for r in runs}):
        task_runs = [r for r in runs if r.task == task]
        first = task_runs[0]
        root = data_root_of(first, data_dir)
        outputs = {}
        for r in task_runs:
            best: dict[str, tuple[int, str]] = {}
            for g in RunStore(r.path).generations():
                if g.ok and (g.instance_id not in best or g.sample < best[g.instance_id][0]):
                    best[g.instance_id] = (g.sample, g.image)
            outputs[r.label] = best
        rows = []
        for inst in RunStore(first.path).instances()[:per_task]:
            ins = inst.instruction
            refs = [RefCell(ref.marker, ref.control and f"control:{ref.control}" or ref.kind, ref.caption,
                            [_ref_uri(root, p) for p in ref.images[:REF_VIEWS]]) for ref in ins.references]
            row = GridRow(inst.id, ins.text, ins.target_prompt, refs)
            for r in task_runs:
                hit = outputs[r.label].get(inst.id)
                row.outputs[r.label] = thumbnail_uri(r.path / hit[1]) if hit else None
            rows.append(row)
        grids.append(TaskGrid(task, first.family, [r.label for r in task_runs], rows))
    return grids
