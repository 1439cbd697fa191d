"""Human ratings for a report, read through ``ibench.human_eval.aggregate`` (its protocol, not a copy).

Models are shown under the report's run labels where the study's items come from runs in the report
(the study names a model twice on a task as ``model@<run>``); each task gets its family from the
report's runs, else from the task registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pandas as pd

from ibench.errors import IbenchError
from .runs import RunInfo
from .tables import table4

# Instruct-Imagen's Table 4 shows O as sqrt(mean SC * mean PQ); the per-image O (ImagenHub) is in the detail table
TABLE4_MEASURES = {"SC": "SC_mean", "PQ": "PQ_mean", "O": "O_of_means"}
AGREEMENT_PREFIXES = ("fleiss_kappa", "kripp_alpha")


@dataclass
class HumanData:
    study: str
    summary: pd.DataFrame  # one row per (task, model), with family
    ratings: pd.DataFrame  # one row per (task, model, run_id, instance_id, sample, rater)
    table4: dict[str, pd.DataFrame]
    agreement: pd.DataFrame


def _check_db(db: str | Path) -> str:
    text = str(db)
    if "://" not in text and not Path(text).expanduser().is_file():
        raise IbenchError(f"--study {text}: no such rating database (make one with `ibench human create-study`)")
    return text


def _family(task: str, runs: list[RunInfo]) -> str:
    for r in runs:
        if r.task == task:
            return r.family
    try:
        from ibench.core.registry import get_task

        return get_task(task).family
    except IbenchError:
        return "other"  # e.g. tasks imported from ImagenHub TSVs


def load_human(db: str | Path, runs: list[RunInfo], study: Optional[str] = None) -> HumanData:
    """Summary, per-image ratings, Table 4 blocks and agreement of a study (all studies when None)."""
    from ibench.human_eval.aggregate import item_scores, summarize

    ratings = item_scores(_check_db(db), study)
    if ratings.empty:
        raise IbenchError(f"--study {db}: no ratings" + (f" in study {study!r}" if study else ""))
    labels = {r.run_id: r.label for r in runs}
    ratings = ratings.copy()
    ratings["model"] = [labels.get(rid, m) for rid, m in zip(ratings["run_id"], ratings["model"])]
    summary = summarize(ratings)
    summary.insert(1, "family", [_family(t, runs) for t in summary["task"]])
    agreement_cols = [c for c in summary.columns if c.startswith(AGREEMENT_PREFIXES)]
    agreement = summary[["task", "family", "model", "n_items", "n_raters", *agreement_cols]].copy()
    return HumanData(study or "all", summary, ratings, table4(summary, TABLE4_MEASURES), agreement)
