"""Judge–human agreement per task and measure (SC, PQ, O), beside the human–human ceiling.

Over the images a task's study rated and the judge scored (items: task, image model, instance, sample):

- ``spearman`` / ``kendall``: the judge's value against the mean human rating of the item
  (``ibench.stats.corr_ci``: tau-b, percentile bootstrap over instances);
- ``alpha_judge``: Krippendorff's alpha (interval level: the judge's 0-10/10 and the raters' 0/0.5/1 share
  the [0, 1] scale) of the raters x items table with the judge as one more rater; ``alpha_humans``: the
  same table without the judge;
- ``ceiling_spearman`` / ``ceiling_kendall``: each rater against the mean of the other raters on the
  items they share, averaged over raters (raters with at least 3 such items and varied ratings): what
  agreeing with "the humans" looks like for one human.

Every interval is a seeded percentile bootstrap that resamples instances (``ibench.stats.cluster_bootstrap``
and ``corr_ci(clusters=)``): the images of one instance (its samples, its models) are drawn together, since
they are not independent; undefined draws are left out.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd

from ibench.stats import cluster_bootstrap, corr_ci

MEASURES = {"SC": "judge_sc", "PQ": "judge_pq", "O": "judge_o"}
RESAMPLES = 1000
STATS = ("spearman", "kendall", "alpha_judge", "alpha_humans", "ceiling_spearman", "ceiling_kendall")
COLUMNS = ["task", "family", "measure", "metric", "n_items", "n_raters",
           *[f"{s}{part}" for s in STATS for part in ("", "_ci_low", "_ci_high")], "ceiling_raters"]


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho (average ranks for ties); NaN when a side is constant."""
    from scipy.stats import rankdata

    rx, ry = rankdata(x) - (len(x) + 1) / 2, rankdata(y) - (len(y) + 1) / 2
    den = math.sqrt(float((rx ** 2).sum() * (ry ** 2).sum()))
    return float((rx * ry).sum() / den) if den > 0 else math.nan


def kendall(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-b from the signs of all pairs; NaN when a side is constant."""
    iu = np.triu_indices(len(x), k=1)
    sx, sy = np.sign(x[iu[0]] - x[iu[1]]), np.sign(y[iu[0]] - y[iu[1]])
    den = math.sqrt(float((sx != 0).sum() * (sy != 0).sum()))
    return float((sx * sy).sum() / den) if den > 0 else math.nan


def alpha(matrix: np.ndarray) -> float:
    """Krippendorff's alpha, interval level, of a raters x items array (NaN: not rated)."""
    from ibench.human_eval.agreement import kripp_alpha

    return kripp_alpha(pd.DataFrame(matrix), level="interval")


def ceiling(matrix: np.ndarray, corr: Callable[[np.ndarray, np.ndarray], float]) -> tuple[float, int]:
    """(mean over raters of corr(rater, mean of the other raters), raters counted)."""
    values = []
    rated = ~np.isnan(matrix)
    for r in range(matrix.shape[0]):
        others = np.delete(matrix, r, axis=0)
        count = (~np.isnan(others)).sum(axis=0)
        keep = rated[r] & (count > 0)
        if keep.sum() < 3:
            continue
        mean_others = np.nansum(others[:, keep], axis=0) / count[keep]
        v = corr(matrix[r, keep], mean_others)
        if not math.isnan(v):
            values.append(v)
    return (float(np.mean(values)) if values else math.nan), len(values)


def task_agreement(judge: pd.Series, humans: pd.DataFrame, seed: int = 0, resamples: int = RESAMPLES) -> dict:
    """Every statistic of one task and measure: ``judge`` by item, ``humans`` raters x items (same items).
    Intervals resample instances (an item key's task and instance, ``item_key``), the images of one instance
    together: its samples and models are not independent draws."""
    items = [i for i in judge.index if i in humans.columns]
    clusters = [instance_of(i) for i in items]
    h = humans[items].to_numpy(dtype=float)
    j = judge[items].to_numpy(dtype=float)
    with_judge = np.vstack([h, j[None, :]])
    out: dict = {"n_items": len(items), "n_raters": int((~np.isnan(h)).any(axis=1).sum())}
    mean_h = np.nanmean(h, axis=0) if len(items) else np.array([])
    for name in ("spearman", "kendall"):
        c = corr_ci(j, mean_h, name, seed=seed, resamples=resamples, clusters=clusters)
        out.update({name: c.value, f"{name}_ci_low": c.ci_low, f"{name}_ci_high": c.ci_high})
    stats = {"alpha_judge": lambda idx: alpha(with_judge[:, idx]), "alpha_humans": lambda idx: alpha(h[:, idx]),
             "ceiling_spearman": lambda idx: ceiling(h[:, idx], spearman)[0],
             "ceiling_kendall": lambda idx: ceiling(h[:, idx], kendall)[0]}
    for name, stat in stats.items():
        value = stat(np.arange(len(items))) if items else math.nan
        low, high = cluster_bootstrap(stat, clusters, seed, resamples)
        out.update({name: value, f"{name}_ci_low": low, f"{name}_ci_high": high})
    out["ceiling_raters"] = ceiling(h, spearman)[1] if items else 0
    return out


def instance_of(item: str) -> str:
    """The (task, instance) of an ``item_key`` (a key of another shape is its own instance)."""
    parts = item.split("\x1f")
    return f"{parts[0]}\x1f{parts[2]}" if len(parts) == 4 else item


def item_key(frame: pd.DataFrame) -> pd.Series:
    """One image: (task, image model, instance, sample); never the run id alone (see ``ibench.report.human``)."""
    parts = [frame[c].astype(str) for c in ("task", "model", "instance_id")] + [frame["sample"].astype(int).astype(str)]
    return parts[0].str.cat(parts[1:], sep="\x1f")


def agreement_table(items: pd.DataFrame, ratings: pd.DataFrame, seed: int = 0,
                    resamples: int = RESAMPLES) -> pd.DataFrame:
    """Per task x measure. ``items``: judge values per image (task, family, model, run_id, instance_id, sample, metric,
    value); ``ratings``: ``ibench.human_eval.aggregate.item_scores`` rows (task, model, run_id, instance_id,
    sample, rater, SC, PQ, O) with models named as the runs are (``ibench.report.human.model_labels``). An
    image is (task, model, instance, sample): a model's verdicts meet only that model's ratings."""
    rows = []
    if items.empty or ratings.empty:
        return pd.DataFrame(columns=COLUMNS)
    items = items.assign(item=item_key(items)).sort_values(["run_id", "instance_id", "sample"], kind="stable")
    ratings = ratings.assign(item=item_key(ratings))
    for task, mine in items.groupby("task", sort=True):
        rated = ratings[ratings["task"] == task]
        for measure, metric in MEASURES.items():
            judge = mine[mine["metric"] == metric].drop_duplicates("item").set_index("item")["value"]
            humans = rated[rated["item"].isin(judge.index)].pivot_table(index="rater", columns="item", values=measure,
                                                                        aggfunc="first")
            if judge.empty or humans.empty:
                continue
            rows.append({"task": task, "family": mine["family"].iloc[0], "measure": measure, "metric": metric,
                         **task_agreement(judge, humans, seed, resamples)})
    return pd.DataFrame(rows, columns=COLUMNS)
