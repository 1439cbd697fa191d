"""The headline: per metric, models × tasks, with family averages and an overall rank.

A task cell is the metric's mean over instances (the report's metric table). A family average (and
the overall average) is the mean of the model's task means over the tasks it was scored on, with a
stratified percentile bootstrap: each task's instances are resampled on their own, as the task
means are independent. A cell is marked ``best`` only when the best model's interval lies entirely
on the better side of every other model's interval (non-overlapping 95% CIs): a conservative
"separated" test, so a bold cell means a clear lead. Models are ranked by their overall average
(1 = best; equal averages share a rank); ``n_tasks`` says how many tasks an average covers. Every cell is
over the instances all models of its task have (``tables.comparable_values``); ``coverage`` says what it
is over when that is not every planned instance: a task cell its coverage, an average the instances it
holds of those its tasks planned.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ibench.stats import CONFIDENCE

from .tables import FAMILIES

RESAMPLES = 1000
OVERALL = "overall"
COLUMNS = ["metric", "higher_is_better", "model", "column", "kind", "family", "mean", "ci_low", "ci_high",
           "n_tasks", "coverage", "best", "rank"]


def _average_ci(groups: list[np.ndarray], seed: int) -> tuple[float, float, float]:
    """Mean of the group means and its stratified bootstrap interval (each group resampled alone)."""
    means = [float(g.mean()) for g in groups]
    if any(g.size < 2 for g in groups):
        return float(np.mean(means)), math.nan, math.nan
    rng = np.random.default_rng(seed)
    boot = np.mean([g[rng.integers(0, g.size, (RESAMPLES, g.size))].mean(axis=1) for g in groups], axis=0)
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.quantile(boot, [alpha, 1 - alpha])
    return float(np.mean(means)), float(low), float(high)


def _mark_best(cells: pd.DataFrame, higher: bool) -> pd.Series:
    """True for the one best cell of a column when its CI is separated from every other cell's CI."""
    best = pd.Series(False, index=cells.index)
    valid = cells.dropna(subset=["mean"])
    if len(valid) < 2:
        return best
    top = valid["mean"].idxmax() if higher else valid["mean"].idxmin()
    others = valid.drop(index=top)
    lo, hi = valid.at[top, "ci_low"], valid.at[top, "ci_high"]
    if higher:
        separated = not math.isnan(lo) and bool((others["ci_high"] < lo).all())
    else:
        separated = not math.isnan(hi) and bool((others["ci_low"] > hi).all())
    best[top] = separated
    return best


def _text(value) -> str:  # noqa: ANN001 - a cell of a table that may lack the column (NaN)
    return value if isinstance(value, str) else ""


def _held(chosen: pd.DataFrame) -> str:
    """``held/planned`` instances of an average's tasks, ``""`` when it holds them all (or they are unknown)."""
    if "n_planned" not in chosen or chosen["n_planned"].isna().any():
        return ""
    held, planned = int(chosen["n"].sum()), int(chosen["n_planned"].sum())
    return f"{held}/{planned}" if held < planned else ""


def headline_table(metrics: pd.DataFrame, per_instance: dict[str, pd.DataFrame], seed: int = 0) -> pd.DataFrame:
    """Long form: one row per metric × model × column (a task, ``family:<name>`` or ``overall``); ``per_instance``
    holds the values the metric table's means are over (``tables.comparable_values``)."""
    if metrics.empty:
        return pd.DataFrame(columns=COLUMNS)
    rows = []
    for metric, part in metrics.groupby("metric", sort=True):
        higher = bool(part["higher_is_better"].iloc[0])
        values = {}
        for r in part.itertuples():
            df = per_instance[r.run_id]
            values[(r.model, r.task)] = df[df["metric"] == metric]["value"].to_numpy(dtype=float)
        for r in part.itertuples():
            rows.append({"metric": metric, "higher_is_better": higher, "model": r.model, "column": r.task,
                         "kind": "task", "family": r.family, "mean": r.mean, "ci_low": r.ci_low,
                         "ci_high": r.ci_high, "n_tasks": 1, "coverage": _text(getattr(r, "coverage_short", ""))})
        for model, mine in part.groupby("model", sort=True):
            scopes = [(f"family:{f}", "family", f, mine[mine["family"] == f]) for f in FAMILIES]
            scopes.append((OVERALL, OVERALL, "", mine))
            for column, kind, family, chosen in scopes:
                groups = [values[(model, t)] for t in chosen["task"] if values[(model, t)].size]
                if not groups:
                    continue
                mean, low, high = _average_ci(groups, seed)
                rows.append({"metric": metric, "higher_is_better": higher, "model": model, "column": column,
                             "kind": kind, "family": family, "mean": mean, "ci_low": low, "ci_high": high,
                             "n_tasks": len(groups), "coverage": _held(chosen)})
    df = pd.DataFrame(rows, columns=COLUMNS[:-2])
    df["best"] = False
    for (metric, column), cells in df.groupby(["metric", "column"], sort=False):
        df.loc[cells.index, "best"] = _mark_best(cells, bool(cells["higher_is_better"].iloc[0]))
    df["rank"] = pd.NA
    overall = df[df["column"] == OVERALL]
    for metric, cells in overall.groupby("metric", sort=False):
        higher = bool(cells["higher_is_better"].iloc[0])
        df.loc[cells.index, "rank"] = cells["mean"].rank(ascending=not higher, method="min").astype("Int64")
    return df[COLUMNS].reset_index(drop=True)


def headline_blocks(headline: pd.DataFrame) -> list[dict]:
    """Per metric, for rendering: task columns grouped by family, then the averages; rows by rank."""
    blocks = []
    for metric, part in headline.groupby("metric", sort=True):
        tasks = part[part["kind"] == "task"]
        groups = []
        for family in FAMILIES:
            names = sorted(tasks[tasks["family"] == family]["column"].unique())
            if names:
                groups.append({"family": family, "tasks": names,
                               "average": f"family:{family}" if len(names) > 1 else None})
        columns = [c for g in groups for c in [*g["tasks"], *([g["average"]] if g["average"] else [])]]
        several = len(groups) > 1 or any(g["average"] for g in groups)
        if several:
            columns.append(OVERALL)
        cells = part.set_index(["model", "column"])
        overall = part[part["column"] == OVERALL].set_index("model")
        models = sorted(part["model"].unique(), key=lambda m: (overall.at[m, "rank"] if m in overall.index
                                                                and not pd.isna(overall.at[m, "rank"]) else 1e9, m))
        rows = [{"model": m, "rank": None if m not in overall.index or pd.isna(overall.at[m, "rank"])
                 else int(overall.at[m, "rank"]),
                 "n_tasks": int(overall.at[m, "n_tasks"]) if m in overall.index else 0,
                 "cells": [{**cells.loc[(m, c)].to_dict(), "column": c} if (m, c) in cells.index else None
                           for c in columns]}
                for m in models]
        blocks.append({"metric": metric, "higher": bool(part["higher_is_better"].iloc[0]), "groups": groups,
                       "columns": columns, "overall": several, "rows": rows,
                       "uneven": len({r["n_tasks"] for r in rows}) > 1})
    return blocks


def column_title(column: str) -> str:
    if column == OVERALL:
        return "overall"
    if column.startswith("family:"):
        return f"{column.split(':', 1)[1]} avg"
    return column
