"""What a rater does: sign in, walk their queue, rate / skip / flag, change a rating later.

Everything a rater's page receives comes from here and carries no model name, run id or other
rater's rating: blindness is enforced by what these functions return, not by the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ibench.errors import IbenchError

from .rubric import LEVELS, sc_from_conditions
from .store import (
    STATUSES,
    Assignment,
    Item,
    Rater,
    Rating,
    RatingHistory,
    Study,
    history_row,
    reading,
    token_hash,
    utcnow,
    write,
)


@dataclass(frozen=True)
class Identity:
    """Who signed in."""

    rater_id: int
    name: str
    study_id: int
    study: str
    is_admin: bool


@dataclass(frozen=True)
class Slot:
    """One entry of a rater's queue: position and own status (None: not yet done)."""

    assignment_id: int
    position: int
    status: Optional[str]


@dataclass(frozen=True)
class Reference:
    marker: str
    kind: str
    caption: str
    images: list[str]  # absolute paths


@dataclass(frozen=True)
class OwnRating:
    status: str
    conditions: list[float] = field(default_factory=list)
    sc: Optional[float] = None
    pq: Optional[float] = None
    reason: Optional[str] = None
    version: int = 1


@dataclass(frozen=True)
class RaterItem:
    """What a rater sees for one assignment (deliberately no model, run or other raters)."""

    assignment_id: int
    text: str
    target_prompt: str
    references: list[Reference]
    checklist: list[str]
    image: Optional[str]
    rating: Optional[OwnRating]


def sign_in(engine: Engine, token: str) -> Optional[Identity]:
    """The rater (or admin) a token belongs to, or None."""
    if not token or not token.strip():
        return None
    with reading(engine) as s:
        row = s.execute(select(Rater, Study).join(Study, Rater.study_id == Study.id)
                        .where(Rater.token_hash == token_hash(token))).first()
        if row is None:
            return None
        rater, study = row
        return Identity(rater.id, rater.name, study.id, study.name, rater.is_admin)


def queue(engine: Engine, rater_id: int) -> list[Slot]:
    """The rater's assignments in their order, with their own status."""
    with reading(engine) as s:
        rows = s.execute(select(Assignment.id, Assignment.position, Rating.status)
                         .join(Item, Item.id == Assignment.item_id)
                         .outerjoin(Rating, Rating.assignment_id == Assignment.id)
                         .where(Assignment.rater_id == rater_id, Item.image.is_not(None))
                         .order_by(Assignment.position, Assignment.id)).all()
    return [Slot(a, p, st) for a, p, st in rows]


def first_open(slots: Sequence[Slot], start: int = 0) -> Optional[int]:
    """Index of the first slot not done, searching from ``start`` and wrapping; None if all done."""
    n = len(slots)
    for k in range(n):
        i = (start + k) % n
        if slots[i].status is None:
            return i
    return None


def _own(s: Session, rater_id: int, assignment_id: int) -> Assignment:
    a = s.get(Assignment, assignment_id)
    if a is None or a.rater_id != rater_id:
        raise IbenchError(f"assignment {assignment_id} is not assigned to this rater")
    return a


def rater_item(engine: Engine, rater_id: int, assignment_id: int) -> RaterItem:
    """The instruction, reference images, output and the rater's own rating of one assignment."""
    from ibench.core.paths import DataRoot

    with reading(engine) as s:
        a = _own(s, rater_id, assignment_id)
        item = s.get(Item, a.item_id)
        r = s.scalars(select(Rating).where(Rating.assignment_id == a.id)).first()
        inst = item.instance or {}
        instr = inst.get("instruction") or {}
        root = DataRoot(item.data_root, derived_dir=item.derived_dir) if item.data_root else None
        refs = []
        for ref in instr.get("references", []):
            paths = [str(root.resolve(p)) if root else p for p in ref.get("images", [])]
            refs.append(Reference(ref["marker"], ref["kind"] + (f" ({ref['control']})" if ref.get("control") else ""),
                                  ref.get("caption", ""), paths))
        own = None if r is None else OwnRating(r.status, list(r.conditions or []), r.sc, r.pq, r.reason, r.version)
        return RaterItem(a.id, instr.get("text", ""), instr.get("target_prompt", ""), refs,
                         list(inst.get("checklist") or []) or ["The image follows the instruction"],
                         item.image, own)


