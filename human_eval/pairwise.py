"""Pairwise studies' verdicts as ``ibench.core.pairwise.Preference`` records (the format the judge's
pairwise mode writes), ranked per task and aspect with ``ibench.ranking.bradley_terry``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd
from sqlalchemy import select

from ibench.core.pairwise import Preference
from ibench.ranking import bradley_terry, position_bias

from .store import Assignment, Item, Rater, Rating, Study, get_engine, reading

RANKING_COLUMNS = ["task", "aspect", "model", "theta", "ci_low", "ci_high", "rank", "wins", "losses", "ties", "n",
                   "first_wins", "decided"]


def preferences(db, study: Optional[str | int] = None) -> list[Preference]:
    """One record per rated main pairwise item × aspect; the judge is ``human:<rater>``."""
    query = (select(Item, Rating, Rater.name, Assignment.pair_order)
             .select_from(Rating).join(Assignment, Assignment.id == Rating.assignment_id)
             .join(Item, Item.id == Rating.item_id).join(Rater, Rater.id == Rating.rater_id)
             .join(Study, Study.id == Item.study_id)
             .where(Item.role == "main", Item.model_b.is_not(None), Rating.status == "rated")
             .order_by(Item.id, Rater.name))
    if study is not None:
        query = query.where(Study.id == study if isinstance(study, int) else Study.name == study)
    out = []
    with reading(get_engine(db, create=False)) as s:
        for item, rating, rater, order in s.execute(query).all():
            for aspect, winner in sorted((rating.preference or {}).items()):
                out.append(Preference(task=item.task, instance_id=item.instance_id, sample=item.sample,
                                      model_a=item.model, model_b=item.model_b, run_a=item.run_id, run_b=item.run_b,
                                      aspect=aspect, order=order or "ab", winner=winner, judge=f"human:{rater}",
                                      reason=rating.reason))
    return out


def rankings(prefs: list[Preference], resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Bradley–Terry θ with instance-bootstrap CIs per task × aspect, and the position bias of each."""
    frames = []
    keys = sorted({(p.task, p.aspect) for p in prefs})
    for task, aspect in keys:
        mine = [p for p in prefs if p.task == task and p.aspect == aspect]
        table = bradley_terry(mine, resamples=resamples, seed=seed)
        bias = position_bias(mine)
        table.insert(0, "aspect", aspect)
        table.insert(0, "task", task)
        table["first_wins"], table["decided"] = bias["first_wins"], bias["decided"]
        frames.append(table)
    return pd.concat(frames, ignore_index=True)[RANKING_COLUMNS] if frames else pd.DataFrame(columns=RANKING_COLUMNS)


def export_preferences(db, path: Path, study: Optional[str] = None) -> int:
    """Write (replace) the study's verdicts as a preferences JSONL file; returns how many."""
    from ibench.core.jsonio import write_jsonl_atomic

    prefs = preferences(db, study)
    write_jsonl_atomic(Path(path), [p.model_dump(mode="json") for p in prefs])
    return len(prefs)
