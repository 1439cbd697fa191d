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

from .rubric import LEVELS, PAIR_ASPECTS, SIDES, sc_from_conditions, to_model, to_screen
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


MAX_SECONDS = 3600.0


@dataclass(frozen=True)
class Identity:
    """Who signed in."""

    rater_id: int
    name: str
    study_id: int
    study: str
    is_admin: bool
    kind: str = "absolute"  # the study's kind: absolute | pairwise
    consented: bool = False


@dataclass(frozen=True)
class Slot:
    """One entry of a rater's queue: position, own status (None: not yet done) and the item's role."""

    assignment_id: int
    position: int
    status: Optional[str]
    role: str = "main"


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
    choice: dict[str, str] = field(default_factory=dict)  # pairwise, in screen terms: {aspect: left|right|tie}


@dataclass(frozen=True)
class RaterItem:
    """What a rater sees for one assignment (deliberately no model, run or other raters).

    ``image`` is the output to rate; in a pairwise study ``image`` and ``image_b`` are the left and
    right outputs as this rater sees them. ``expected`` is a practice item's known answer (in the
    same terms), shown as feedback once the rater has answered; None otherwise."""

    assignment_id: int
    text: str
    target_prompt: str
    references: list[Reference]
    checklist: list[str]
    image: Optional[str]
    rating: Optional[OwnRating]
    kind: str = "absolute"
    image_b: Optional[str] = None
    role: str = "main"
    notice: Optional[str] = None
    expected: Optional[dict] = None


def sign_in(engine: Engine, token: str) -> Optional[Identity]:
    """The rater (or admin) a token belongs to, or None."""
    if not token or not token.strip():
        return None
    with reading(engine) as s:
        rater_id = s.scalar(select(Rater.id).where(Rater.token_hash == token_hash(token)))
    return None if rater_id is None else sign_in_by_id(engine, rater_id)


def sign_in_by_id(engine: Engine, rater_id: int) -> Optional[Identity]:
    """The identity of a signed-in rater, read again (e.g. after consenting)."""
    with reading(engine) as s:
        row = s.execute(select(Rater, Study).join(Study, Rater.study_id == Study.id).where(Rater.id == rater_id)).first()
        if row is None:
            return None
        rater, study = row
        return Identity(rater.id, rater.name, study.id, study.name, rater.is_admin, study.kind or "absolute",
                        rater.consented is not None)


def study_instructions(engine: Engine, study_id: int) -> Optional[str]:
    """The study's own instructions (markdown), shown before consent; None for the default text only."""
    with reading(engine) as s:
        study = s.get(Study, study_id)
        return study.instructions if study is not None else None


def consent(engine: Engine, rater_id: int) -> None:
    """Record that a rater read the instructions and agreed to take part (once; the first time counts)."""
    def _do(s: Session) -> None:
        rater = s.get(Rater, rater_id)
        if rater is not None and rater.consented is None:
            rater.consented = utcnow()

    write(engine, _do)


def queue(engine: Engine, rater_id: int) -> list[Slot]:
    """The rater's assignments in their order, with their own status and the item's role."""
    with reading(engine) as s:
        rows = s.execute(select(Assignment.id, Assignment.position, Rating.status, Item.role)
                         .join(Item, Item.id == Assignment.item_id)
                         .outerjoin(Rating, Rating.assignment_id == Assignment.id)
                         .where(Assignment.rater_id == rater_id, Item.image.is_not(None))
                         .order_by(Assignment.position, Assignment.id)).all()
    return [Slot(a, p, st, role or "main") for a, p, st, role in rows]


def first_open(slots: Sequence[Slot], start: int = 0) -> Optional[int]:
    """Index of the first slot not done, searching from ``start`` and wrapping; None if all done."""
    n = len(slots)
    for k in range(n):
        i = (start + k) % n
        if slots[i].status is None:
            return i
    return None


def next_slot(slots: Sequence[Slot], start: int = 0) -> Optional[int]:
    """What to show next: the first slot not yet done from ``start`` (wrapping); when none is left, the
    skipped ones come back (re-queued at the end); None when every slot is rated or flagged."""
    found = first_open(slots, start)
    if found is not None:
        return found
    n = len(slots)
    return next(((start + k) % n for k in range(n) if slots[(start + k) % n].status == "skipped"), None)


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
        flip = a.pair_order == "ba"
        own = None if r is None else OwnRating(r.status, list(r.conditions or []), r.sc, r.pq, r.reason, r.version,
                                               to_screen(r.preference or {}, flip))
        kind = "pairwise" if item.image_b else "absolute"
        left, right = (item.image_b, item.image) if flip else (item.image, item.image_b)
        expected = None
        if item.role == "practice" and item.expected:
            expected = ({"choice": to_screen(item.expected, flip)} if kind == "pairwise" else dict(item.expected))
        return RaterItem(a.id, instr.get("text", ""), instr.get("target_prompt", ""), refs,
                         list(inst.get("checklist") or []) or ["The image follows the instruction"],
                         left, own, kind, right, item.role or "main", item.notice, expected)


