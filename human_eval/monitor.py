"""What the admin watches: progress, time and accuracy per rater, and flagged items (admin only:
shows models)."""

from __future__ import annotations

from typing import Optional

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from .design import accuracy_row
from .store import STATUSES, Assignment, Item, Rater, Rating, Study, reading

PROGRESS_COLUMNS = ["rater", "assigned", "rated", "skipped", "flagged", "open", "seconds_per_item", "consented",
                    "last_activity"]
ACCURACY_COLUMNS = ["rater", "gold", "gold_correct", "gold_accuracy", "attention", "attention_passed",
                    "attention_accuracy"]


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
        times = s.execute(select(Rating.rater_id, Rating.seconds).join(Item, Item.id == Rating.item_id)
                          .where(Item.study_id == study_id, Rating.status == "rated", Rating.seconds.is_not(None))).all()
        consented = dict(s.execute(select(Rater.id, Rater.consented).where(Rater.study_id == study_id)).all())
    counts: dict[tuple[int, str], int] = {(r, st): n for r, st, n, _ in done}
    last: dict[int, object] = {}
    for r, _, _, at in done:
        last[r] = max(last[r], at) if r in last else at
    seconds: dict[int, list[float]] = {}
    for r, sec in times:
        seconds.setdefault(r, []).append(sec)
    rows = []
    for rid, name in raters:
        row = {"rater": name, "assigned": assigned.get(rid, 0),
               **{st: counts.get((rid, st), 0) for st in STATUSES}}
        row["open"] = row["assigned"] - sum(row[st] for st in STATUSES)
        row["seconds_per_item"] = float(pd.Series(seconds[rid]).median()) if rid in seconds else None
        row["consented"] = consented.get(rid)
        row["last_activity"] = last.get(rid)
        rows.append(row)
    return pd.DataFrame(rows, columns=PROGRESS_COLUMNS)


def accuracy_table(engine: Engine, study_id: int) -> pd.DataFrame:
    """Per rater: gold items rated and answered as known, attention checks passed (exact answers)."""
    with reading(engine) as s:
        kind = s.get(Study, study_id).kind or "absolute"
        raters = s.execute(select(Rater.id, Rater.name).where(Rater.study_id == study_id, Rater.is_admin.is_(False))
                           .order_by(Rater.name)).all()
        rows = s.execute(select(Rating.rater_id, Item.role, Item.expected, Rating.status, Rating.conditions,
                                Rating.pq, Rating.preference)
                         .join(Item, Item.id == Rating.item_id)
                         .where(Item.study_id == study_id, Item.role.in_(("gold", "attention")))).all()
    tally: dict[tuple[int, str], list[bool]] = {}
    for rater_id, role, expected, status, conditions, pq, preference in rows:
        ok = accuracy_row(expected, {"status": status, "conditions": conditions, "pq": pq,
                                     "preference": preference}, kind)
        if ok is not None:
            tally.setdefault((rater_id, role), []).append(ok)
    out = []
    for rid, name in raters:
        gold, att = tally.get((rid, "gold"), []), tally.get((rid, "attention"), [])
        out.append({"rater": name, "gold": len(gold), "gold_correct": sum(gold),
                    "gold_accuracy": sum(gold) / len(gold) if gold else None, "attention": len(att),
                    "attention_passed": sum(att), "attention_accuracy": sum(att) / len(att) if att else None})
    return pd.DataFrame(out, columns=ACCURACY_COLUMNS)


def flagged_table(engine: Engine, study_id: int) -> pd.DataFrame:
    """Flagged items with their reason, rater, time, task, model and image path."""
    with reading(engine) as s:
        rows = s.execute(select(Item.id.label("item"), Item.task, Item.model, Item.instance_id, Item.sample,
                                Rater.name.label("rater"), Rating.reason, Rating.updated.label("time"),
                                Item.image.label("image"))
                         .select_from(Rating).join(Item, Item.id == Rating.item_id)
                         .join(Rater, Rater.id == Rating.rater_id)
                         .where(Item.study_id == study_id, Rating.status == "flagged")
                         .order_by(Rating.updated)).mappings().all()
    return pd.DataFrame(rows, columns=["item", "task", "model", "instance_id", "sample", "rater", "reason", "time",
                                       "image"])


def item_detail(engine: Engine, study_id: int, item_id: int) -> Optional[dict]:
    """One item of a study as the admin sees it: who made it, what it shows, every rating of it."""
    with reading(engine) as s:
        item = s.get(Item, item_id)
        if item is None or item.study_id != study_id:
            return None
        rated = s.execute(select(Rater.name, Rating.status, Rating.conditions, Rating.sc, Rating.pq, Rating.preference,
                                 Rating.reason, Rating.seconds, Rating.updated)
                          .join(Rater, Rater.id == Rating.rater_id).where(Rating.item_id == item_id)
                          .order_by(Rater.name)).mappings().all()
        instr = (item.instance or {}).get("instruction") or {}
        return {"item": item.id, "task": item.task, "model": item.model, "model_b": item.model_b,
                "run_id": item.run_id, "run_b": item.run_b, "instance_id": item.instance_id, "sample": item.sample,
                "role": item.role, "image": item.image, "image_b": item.image_b, "text": instr.get("text", ""),
                "ratings": pd.DataFrame([dict(r) for r in rated])}
