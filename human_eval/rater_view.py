"""The rating page's one component: everything a rater sees for an item (instruction, references,
output(s), rubric, shortcuts) in one 1440×900 viewport, driven by the keyboard.

``item_data`` is the JSON the component gets (built from ``ratings.RaterItem``: no model, run or
path in it); ``component()`` registers the HTML/CSS/JS in ``static/`` once per process. The page sends
back one ``action`` (see ``ibench.human_eval.session``).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Optional

from . import ratings
from .media import OUTPUT_SIZE, REFERENCE_SIZE, data_uri
from .rubric import (ARTIFACTS, CONDITION_LEVELS, LEVELS, PAIR_ASPECTS, PAIR_QUESTIONS, PQ_LEVELS, PQ_OPTIONS,
                     SC_DEFINITION, SC_LEVELS, PQ_DEFINITION, UNUSUAL_SENSE)

NAME = "ibench_rater"
SHORTCUTS = {
    "absolute": [("0 / 5 / 1", "rate the highlighted question 0, 0.5 or 1 (then the next one)"),
                 ("↑ ↓", "move between questions"), ("Enter", "save and go to the next item"),
                 ("← →", "previous / next item"), ("S", "skip (it comes back at the end)"), ("F", "flag with a reason"),
                 ("?", "the full rubric"), ("click", "enlarge a reference")],
    "pairwise": [("A / 1", "the left output is better"), ("B / 2", "the right output is better"), ("T / 0", "a tie"),
                 ("↑ ↓", "move between questions"), ("Enter", "save and go to the next item"),
                 ("← →", "previous / next item"), ("S", "skip"), ("F", "flag with a reason"),
                 ("?", "the full rubric"), ("click", "enlarge a reference")],
}


def _static(name: str) -> str:
    return resources.files("ibench.human_eval").joinpath("static", name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def component():
    """The registered component (its mount function)."""
    import streamlit as st

    return st.components.v2.component(NAME, html=_static("rater.html"), css=_static("rater.css"),
                                      js=_static("rater.js"))


def describe(rating: Optional[ratings.OwnRating]) -> str:
    if rating is None:
        return "not rated yet"
    if rating.status == "rated":
        if rating.choice:
            shown = ", ".join(f"{k.upper()} {v}" for k, v in sorted(rating.choice.items()))
            return f"rated: {shown} (version {rating.version})"
        return f"rated: SC {rating.sc:g}, PQ {rating.pq:g} (version {rating.version})"
    return rating.status + (f" ({rating.reason})" if rating.reason else "")


def guide() -> dict:
    return {"sc": SC_DEFINITION.replace("**", ""), "sc_levels": list(SC_LEVELS.values()),
            "pq": PQ_DEFINITION.replace("**", ""), "pq_levels": list(PQ_LEVELS.values()),
            "notes": [f"With several conditions, rate each one: SC is the minimum over them.",
                      f"Artifacts: {', '.join(ARTIFACTS)}.", f"Unusual sense: {', '.join(UNUSUAL_SENSE)}."]}


def item_data(item: ratings.RaterItem, pos: int, slots: list[ratings.Slot],
              flash: Optional[dict] = None) -> dict:
    """The component's data for one item of a rater's queue."""
    done = sum(s.status in ("rated", "flagged") for s in slots)
    own = item.rating
    refs = [{"marker": r.marker, "kind": r.kind, "caption": r.caption,
             "images": [data_uri(p, REFERENCE_SIZE) for p in r.images]} for r in item.references]
    outputs = [item.image] + ([item.image_b] if item.kind == "pairwise" else [])
    data = {
        "kind": item.kind, "pos": pos, "total": len(slots), "done": done,
        "skipped": sum(s.status == "skipped" for s in slots), "role": item.role, "notice": item.notice,
        "status": describe(own), "text": item.text, "target": item.target_prompt, "refs": refs,
        "images": [data_uri(p, OUTPUT_SIZE) for p in outputs], "checklist": item.checklist,
        "levels": list(LEVELS), "condition_levels": [CONDITION_LEVELS[v] for v in LEVELS],
        "pq_levels": [PQ_OPTIONS[v] for v in LEVELS],
        "questions": [{"aspect": a, "text": PAIR_QUESTIONS[a]} for a in PAIR_ASPECTS],
        "own": None, "expected": None, "flash": flash, "shortcuts": SHORTCUTS[item.kind], "guide": guide(),
    }
    if own is not None and own.status == "rated":
        data["own"] = {"conditions": own.conditions, "pq": own.pq, "choice": own.choice}
        data["expected"] = item.expected  # practice feedback, once answered
    return data