def _check_level(value: float, what: str) -> float:
    value = float(value)
    if value not in LEVELS:
        raise IbenchError(f"{what} must be one of 0, 0.5, 1 (got {value})")
    return value


def _save(s: Session, rater_id: int, assignment_id: int, status: str, conditions: Optional[list[float]],
          sc: Optional[float], pq: Optional[float], reason: Optional[str], seconds: Optional[float] = None,
          choice: Optional[dict[str, str]] = None) -> int:
    a = _own(s, rater_id, assignment_id)
    now = utcnow()
    r = s.scalars(select(Rating).where(Rating.assignment_id == a.id).with_for_update()).first()
    if r is None:
        r = Rating(assignment_id=a.id, rater_id=rater_id, item_id=a.item_id, created=now, version=0)
        s.add(r)
    r.status, r.conditions, r.sc, r.pq, r.reason = status, conditions, sc, pq, reason
    r.preference = to_model(choice, a.pair_order == "ba") if choice else None
    r.seconds = _seconds(seconds)
    r.version, r.updated = r.version + 1, now
    s.flush()  # the unique assignment_id makes a concurrent duplicate fail here (then retried)
    s.add(history_row(r, now))
    return r.version


def _seconds(value: Optional[float]) -> Optional[float]:
    if value is None:
        return None
    value = float(value)
    if not value >= 0 or value > MAX_SECONDS:
        return None  # a clock glitch or a rater who walked away: not a time on the item
    return round(value, 3)


def rate(engine: Engine, rater_id: int, assignment_id: int, conditions: Sequence[float], pq: float,
         reason: Optional[str] = None, seconds: Optional[float] = None) -> int:
    """Save (or change) a rating: one value per SC condition, SC = their minimum, and PQ; ``seconds`` on
    the item. Returns its version."""
    if not conditions:
        raise IbenchError("a rating needs a value for every SC condition")
    values = [_check_level(v, "each SC condition") for v in conditions]
    pq = _check_level(pq, "PQ")
    return write(engine, _save, rater_id, assignment_id, "rated", values, sc_from_conditions(values), pq,
                 (reason or "").strip() or None, seconds)


def prefer(engine: Engine, rater_id: int, assignment_id: int, choice: dict[str, str],
           seconds: Optional[float] = None, reason: Optional[str] = None) -> int:
    """Save a pairwise verdict in screen terms (``{"sc": "left", "pq": "tie"}``): stored as which model won."""
    missing = [a for a in PAIR_ASPECTS if a not in choice]
    if missing:
        raise IbenchError(f"a pairwise verdict needs an answer for {', '.join(missing)}")
    bad = [v for v in choice.values() if v not in SIDES]
    if bad:
        raise IbenchError(f"a pairwise answer must be left, right or tie (got {bad[0]!r})")
    return write(engine, _save, rater_id, assignment_id, "rated", None, None, None, (reason or "").strip() or None,
                 seconds, {a: choice[a] for a in PAIR_ASPECTS})


def skip(engine: Engine, rater_id: int, assignment_id: int, reason: Optional[str] = None,
         seconds: Optional[float] = None) -> int:
    """Skip an item: it comes back once every other item is done (the rater can also go back to it)."""
    return write(engine, _save, rater_id, assignment_id, "skipped", None, None, None, (reason or "").strip() or None,
                 seconds)


def flag(engine: Engine, rater_id: int, assignment_id: int, reason: str, seconds: Optional[float] = None) -> int:
    """Flag an item for the admin, with a reason (required)."""
    if not reason or not reason.strip():
        raise IbenchError("a flag needs a reason")
    return write(engine, _save, rater_id, assignment_id, "flagged", None, None, None, reason.strip(), seconds)


def history(engine: Engine, rater_id: int, assignment_id: int) -> list[OwnRating]:
    """Every saved version of the rater's rating of one assignment, oldest first."""
    with reading(engine) as s:
        a = _own(s, rater_id, assignment_id)
        rows = s.scalars(select(RatingHistory).join(Rating, Rating.id == RatingHistory.rating_id)
                         .where(Rating.assignment_id == a.id).order_by(RatingHistory.version)).all()
        flip = a.pair_order == "ba"
        return [OwnRating(h.status, list(h.conditions or []), h.sc, h.pq, h.reason, h.version,
                          to_screen(h.preference or {}, flip)) for h in rows]


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
