"""The meta-evaluation table: every judge against the people, per model, per task and overall.

Pointwise, per (judge, task, image model, measure) the judge's values are correlated with the people's
over the images both have (the people's value of an image: ``records.panels``). A task's figure combines
its models' correlations, the overall figure combines the tasks' (``stats.average``). The human ceiling
(judge ``human``) is VIEScore's: per model, each rater against the mean of the other raters, over the
images they share, combined over raters like the judges are over models; then over models and tasks. It
covers the models some judge was compared on (all rated models when there is no judge).

Confidence intervals (``ci_low``, ``ci_high``; 95%, percentile) come from one seeded bootstrap for the
whole table: each replicate redraws, within every (task, model), its rated images with replacement (the
same draw for every judge and for the ceiling: the judges are compared on the same resampled images),
recomputes every model's correlation and combines them exactly as the figure does. Pairwise accuracies
redraw the pairs of a task.

``n``: the images behind a figure (its models' images for a task, every task's for the overall row);
for the ceiling, the images rated by two raters or more; for accuracies, the judgements counted.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

from ibench.errors import IbenchError

from . import stats
from .records import MEASURES, Panel, judge_values, others_mean, panels

ALL = "ALL"
HUMAN = "human"
PAIR_MEASURE = "preference"
CSV_COLUMNS = ["judge", "task", "model", "measure", "statistic", "value", "n"]
COLUMNS = [*CSV_COLUMNS, "ci_low", "ci_high"]
DEFAULT_RESAMPLES = 1000


@dataclass
class MetaOptions:
    statistics: tuple[str, ...] = ("spearman",)
    average: str = stats.DEFAULT_AVERAGE
    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0

    def __post_init__(self) -> None:
        known = (*stats.CORRELATIONS, *stats.ACCURACIES)
        bad = [s for s in self.statistics if s not in known]
        if bad:
            raise IbenchError(f"--statistic {bad[0]!r}: choose from {', '.join(known)}")
        if self.average not in stats.AVERAGES:
            raise IbenchError(f"--average {self.average!r}: choose from {', '.join(stats.AVERAGES)}")
        if self.resamples < 0:
            raise IbenchError("--resamples must be 0 (no intervals) or more")


@dataclass
class Figure:
    """One correlation with its bootstrap replicates."""

    value: float
    n: int
    reps: np.ndarray = field(repr=False)


def _rng(seed: int, task: str, model: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(f"{task}\x1f{model}".encode())])


def _combine(figures: list[Figure], how: str, resamples: int) -> Figure:
    values = [f.value for f in figures]
    reps = np.vstack([f.reps for f in figures]) if figures and resamples else np.empty((0, resamples))
    return Figure(stats.average(values, how), sum(f.n for f in figures),
                  stats.average(reps, how, axis=0) if len(reps) else np.full(resamples, np.nan))


def _row(judge: str, task: str, model: str, measure: str, statistic: str, fig: Figure) -> dict:
    low, high = stats.interval(fig.reps)
    return {"judge": judge, "task": task, "model": model, "measure": measure, "statistic": statistic,
            "value": fig.value, "n": int(fig.n), "ci_low": low, "ci_high": high}


class _Pointwise:
    def __init__(self, ratings: pd.DataFrame, scores: Optional[pd.DataFrame], options: MetaOptions):
        self.options = options
        self.panels: dict[tuple[str, str], Panel] = panels(ratings)
        self.values = judge_values(scores) if scores is not None and not scores.empty else {}
        self.judges = list(dict.fromkeys(scores["judge"])) if self.values else []
        self.counts = {key: stats.bootstrap_counts(len(p.items), options.resamples, _rng(options.seed, *key))
                       for key, p in self.panels.items()}
        self._others: dict[tuple, list[tuple]] = {}

    def _figure(self, x: np.ndarray, y: np.ndarray, counts: np.ndarray, statistic: str) -> Figure:
        return Figure(stats.correlation(x, y, statistic), len(x), stats.replicates(x, y, counts, statistic))

    def judge_figure(self, judge: str, key: tuple[str, str], measure: str, statistic: str) -> Optional[Figure]:
        got = self.values.get((judge, *key, measure))
        panel = self.panels.get(key)
        if not got or panel is None:
            return None
        cols = [j for j, item in enumerate(panel.items) if item in got]
        if not cols:
            return None
        x = np.array([got[panel.items[j]] for j in cols])
        return self._figure(x, panel.means[measure][cols], self.counts[key][:, cols], statistic)

    def ceiling_figure(self, key: tuple[str, str], measure: str, statistic: str) -> Optional[Figure]:
        panel = self.panels[key]
        if (key, measure) not in self._others:
            self._others[(key, measure)] = [others_mean(panel, measure, r) for r in range(len(panel.raters))]
        per_rater = [self._figure(mine, rest, self.counts[key][:, cols], statistic)
                     for cols, mine, rest in self._others[(key, measure)] if len(cols) >= 3]
        if not per_rater:
            return None
        fig = _combine(per_rater, self.options.average, self.options.resamples)
        shared = set().union(*[set(c) for c, _, _ in self._others[(key, measure)]])
        return Figure(fig.value, len(shared), fig.reps)

    def rows(self) -> list[dict]:
        out: list[dict] = []
        judged = {(t, m) for (_, t, m, _) in self.values}
        ceiling_keys = sorted(k for k in self.panels if not judged or k in judged)
        sources = [(HUMAN, ceiling_keys)] + [(j, sorted({(t, m) for (jj, t, m, _) in self.values if jj == j}))
                                             for j in self.judges]
        for judge, keys in sources:
            for statistic in (s for s in self.options.statistics if s in stats.CORRELATIONS):
                for measure in MEASURES:
                    out += self._block(judge, keys, measure, statistic)
        return out

    def _block(self, judge: str, keys: list[tuple[str, str]], measure: str, statistic: str) -> list[dict]:
        how, resamples = self.options.average, self.options.resamples
        rows, per_task = [], []
        for task in sorted({t for t, _ in keys}):
            figures = []
            for key in [k for k in keys if k[0] == task]:
                fig = (self.ceiling_figure(key, measure, statistic) if judge == HUMAN
                       else self.judge_figure(judge, key, measure, statistic))
                if fig is not None:
                    figures.append(fig)
                    rows.append(_row(judge, task, key[1], measure, statistic, fig))
            if figures:
                per_task.append(_combine(figures, how, resamples))
                rows.append(_row(judge, task, ALL, measure, statistic, per_task[-1]))
        if per_task:
            rows.append(_row(judge, ALL, ALL, measure, statistic, _combine(per_task, how, resamples)))
        return rows


def _pairwise_rows(votes: pd.DataFrame, options: MetaOptions) -> list[dict]:
    wanted = [s for s in options.statistics if s in stats.ACCURACIES] or list(stats.ACCURACIES)
    out = []
    for judge in dict.fromkeys(votes["judge"]):
        mine = votes[votes["judge"] == judge]
        for statistic in wanted:
            per_task = []
            for task, group in mine.groupby("task", sort=True):
                fig = _accuracy(group, statistic, task, options)
                if fig is not None:
                    per_task.append(fig)
                    out.append(_row(judge, task, ALL, PAIR_MEASURE, statistic, fig))
            if len(per_task) > 1:
                out.append(_row(judge, ALL, ALL, PAIR_MEASURE, statistic,
                                _combine(per_task, "mean", options.resamples)))
    return out


def _accuracy(group: pd.DataFrame, statistic: str, task: str, options: MetaOptions) -> Optional[Figure]:
    """Accuracy over a task's pairs, with replicates that redraw the pairs (each pair's judgements together)."""
    if statistic == "accuracy_4way":
        group = group[group["order"] == "ab"].drop_duplicates("item")
    elif not group["human"].isin(["A>B", "B>A"]).all():
        return None  # both orders against people who may call a tie: not MMRB2's statistic
    right = np.array([stats.ACCURACY[statistic](v, h) for v, h in zip(group["vote"], group["human"])], dtype=float)
    if not right.size:
        return None
    items, index = np.unique(group["item"].astype(str).to_numpy(), return_inverse=True)
    counted = ~np.isnan(right)
    hits = np.bincount(index, weights=np.where(counted, right, 0.0), minlength=len(items))
    total = np.bincount(index, weights=counted.astype(float), minlength=len(items))
    if total.sum() == 0:
        return None
    counts = stats.bootstrap_counts(len(items), options.resamples, _rng(options.seed, task, ALL))
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = (counts @ hits) / (counts @ total)
    return Figure(float(hits.sum() / total.sum()), int(total.sum()), reps)


def meta_table(ratings: Optional[pd.DataFrame] = None, scores: Optional[pd.DataFrame] = None,
               votes: Optional[pd.DataFrame] = None, options: Optional[MetaOptions] = None) -> pd.DataFrame:
    """The whole table (``COLUMNS``): the human ceiling, then each judge in the order given."""
    options = options or MetaOptions()
    rows: list[dict] = []
    if scores is not None and not scores.empty and (ratings is None or ratings.empty):
        raise IbenchError("pointwise judges need human ratings: give --human FORMAT:PATH")
    if ratings is not None and not ratings.empty:
        rows += _Pointwise(ratings, scores, options).rows()
    if votes is not None and not votes.empty:
        rows += _pairwise_rows(votes, options)
    if not rows:
        raise IbenchError("nothing to compare: the judges and the human ratings share no image (same task, model "
                          "and item)")
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table


def leaderboard(table: pd.DataFrame, measure: str = "O", statistic: Optional[str] = None) -> pd.DataFrame:
    """The overall (task ALL) figure of each judge on one measure, best first, the human ceiling on top."""
    rows = table[(table["task"] == ALL) & (table["model"] == ALL)]
    if statistic is None:
        statistic = next((s for s in (*stats.CORRELATIONS, *stats.ACCURACIES) if (rows["statistic"] == s).any()), "")
    rows = rows[(rows["statistic"] == statistic) & rows["measure"].isin([measure, PAIR_MEASURE])]
    human = rows[rows["judge"] == HUMAN]
    rest = rows[rows["judge"] != HUMAN].sort_values("value", ascending=False, kind="stable")
    return pd.concat([human, rest], ignore_index=True)
