"""Per task x model scores and agreement from ratings (the API the reports read).

The protocol is ImagenHub's: per sample O = sqrt(SC * PQ); per rater the mean over that rater's
samples; then the mean and the standard deviation over raters (population std, ``ddof=0``, as
ImagenHub's notebook uses ``np.std``). ``O_of_means`` = sqrt(mean SC * mean PQ), which
Instruct-Imagen's tables appear to use. Agreement columns name the rating they are computed on:
``fleiss_kappa_SC``, ``fleiss_kappa_PQ``, ``fleiss_kappa_O`` and the same for ``kripp_alpha_*``;
``fleiss_kappa`` / ``kripp_alpha`` are those on O (the overall rating, ImagenHub's final table).
Only ratings with status ``rated`` count (skips and flags do not).
"""

from __future__ import annotations

import math
from typing import Mapping, Optional

import numpy as np
import pandas as pd
from sqlalchemy import select

from .agreement import fleiss, kripp_alpha, reliability_matrix
from .store import Assignment, Item, Rater, Rating, Study, find_study, get_engine, reading

SCORE_COLUMNS = ["task", "model", "run_id", "instance_id", "sample", "rater", "SC", "PQ", "O"]
RATINGS = ("SC", "PQ", "O")
SUMMARY_COLUMNS = ["task", "model", "n_items", "n_raters", "n_ratings", "SC_mean", "SC_std", "PQ_mean", "PQ_std",
                   "O_mean", "O_std", "O_of_means", "fleiss_kappa", "kripp_alpha",
                   *[f"fleiss_kappa_{r}" for r in RATINGS], *[f"kripp_alpha_{r}" for r in RATINGS]]


FRAME_COLUMNS = ["study", "task", "model", "run_id", "instance_id", "sample", "uid", "item_id", "rater", "status",
                 "conditions", "SC", "PQ", "reason", "version", "updated", "seconds"]


def ratings_frame(db, study: Optional[str | int] = None, rated_only: bool = False) -> pd.DataFrame:
    """Every current rating (rated, skipped, flagged) of the main items of absolute studies, with its
    item, rater, study and seconds on the item (admin/export use). Practice, gold and attention items
    and pairwise verdicts are not in it (``ibench.human_eval.pairwise`` reads those). Reads only: a missing
    database file or an unknown study is one line, never a new empty database."""
    engine = get_engine(db, create=False)
    if study is not None:
        with reading(engine) as session:
            find_study(session, study)  # an unknown study: one line naming the studies there are
    query = (select(Study.name.label("study"), Item.task, Item.model, Item.run_id, Item.instance_id, Item.sample,
                    Item.uid, Item.id.label("item_id"), Rater.name.label("rater"), Rating.status,
                    Rating.conditions, Rating.sc.label("SC"), Rating.pq.label("PQ"), Rating.reason, Rating.version,
                    Rating.updated, Rating.seconds)
             .select_from(Rating).join(Assignment, Assignment.id == Rating.assignment_id)
             .join(Item, Item.id == Rating.item_id).join(Rater, Rater.id == Rating.rater_id)
             .join(Study, Study.id == Item.study_id)
             .where(Item.role == "main", Item.model_b.is_(None)).order_by(Item.id, Rater.name))
    if study is not None:
        query = query.where(Study.id == study if isinstance(study, int) else Study.name == study)
    if rated_only:
        query = query.where(Rating.status == "rated")
    with reading(engine) as s:
        frame = pd.DataFrame(s.execute(query).mappings().all())
    if frame.empty:
        frame = pd.DataFrame(columns=FRAME_COLUMNS)
    frame["O"] = np.sqrt(frame["SC"].astype(float) * frame["PQ"].astype(float))
    return frame


def item_scores(db, study: Optional[str | int] = None) -> pd.DataFrame:
    """One row per (task, model, run_id, instance_id, sample, rater) with SC, PQ and O (rated only)."""
    frame = ratings_frame(db, study, rated_only=True)
    return frame[SCORE_COLUMNS].reset_index(drop=True)


def model_labels(ratings: pd.DataFrame, run_labels: Mapping[tuple[str, str], str]) -> pd.Series:
    """Each rating's image model under the name its run goes by (``run_labels``: (task, run id) -> label).

    A rating takes its run's label only where its run id, within its task, names a single model of the
    ratings (the images of that run); every other rating keeps its own model name. So a run id that
    several models share (an ImagenHub import made before each model got its own) lends none of them
    another's name, and ratings, scores and verdicts meet on (task, model, instance, sample)."""
    per_run = ratings.groupby(["task", "run_id"])["model"].nunique()
    single = {key for key, n in per_run.items() if n == 1}
    return pd.Series([run_labels[(t, rid)] if (t, rid) in run_labels and (t, rid) in single else m
                      for t, rid, m in zip(ratings["task"], ratings["run_id"], ratings["model"])],
                     index=ratings.index, name="model", dtype=object)


def summary_table(scores: pd.DataFrame) -> pd.DataFrame:
    """The summary table of a scores frame (columns task, model, rater, SC, PQ and an item key): one row per
    (task, model), each model over its own ratings only."""
    if scores.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    scores = scores.copy()
    if "O" not in scores:
        scores["O"] = np.sqrt(scores["SC"].astype(float) * scores["PQ"].astype(float))
    if "item" not in scores:
        keys = [c for c in ("task", "model", "run_id", "instance_id", "sample", "uid") if c in scores]
        scores["item"] = scores[keys].astype(str).agg("/".join, axis=1)
    rows = []
    for (task, model), group in scores.groupby(["task", "model"], sort=True):
        per_rater = group.groupby("rater")[list(RATINGS)].mean()
        row = {"task": task, "model": model, "n_items": group["item"].nunique(), "n_raters": len(per_rater),
               "n_ratings": len(group)}
        for r in RATINGS:
            row[f"{r}_mean"] = float(per_rater[r].mean())
            row[f"{r}_std"] = float(per_rater[r].std(ddof=0))
        row["O_of_means"] = math.sqrt(row["SC_mean"] * row["PQ_mean"])
        for r in RATINGS:
            matrix = reliability_matrix(group, r)
            row[f"fleiss_kappa_{r}"] = fleiss(matrix)
            row[f"kripp_alpha_{r}"] = kripp_alpha(matrix)
        row["fleiss_kappa"], row["kripp_alpha"] = row["fleiss_kappa_O"], row["kripp_alpha_O"]
        rows.append(row)
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def study_summary(db, study: Optional[str | int] = None) -> pd.DataFrame:
    """One row per (task, model): n_items, n_raters, SC/PQ/O mean and std over raters, O_of_means, kappa, alpha.

    ``study=None`` takes every study in the database.
    """
    return summary_table(item_scores(db, study))
