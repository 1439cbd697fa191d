"""What the admin watches: progress per rater and flagged items (admin only: shows models)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from .store import STATUSES, Assignment, Item, Rater, Rating, reading

PROGRESS_COLUMNS = ["rater", "assigned", "rated", "skipped", "flagged", "open", "last_activity"]


def progress_table(engine: Engine, study_id: int) -> pd.DataFrame:
    """One row per rater of a study: assigned, rated, skipped, flagged, open, last activity."""
    with reading(engine) as s:
        raters = s.execute(select(Rater.id, Rater.name).where(Rater.study_id == study_id, Rater.is_admin.is_(False))
                           .order_by(Rater.name)).all()
        assigned = dict(s.execute(select(Assignment.rater_id, func.count()).join(Item, Item.id == Assignment.item_id)
                                  .where(Item.study_id == study_id).group_by(Assignment.rater_id)).all())
        done = s.execute(select(Rating.rater_id, Rating.status, func.count(), func.max(Rating.updated))
                         .join(Item, Item.id == Rating.item_id).where(Item.study_id == study_id)
                         .group_by(Rating.rater_id, Rating.status)).all()
    counts: dict[tuple[int, str], int] = {(r, st): n for r, st, n, _ in done}
    last: dict[int, object] = {}
    for r, _, _, at in done:
        last[r] = max(last[r], at) if r in last else at
    rows = []
    for rid, name in raters:
        row = {"rater": name, "assigned": assigned.get(rid, 0),
               **{st: counts.get((rid, st), 0) for st in STATUSES}}
        row["open"] = row["assigned"] - sum(row[st] for st in STATUSES)
        row["last_activity"] = last.get(rid)
        rows.append(row)
    return pd.DataFrame(rows, columns=PROGRESS_COLUMNS)


def flagged_table(engine: Engine, study_id: int) -> pd.DataFrame:
    """Flagged items with their reason, rater, time, task and model."""
    with reading(engine) as s:
        rows = s.execute(select(Item.id.label("item"), Item.task, Item.model, Item.instance_id, Item.sample,
                                Rater.name.label("rater"), Rating.reason, Rating.updated.label("time"))
                         .select_from(Rating).join(Item, Item.id == Rating.item_id)
                         .join(Rater, Rater.id == Rating.rater_id)
                         .where(Item.study_id == study_id, Rating.status == "flagged")
                         .order_by(Rating.updated)).mappings().all()
    return pd.DataFrame(rows, columns=["item", "task", "model", "instance_id", "sample", "rater", "reason", "time"])