def _check_level(value: float, what: str) -> float:
    value = float(value)
    if value not in LEVELS:
        raise IbenchError(f"{what} must be one of 0, 0.5, 1 (got {value})")
    return value


def _save(s: Session, rater_id: int, assignment_id: int, status: str, conditions: Optional[list[float]],
          sc: Optional[float], pq: Optional[float], reason: Optional[str]) -> int:
    a = _own(s, rater_id, assignment_id)
    now = utcnow()
    r = s.scalars(select(Rating).where(Rating.assignment_id == a.id).with_for_update()).first()
    if r is None:
        r = Rating(assignment_id=a.id, rater_id=rater_id, item_id=a.item_id, created=now, version=0)
        s.add(r)
    r.status, r.conditions, r.sc, r.pq, r.reason = status, conditions, sc, pq, reason
    r.version, r.updated = r.version + 1, now
    s.flush()  # the unique assignment_id makes a concurrent duplicate fail here (then retried)
    s.add(history_row(r, now))
    return r.version


def rate(engine: Engine, rater_id: int, assignment_id: int, conditions: Sequence[float], pq: float,
         reason: Optional[str] = None) -> int:
    """Save (or change) a rating: one value per SC condition, SC = their minimum, and PQ. Returns its version."""
    if not conditions:
        raise IbenchError("a rating needs a value for every SC condition")
    values = [_check_level(v, "each SC condition") for v in conditions]
    pq = _check_level(pq, "PQ")
    return write(engine, _save, rater_id, assignment_id, "rated", values, sc_from_conditions(values), pq,
                 (reason or "").strip() or None)


def skip(engine: Engine, rater_id: int, assignment_id: int, reason: Optional[str] = None) -> int:
    """Skip an item (it counts as done; the rater can come back and rate it)."""
    return write(engine, _save, rater_id, assignment_id, "skipped", None, None, None, (reason or "").strip() or None)


def flag(engine: Engine, rater_id: int, assignment_id: int, reason: str) -> int:
    """Flag an item for the admin, with a reason (required)."""
    if not reason or not reason.strip():
        raise IbenchError("a flag needs a reason")
    return write(engine, _save, rater_id, assignment_id, "flagged", None, None, None, reason.strip())


def history(engine: Engine, rater_id: int, assignment_id: int) -> list[OwnRating]:
    """Every saved version of the rater's rating of one assignment, oldest first."""
    with reading(engine) as s:
        a = _own(s, rater_id, assignment_id)
        rows = s.scalars(select(RatingHistory).join(Rating, Rating.id == RatingHistory.rating_id)
                         .where(Rating.assignment_id == a.id).order_by(RatingHistory.version)).all()
        return [OwnRating(h.status, list(h.conditions or []), h.sc, h.pq, h.reason, h.version) for h in rows]


def progress(engine: Engine, rater_id: int) -> dict[str, int]:
    """Counts for one rater: total, rated, skipped, flagged, open."""
    slots = queue(engine, rater_id)
    out = {"total": len(slots), **{st: sum(x.status == st for x in slots) for st in STATUSES}}
    out["open"] = sum(x.status is None for x in slots)
    return out


def count_ratings(engine: Engine) -> tuple[int, int]:
    """(ratings, history rows): for checks that nothing was lost or duplicated."""
    with reading(engine) as s:
        return (s.scalar(select(func.count()).select_from(Rating)) or 0,
                s.scalar(select(func.count()).select_from(RatingHistory)) or 0)
