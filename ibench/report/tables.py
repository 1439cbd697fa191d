"""The report's tables as tidy pandas frames: automatic metrics, human ratings (Table 4), agreement,
metric–human correlation (per image and per model). Rendering lives in ``render``; nothing here
formats numbers."""

from __future__ import annotations

import math
from typing import Iterable

import pandas as pd

from ibench.core.vocabulary import TASK_FAMILIES
from ibench.stats import corr_ci, group_mean_corr_ci, mean_ci

from .runs import RunInfo, coverage, directions, item_values, set_metrics

FAMILY_TITLES = {**TASK_FAMILIES, "other": "Other tasks"}
FAMILIES = tuple(FAMILY_TITLES)
MEASURES = ("SC", "PQ", "O")
#: ``n``: the instances the mean is over (those every model of the task has a value for); ``n_scored``: the
#: run's own instances with a value; ``n_planned``: those the metric planned; ``dropped``: n_scored - n;
#: ``coverage`` / ``coverage_short``: what a cell says beside its mean when it is not over every planned
#: instance and sample ("" when it is).
METRIC_COLUMNS = ["task", "family", "model", "run_id", "metric", "higher_is_better", "mean", "ci_low", "ci_high",
                  "n", "n_scored", "n_planned", "dropped", "coverage", "coverage_short"]
SET_COLUMNS = ["task", "family", "model", "run_id", "metric", "higher_is_better", "value", "n", "stable", "note",
               "n_distinct", "floor", "floor_sd", "floor_n", "mc_se", "reference"]
_CORR = ["spearman", "spearman_ci_low", "spearman_ci_high", "spearman_p", "kendall", "kendall_ci_low",
         "kendall_ci_high", "kendall_p"]
CORR_COLUMNS = ["task", "family", "metric", "human", "n", "n_instances", *_CORR]
MODEL_CORR_COLUMNS = ["task", "family", "metric", "human", "n_models", "n_instances", *_CORR]


