"""What one action of a rater does (no Streamlit here): the rating page's component sends an action,
``apply`` saves it and says which item comes next.

Actions (JSON from the page): ``{"type": "save", "conditions": [..], "pq": x, "ms": t}`` (absolute) or
``{"type": "save", "choice": {"sc": "left", "pq": "tie"}, "ms": t}`` (pairwise); ``{"type": "skip"}``;
``{"type": "flag", "reason": "..."}``; ``{"type": "go", "to": "prev" | "next" | index}``. ``ms`` is the
time the item was on screen before the action; it is stored with the rating.

After a save, skip or flag the next item is the next one not yet done (skipped items come back at
the end, ``ratings.next_slot``); a practice item with a known answer stays on screen with feedback
until the rater moves on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy.engine import Engine

from ibench.errors import IbenchError, one_line

from . import ratings


@dataclass(frozen=True)
class Outcome:
    """What the page shows after an action: the item to show (None: all done) and one line."""

    pos: Optional[int]
    message: str = ""
    error: bool = False


def _seconds(action: dict) -> Optional[float]:
    ms = action.get("ms")
    return float(ms) / 1000 if isinstance(ms, (int, float)) else None


def _go(slots: list[ratings.Slot], pos: int, to: Any) -> Outcome:
    n = len(slots)
    if to == "prev":
        return Outcome((pos - 1) % n)
    if to == "next":
        return Outcome((pos + 1) % n)
    if isinstance(to, int) and 0 <= to < n:
        return Outcome(to)
    return Outcome(pos, f"cannot go to {to!r}", True)


def apply(engine: Engine, ident: ratings.Identity, slots: list[ratings.Slot], pos: int, action: dict) -> Outcome:
    """Save what the rater did on item ``pos`` of their queue; return what to show next."""
    kind = action.get("type")
    if kind == "go":
        return _go(slots, pos, action.get("to"))
    slot = slots[pos]
    seconds = _seconds(action)
    label = f"item {pos + 1}"
    try:
        if kind == "save":
            if ident.kind == "pairwise":
                version = ratings.prefer(engine, ident.rater_id, slot.assignment_id, dict(action.get("choice") or {}),
                                         seconds)
                shown = ", ".join(f"{k.upper()} {v}" for k, v in sorted((action.get("choice") or {}).items()))
            else:
                values = list(action.get("conditions") or [])
                if any(v is None for v in values) or action.get("pq") is None:
                    return Outcome(pos, "Choose a value for every question before saving.", True)
                version = ratings.rate(engine, ident.rater_id, slot.assignment_id, values, action["pq"],
                                       seconds=seconds)
                shown = f"SC {min(map(float, values)):g}, PQ {float(action['pq']):g}"
            message = f"Saved {label}: {shown}" + (" (changed)" if version > 1 else "") + "."
            if slot.role == "practice" and _has_answer(engine, ident, slot):
                return Outcome(pos, message + " Compare with the expected answer, then press → for the next item.")
        elif kind == "skip":
            ratings.skip(engine, ident.rater_id, slot.assignment_id, action.get("reason"), seconds)
            message = f"Skipped {label}: it comes back at the end."
        elif kind == "flag":
            reason = str(action.get("reason") or "").strip()
            if not reason:
                return Outcome(pos, "Write a reason to flag this item.", True)
            ratings.flag(engine, ident.rater_id, slot.assignment_id, reason, seconds)
            message = f"Flagged {label}."
        else:
            return Outcome(pos, f"unknown action {kind!r}", True)
    except IbenchError as exc:
        return Outcome(pos, one_line(exc), True)
    fresh = ratings.queue(engine, ident.rater_id)
    return Outcome(ratings.next_slot(fresh, pos + 1), message)


def _has_answer(engine: Engine, ident: ratings.Identity, slot: ratings.Slot) -> bool:
    return ratings.rater_item(engine, ident.rater_id, slot.assignment_id).expected is not None
