"""The per-sample viewer (``samples.html``): every instance × sample of every run, with its
instruction, references, output at full resolution and all its scores and ratings; filter by task,
model and metric in the page.

Images travel with the report under ``media/`` (outputs as full-resolution JPEG copies, references
scaled to ``REF_SIZE``), so the report folder stands alone; the records are one JSON block in the page.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pandas as pd

from ibench.core.images import ImageFileError, open_image
from ibench.core.jsonio import replace_atomic
from ibench.core.paths import DataRoot
from ibench.core.rundir import RunStore
from ibench.errors import IbenchError

from .runs import RunInfo, data_root_of

MEDIA = "media"
REF_SIZE = 384
JPEG_QUALITY = 92


@dataclass(frozen=True)
class MediaFile:
    """A file the report copies: ``source`` to ``media/<dest>``, scaled to fit ``size`` (None: as is)."""

    source: str
    dest: str
    size: Optional[int] = None


def _ref_media(root: Optional[DataRoot], rel: str, media: dict[str, MediaFile]) -> Optional[str]:
    if root is None:
        return None
    try:
        path = root.resolve(rel)
    except IbenchError:
        return None
    if not path.is_file():
        return None
    key = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    dest = f"ref/{key}.jpg"
    media.setdefault(dest, MediaFile(str(path), dest, REF_SIZE))
    return f"{MEDIA}/{dest}"


def _ratings_by_image(ratings: Optional[pd.DataFrame]) -> dict[tuple[str, str, str, int], list[dict]]:
    """Ratings by image: (task, model, instance, sample), the model as the report names it."""
    out: dict[tuple[str, str, str, int], list[dict]] = {}
    if ratings is None or ratings.empty:
        return out
    for r in ratings.itertuples():
        out.setdefault((r.task, r.model, r.instance_id, int(r.sample)), []).append(
            {"rater": r.rater, "SC": float(r.SC), "PQ": float(r.PQ), "O": float(r.O)})
    return out


def sample_records(runs: list[RunInfo], raw: dict[str, pd.DataFrame], ratings: Optional[pd.DataFrame] = None,
                   data_dir: Optional[Path] = None) -> tuple[list[dict], list[MediaFile]]:
    """(one record per run × instance × sample, the media files they show)."""
    media: dict[str, MediaFile] = {}
    rated = _ratings_by_image(ratings)
    records = []
    for run in runs:
        store = RunStore(run.path)
        root = data_root_of(run, data_dir)
        instances = {i.id: i for i in store.instances()}
        scores = raw[run.run_id]
        by_image = {key: g for key, g in scores.groupby(["instance_id", "sample"], sort=False)} if len(scores) else {}
        refs_of: dict[str, list[dict]] = {}
        for g in store.generations():
            inst = instances.get(g.instance_id)
            if inst is None:
                continue
            ins = inst.instruction
            if inst.id not in refs_of:
                refs_of[inst.id] = [{"marker": r.marker, "kind": f"control:{r.control}" if r.control else r.kind,
                                     "caption": r.caption, "images": [_ref_media(root, p, media) for p in r.images]}
                                    for r in ins.references]
            image = None
            if g.ok:
                dest = f"out/{run.run_id}/{g.instance_id}/{g.sample}.jpg"
                media[dest] = MediaFile(str(run.path / g.image), dest)
                image = f"{MEDIA}/{dest}"
            rows = by_image.get((g.instance_id, g.sample))
            per_metric: dict[str, dict] = {}
            if rows is not None:
                for metric, mg in rows.groupby("metric", sort=True):
                    values = mg.dropna(subset=["value"])
                    per_metric[metric] = {"value": float(values["value"].mean()) if len(values) else None,
                                          "conditions": {str(c): float(v) for c, v in
                                                         zip(values["condition"], values["value"])}}
            records.append({"run_id": run.run_id, "task": run.task, "family": run.family, "model": run.label,
                            "instance_id": g.instance_id, "sample": g.sample, "text": ins.text,
                            "target": ins.target_prompt, "references": refs_of[inst.id], "image": image,
                            "error": g.error, "scores": per_metric,
                            "ratings": rated.get((run.task, run.label, g.instance_id, g.sample), [])})
    return records, list(media.values())


def copy_media(files: list[MediaFile], out: Path) -> int:
    """Write each media file under ``out/media`` (outputs as JPEG copies, references scaled); returns how many."""
    from PIL import Image

    n = 0
    for f in files:
        dest = out / MEDIA / f.dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            im = open_image(f.source)
        except ImageFileError:
            continue  # a missing or unreadable image: the viewer shows "missing"
        if f.size:
            im.thumbnail((f.size, f.size), Image.BICUBIC)
        replace_atomic(dest, lambda tmp: im.save(tmp, format="JPEG", quality=JPEG_QUALITY))  # noqa: B023
        n += 1
    return n