def comparable_values(runs: list[RunInfo], per_instance: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Per run, its per-instance values over the instances *every* run of its task has a value for (per metric):
    models are compared on the same instances, so none looks better for the instances it lost."""
    by_task: dict[str, list[str]] = {}
    for run in runs:
        by_task.setdefault(run.task, []).append(run.run_id)
    out = {}
    for ids in by_task.values():
        shared: dict[str, set] = {}
        for rid in ids:
            for metric, g in per_instance[rid].groupby("metric"):
                have = set(g["instance_id"])
                shared[metric] = shared[metric] & have if metric in shared else have
        for rid in ids:
            df = per_instance[rid]
            keep = [iid in shared.get(m, set()) for m, iid in zip(df["metric"], df["instance_id"])]
            out[rid] = df[keep].reset_index(drop=True) if len(df) else df
    return out


def coverage_texts(run: RunInfo, metric: str, n_used: int, n_scored: int) -> tuple[str, str, int]:
    """(long, short, planned instances) of a cell: the run's own coverage when incomplete, and the instances
    dropped to compare it with the other models of its task."""
    cov = coverage(run, metric)
    planned = cov.instances.planned if cov is not None else n_scored
    long, short = [], []
    if cov is not None and not cov.complete:
        long.append(cov.text())
        short.append(f"{cov.instances.scored}/{cov.instances.planned}" if cov.instances.scored < cov.instances.planned
                     else f"{cov.samples.scored}/{cov.samples.planned} samples")
    if n_used < n_scored:
        long.append(f"over the {n_used} instances every model of the task has ({n_scored - n_used} of its own dropped)")
        short.append(f"{n_scored - n_used} dropped")
    return "; ".join(long), ", ".join(short), planned


def metric_table(runs: list[RunInfo], per_instance: dict[str, pd.DataFrame],
                 comparable: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Per task × model × metric: mean over the task's comparable instances (``comparable_values``) with a 95%
    bootstrap CI (instances resampled), and its coverage."""
    comparable = comparable_values(runs, per_instance) if comparable is None else comparable
    rows = []
    for run in runs:
        own, df = per_instance[run.run_id], comparable[run.run_id]
        dirs = directions(run, own["metric"].unique())
        for metric, g in own.groupby("metric", sort=True):
            used = df[df["metric"] == metric]["value"].to_numpy()
            est = mean_ci(used)
            long, short, planned = coverage_texts(run, metric, len(used), len(g))
            rows.append({"task": run.task, "family": run.family, "model": run.label, "run_id": run.run_id,
                         "metric": metric, "higher_is_better": dirs[metric], **est.as_dict(), "n_scored": len(g),
                         "n_planned": planned, "dropped": len(g) - len(used), "coverage": long,
                         "coverage_short": short})
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
    """Per family block: rows (model, measure), columns tasks + Average, after Instruct-Imagen's Table 4.

    ``human`` has one row per (task, model) with a ``family`` column; ``measures`` maps the shown name
    (SC, PQ, O) to the column holding it. A cell a model was not rated on is NaN (shown as missing).
    A block's Average is over the block's *shared* tasks, those every model of the block was rated
    on, so every model is averaged over the same tasks (averaging each model over its own tasks can
    reverse a ranking); with no shared task it is NaN. ``shared_tasks(block)`` lists them.
    """
    blocks: dict[str, pd.DataFrame] = {}
    for family in FAMILIES:
        part = human[human["family"] == family]
        if part.empty:
            continue
        tasks = sorted(part["task"].unique())
        models = sorted(part["model"].unique())
        shared = [t for t in tasks if set(part[part["task"] == t]["model"]) >= set(models)]
        rows = []
        for model in models:
            mine = part[part["model"] == model].set_index("task")
            for shown, column in measures.items():
                values = {t: float(mine.at[t, column]) if t in mine.index else math.nan for t in tasks}
                rows.append({"model": model, "measure": shown, **values,
                             "Average": sum(values[t] for t in shared) / len(shared) if shared else math.nan})
        block = pd.DataFrame(rows, columns=["model", "measure", *tasks, "Average"])
        block.attrs["shared_tasks"] = shared
        blocks[family] = block
    return blocks


def shared_tasks(block: pd.DataFrame) -> list[str]:
    """The tasks a Table 4 block's Average is over (rated for every model of the block)."""
    return list(block.attrs.get("shared_tasks", []))


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


IMAGE_KEY = ["task", "model", "instance_id", "sample"]  # one image: ratings and scores meet on all four


def human_items(ratings: pd.DataFrame, measures: Iterable[str] = MEASURES) -> pd.DataFrame:
    """Per rated image (task, model, instance, sample): each measure's mean over its raters."""
    cols = [m for m in measures if m in ratings.columns]
    return ratings.astype({"sample": int}).groupby(IMAGE_KEY, as_index=False)[cols].mean()


def joined_items(items: pd.DataFrame, human: pd.DataFrame) -> pd.DataFrame:
    """Metric values beside the human ratings of the same image (images rated and scored only), matched on
    the image model too, so no model's scores meet another model's ratings."""
    return items.astype({"sample": int}).merge(human.astype({"sample": int}), on=IMAGE_KEY, how="inner")


def correlation_table(joined: pd.DataFrame, measures: Iterable[str] = MEASURES, seed: int = 0) -> pd.DataFrame:
    """Per task × metric × human measure: Spearman and Kendall over rated images (all models pooled).

    The 95% intervals resample *instances* (cluster bootstrap): the images of one instance (its
    samples, every model's) share its prompt and references, so they are not independent draws.
    """
    rows = []
    for (task, metric), g in joined.groupby(["task", "metric"], sort=True):
        for measure in measures:
            if measure not in g.columns:
                continue
            sp = corr_ci(g["value"], g[measure], "spearman", seed=seed, clusters=g["instance_id"])
            kd = corr_ci(g["value"], g[measure], "kendall", seed=seed, clusters=g["instance_id"])
            rows.append({"task": task, "family": g["family"].iloc[0], "metric": metric, "human": measure,
                         "n": sp.n, "n_instances": sp.n_clusters, **_corr_fields(sp, kd)})
    return _sorted(pd.DataFrame(rows, columns=CORR_COLUMNS), ["family", "task", "human", "metric"])


def model_correlation_table(joined: pd.DataFrame, measures: Iterable[str] = MEASURES, seed: int = 0) -> pd.DataFrame:
    """Per task × metric × human measure: do the metric's and the people's rankings of models agree?

    Each model's value on each side is its mean over instances (each instance: the mean over its rated
    images) of the metric and of the raters' mean rating, on the same images; Spearman and Kendall
    across models (3 or more), with 95% intervals resampling instances.
    """
    rows = []
    for (task, metric), g in joined.groupby(["task", "metric"], sort=True):
        by = g.groupby(["model", "instance_id"])
        for measure in measures:
            if measure not in g.columns:
                continue
            means = by[["value", measure]].mean()
            a, b = (means[c].unstack("instance_id").to_numpy(dtype=float) for c in ("value", measure))
            sp = group_mean_corr_ci(a, b, "spearman", seed=seed)
            kd = group_mean_corr_ci(a, b, "kendall", seed=seed)
            rows.append({"task": task, "family": g["family"].iloc[0], "metric": metric, "human": measure,
                         "n_models": sp.n, "n_instances": sp.n_clusters, **_corr_fields(sp, kd)})
    return _sorted(pd.DataFrame(rows, columns=MODEL_CORR_COLUMNS), ["family", "task", "human", "metric"])


def _corr_fields(sp, kd) -> dict:
    return {"spearman": sp.value, "spearman_ci_low": sp.ci_low, "spearman_ci_high": sp.ci_high,
            "spearman_p": sp.p_value, "kendall": kd.value, "kendall_ci_low": kd.ci_low,
            "kendall_ci_high": kd.ci_high, "kendall_p": kd.p_value}
