"""The tidy tables every source is read into, and the per-image values computed from them.

- ``Scores`` (pointwise judges): one row per (judge, task, model, item, sample, measure) with ``value``, the
  judge's value for that image (SC, PQ, O; a metric's value for each of them).
- ``Ratings`` (people): one row per (task, model, item, sample, rater) with ``SC`` and ``PQ`` (0, 0.5, 1).
- ``Votes`` (pairwise): one row per (judge, task, item, order) with the judge's ``vote`` and the people's
  ``human`` vote, in the words of ``VOTES``; ``order`` is ``ab`` (A shown first) or ``ba``.

An image is always (task, model, item, sample): a model's values never meet another model's ratings.
Values are floats made from exact numbers (``ibench.meta.exact``), so equal values are equal floats.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Optional

import numpy as np
import pandas as pd

from . import exact

MEASURES = ("SC", "PQ", "O")
SCORE_COLUMNS = ["judge", "task", "model", "item", "sample", "measure", "value"]
RATING_COLUMNS = ["task", "model", "item", "sample", "rater", "SC", "PQ"]
VOTE_COLUMNS = ["judge", "task", "item", "order", "vote", "human"]
#: A>B, B>A: one side better; tie: both fine; both_bad; A=B: a tie that says neither (GenAI-Bench's bare
#: "[[A=B]]"); None: no usable vote.
VOTES = ("A>B", "B>A", "tie", "both_bad", "A=B")


def scores_frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=SCORE_COLUMNS).astype({"sample": int, "value": float})


def ratings_frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=RATING_COLUMNS).astype({"sample": int})


def votes_frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=VOTE_COLUMNS)


@dataclass
class Panel:
    """One model's ratings on one task: raters x images, with each image's human value per measure."""

    items: list[tuple[str, int]]  # (item, sample), sorted
    raters: list[str]
    cells: list[list[Optional[tuple[float, float]]]]  # raters x items: (SC, PQ), None where not rated
    means: dict[str, np.ndarray]  # measure -> per image, the mean over its raters (exact, then one float)


@lru_cache(maxsize=65536)
def _mean_of(measure: str, cells: tuple[tuple[float, float], ...]) -> float:
    """The mean over ``cells`` (SC, PQ) of SC, PQ or O = √(SC·PQ): exact (a float is its exact binary
    value), then one float. ``cells`` is sorted, so the same ratings in any rater order give the same float."""
    if not cells:
        return float("nan")
    if measure == "O":
        return exact.mean_sqrt([Fraction(sc) * Fraction(pq) for sc, pq in cells])
    return exact.mean([c[0] if measure == "SC" else c[1] for c in cells])


def human_value(measure: str, cells: list[tuple[float, float]]) -> float:
    """Human SC and PQ: the mean over raters; human O: the mean over raters of √(SC_r·PQ_r) (VIEScore's)."""
    return _mean_of(measure, tuple(sorted(cells)))


def panels(ratings: pd.DataFrame) -> dict[tuple[str, str], Panel]:
    """Per (task, model): the raters x images table and the per-image human value of each measure."""
    out: dict[tuple[str, str], Panel] = {}
    cols = [ratings[c].tolist() for c in ("task", "model", "item", "sample", "rater", "SC", "PQ")]
    grouped: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for task, model, item, sample, rater, sc, pq in zip(*cols):
        grouped[(task, model)].append((str(item), int(sample), str(rater), float(sc), float(pq)))
    for key in sorted(grouped):
        rows = grouped[key]
        items = sorted({(i, s) for i, s, _, _, _ in rows})
        raters = sorted({r for _, _, r, _, _ in rows})
        col = {k: i for i, k in enumerate(items)}
        row = {r: i for i, r in enumerate(raters)}
        cells: list[list] = [[None] * len(items) for _ in raters]
        for item, sample, rater, sc, pq in rows:
            cells[row[rater]][col[(item, sample)]] = (sc, pq)
        rated = [[cells[i][j] for i in range(len(raters)) if cells[i][j] is not None] for j in range(len(items))]
        means = {m: np.array([human_value(m, c) for c in rated]) for m in MEASURES}
        out[key] = Panel(items, raters, cells, means)
    return out


def others_mean(panel: Panel, measure: str, rater: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(columns, the rater's values, the mean of the other raters) over the images the rater rated and at
    least one other rater rated too; exact means, so tied images stay tied."""
    cols, mine, rest = [], [], []
    for j in range(len(panel.items)):
        own = panel.cells[rater][j]
        if own is None:
            continue
        others = [panel.cells[i][j] for i in range(len(panel.raters)) if i != rater and panel.cells[i][j] is not None]
        if not others:
            continue
        cols.append(j)
        mine.append(human_value(measure, [own]))
        rest.append(human_value(measure, others))
    return np.array(cols, dtype=int), np.array(mine, dtype=float), np.array(rest, dtype=float)


def judge_values(scores: pd.DataFrame) -> dict[tuple[str, str, str, str], dict[tuple[str, int], float]]:
    """(judge, task, model, measure) -> {(item, sample): value}."""
    out: dict[tuple[str, str, str, str], dict[tuple[str, int], float]] = defaultdict(dict)
    cols = [scores[c].tolist() for c in SCORE_COLUMNS]
    for judge, task, model, item, sample, measure, value in zip(*cols):
        out[(judge, task, model, measure)][(str(item), int(sample))] = float(value)
    return dict(out)
