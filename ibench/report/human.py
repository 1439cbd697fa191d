"""Human ratings for a report, read through ``ibench.human_eval.aggregate`` (its protocol, not a copy).

Ratings meet runs on (task, image model, instance, sample), never on the run id alone: an imported
study (ImagenHub TSVs) holds several models whose items name no run of the report. A rating takes the
report's run label only where its run id is that run's and names one model of the study (the images of
that run); every other rating keeps its own model name (``model_labels``). Each task gets its family
from the report's runs, else from the task registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pandas as pd

from ibench.errors import IbenchError
from .runs import RunInfo
from .tables import table4

#: Which O a Table 4 shows: ImagenHub's per-image O (sqrt(SC*PQ) per image, mean per rater, mean over raters)
#: or sqrt(mean SC * mean PQ). Instruct-Imagen's text says it follows ImagenHub's protocol but not how its
#: table aggregates O; the two differ (by 0.03-0.18 on ImagenHub's own ratings), so the caption names the one used.
TABLE4_O = {"per-image": "O_mean", "of-means": "O_of_means"}
TABLE4_O_TEXT = {"per-image": "O = √(SC·PQ) per image, averaged per rater, then over raters (ImagenHub's protocol)",
                 "of-means": "O = √(mean SC · mean PQ), from the table's SC and PQ"}
DEFAULT_TABLE4_O = "per-image"


def table4_measures(o: str = DEFAULT_TABLE4_O) -> dict[str, str]:
    """Table 4's rows -> summary columns, with the chosen O (``per-image`` or ``of-means``)."""
    if o not in TABLE4_O:
        raise IbenchError(f"--table4-o {o!r}: use {' or '.join(TABLE4_O)}")
    return {"SC": "SC_mean", "PQ": "PQ_mean", "O": TABLE4_O[o]}
AGREEMENT_PREFIXES = ("fleiss_kappa", "kripp_alpha")


@dataclass
class HumanData:
    study: str
    summary: pd.DataFrame  # one row per (task, model), with family
    ratings: pd.DataFrame  # one row per (task, model, run_id, instance_id, sample, rater)
    table4: dict[str, pd.DataFrame]
    agreement: pd.DataFrame
    table4_o: str = DEFAULT_TABLE4_O


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


def model_labels(ratings: pd.DataFrame, runs: list[RunInfo]) -> pd.Series:
    """Each rating's image model as the report names it (``ibench.human_eval.aggregate.model_labels``)."""
    from ibench.human_eval.aggregate import model_labels as named

    return named(ratings, {(r.task, r.run_id): r.label for r in runs})


def load_human(db: str | Path, runs: list[RunInfo], study: Optional[str] = None,
               table4_o: str = DEFAULT_TABLE4_O) -> HumanData:
    """Summary, per-image ratings, Table 4 blocks (with the chosen O) and agreement of a study (all when None)."""
    measures = table4_measures(table4_o)
    from ibench.human_eval.aggregate import item_scores, summary_table

    ratings = item_scores(_check_db(db), study)
    if ratings.empty:
        raise IbenchError(f"--study {db}: no ratings" + (f" in study {study!r}" if study else ""))
    ratings = ratings.assign(model=model_labels(ratings, runs).to_numpy())
    summary = summary_table(ratings)
    summary.insert(1, "family", [_family(t, runs) for t in summary["task"]])
    agreement_cols = [c for c in summary.columns if c.startswith(AGREEMENT_PREFIXES)]
    agreement = summary[["task", "family", "model", "n_items", "n_raters", *agreement_cols]].copy()
    return HumanData(study or "all", summary, ratings, table4(summary, measures), agreement, table4_o)
