"""The report's tables as tidy pandas frames: automatic metrics, human ratings (Table 4), agreement,
metric–human correlation. Rendering lives in report_render; nothing here formats numbers."""

from __future__ import annotations

import math
from typing import Iterable

import pandas as pd

from ibench.core.vocabulary import TASK_FAMILIES
from ibench.stats import corr_ci, mean_ci

from .runs import RunInfo, directions, item_values, set_metrics

FAMILY_TITLES = {**TASK_FAMILIES, "other": "Other tasks"}
FAMILIES = tuple(FAMILY_TITLES)
MEASURES = ("SC", "PQ", "O")
METRIC_COLUMNS = ["task", "family", "model", "run_id", "metric", "higher_is_better", "mean", "ci_low", "ci_high",
                  "n"]
SET_COLUMNS = ["task", "family", "model", "run_id", "metric", "higher_is_better", "value", "n", "stable", "note"]
CORR_COLUMNS = ["task", "family", "metric", "human", "n", "spearman", "spearman_ci_low", "spearman_ci_high",
                "spearman_p", "kendall", "kendall_ci_low", "kendall_ci_high", "kendall_p"]


def metric_table(runs: list[RunInfo], per_instance: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per task × model × metric: mean over instances with a 95% bootstrap CI (instances resampled)."""
    rows = []
    for run in runs:
        df = per_instance[run.run_id]
        dirs = directions(run, df["metric"].unique())
        for metric, g in df.groupby("metric", sort=True):
            est = mean_ci(g["value"].to_numpy())
            rows.append({"task": run.task, "family": run.family, "model": run.label, "run_id": run.run_id,
                         "metric": metric, "higher_is_better": dirs[metric], **est.as_dict()})
    return _sorted(pd.DataFrame(rows, columns=METRIC_COLUMNS), ["family", "task", "metric", "model"])


def set_metric_table(runs: list[RunInfo]) -> pd.DataFrame:
    """Set-level metrics (FID, KID) per task × model, as the evaluators computed them."""
    rows = [{"task": r.task, "family": r.family, "model": r.label, "run_id": r.run_id, **s}
            for r in runs for s in set_metrics(r)]
    return _sorted(pd.DataFrame(rows, columns=SET_COLUMNS), ["family", "task", "metric", "model"])


def _sorted(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if df.empty:
        return df.reset_index(drop=True)
    order = {"family": {f: i for i, f in enumerate(FAMILIES)}, "human": {m: i for i, m in enumerate(MEASURES)}}
    return df.sort_values(keys, key=lambda s: s.map(order[s.name]) if s.name in order else s).reset_index(drop=True)


# -- human ratings -----------------------------------------------------------------------------------
def table4(human: pd.DataFrame, measures: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Instruct-Imagen's Table 4 layout: per family block, rows (model, measure), columns tasks + Average.

    ``human`` has one row per (task, model) with a ``family`` column; ``measures`` maps the shown name
    (SC, PQ, O) to the column holding it. A block's Average is the mean over the block's tasks that
    the model was rated on (a missing task is left out of that model's average, and shown empty).
    """
    blocks: dict[str, pd.DataFrame] = {}
    for family in FAMILIES:
        part = human[human["family"] == family]
        if part.empty:
            continue
        tasks = sorted(part["task"].unique())
        rows = []
        for model in sorted(part["model"].unique()):
            mine = part[part["model"] == model].set_index("task")
            for shown, column in measures.items():
                values = {t: float(mine.at[t, column]) if t in mine.index else math.nan for t in tasks}
                present = [v for v in values.values() if not math.isnan(v)]
                rows.append({"model": model, "measure": shown, **values,
                             "Average": sum(present) / len(present) if present else math.nan})
        blocks[family] = pd.DataFrame(rows, columns=["model", "measure", *tasks, "Average"])
    return blocks


def table4_long(blocks: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The Table 4 blocks as one tidy table (family, model, measure, task, value); task ``Average`` included."""
    frames = []
    for family, block in blocks.items():
        long = block.melt(id_vars=["model", "measure"], var_name="task", value_name="value")
        long.insert(0, "family", family)
        frames.append(long)
    cols = ["family", "model", "measure", "task", "value"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


# -- metric vs human ----------------------------------------------------------------------------------
def item_table(runs: list[RunInfo], raw_scores: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per (run, instance, sample, metric): the metric's value for one image (mean over conditions)."""
    frames = []
    for run in runs:
        items = item_values(raw_scores[run.run_id])
        items.insert(0, "run_id", run.run_id)
        items.insert(0, "model", run.label)
        items.insert(0, "family", run.family)
        items.insert(0, "task", run.task)
        frames.append(items)
    cols = ["task", "family", "model", "run_id", "instance_id", "sample", "metric", "value"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def human_items(ratings: pd.DataFrame, measures: Iterable[str] = MEASURES) -> pd.DataFrame:
    """Per rated image (run, instance, sample): each measure's mean over its raters."""
    cols = [m for m in measures if m in ratings.columns]
    return ratings.groupby(["run_id", "instance_id", "sample"], as_index=False)[cols].mean()


def joined_items(items: pd.DataFrame, human: pd.DataFrame) -> pd.DataFrame:
    """Metric values beside the human ratings of the same image (images rated and scored only)."""
    keyed = human.astype({"sample": int})
    return items.astype({"sample": int}).merge(keyed, on=["run_id", "instance_id", "sample"], how="inner")


def correlation_table(joined: pd.DataFrame, measures: Iterable[str] = MEASURES, seed: int = 0) -> pd.DataFrame:
    """Per task × metric × human measure: Spearman and Kendall over rated images, with bootstrap CIs."""
    rows = []
    for (task, metric), g in joined.groupby(["task", "metric"], sort=True):
        for measure in measures:
            if measure not in g.columns:
                continue
            sp = corr_ci(g["value"], g[measure], "spearman", seed=seed)
            kd = corr_ci(g["value"], g[measure], "kendall", seed=seed)
            rows.append({"task": task, "family": g["family"].iloc[0], "metric": metric, "human": measure,
                         "n": sp.n, "spearman": sp.value, "spearman_ci_low": sp.ci_low, "spearman_ci_high": sp.ci_high,
                         "spearman_p": sp.p_value, "kendall": kd.value, "kendall_ci_low": kd.ci_low,
                         "kendall_ci_high": kd.ci_high, "kendall_p": kd.p_value})
    return _sorted(pd.DataFrame(rows, columns=CORR_COLUMNS), ["family", "task", "human", "metric"])
