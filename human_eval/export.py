"""Exports of a study: every rating as CSV, the rated ones as ImagenHub TSVs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd

from .aggregate import ratings_frame
from .imagenhub import frame_for_export, write_imagenhub

CSV_COLUMNS = ["study", "task", "model", "run_id", "instance_id", "sample", "uid", "rater", "status", "conditions",
               "SC", "PQ", "O", "reason", "version", "updated", "seconds"]


def csv_text(frame: pd.DataFrame) -> str:
    """A ratings frame as CSV (conditions as comma-joined values; skips and flags included)."""
    out = frame.reindex(columns=CSV_COLUMNS).copy()
    out["conditions"] = out["conditions"].map(
        lambda v: "" if v is None or (isinstance(v, float) and pd.isna(v)) else ",".join(f"{x:g}" for x in v))
    return out.to_csv(index=False)


def export_study(db, out: str | Path, study: Optional[str] = None, fmt: str = "both") -> list[Path]:
    """Write ``ratings.csv`` and/or ``imagenhub/<Task>/<Task>_<rater>.tsv`` under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frame = ratings_frame(db, study)
    written = []
    if fmt in ("csv", "both"):
        path = out / "ratings.csv"
        path.write_text(csv_text(frame), encoding="utf-8")
        written.append(path)
    if fmt in ("imagenhub", "both"):
        written += write_imagenhub(frame_for_export(frame), out / "imagenhub")
    return written
