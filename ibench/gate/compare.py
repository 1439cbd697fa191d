"""``ibench compare A B``: per task and metric, B − A with a paired bootstrap CI over matched instances.

A and B are each a run or a folder of runs (one run per task); runs are matched by task. Both means are
taken over the instances both sides have a value for, and each row says how many instances were dropped
from each side to get there (and each side's own coverage when it is below 100 %): a side that lost its
hardest instances never looks better for it. Where fewer than two instance ids match (different seeds
or data), the difference is unpaired, over each side's own instances.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import pandas as pd

from ibench.errors import IbenchError
from ibench.report.format import fmt, fmt_delta, md_table
from ibench.report.runs import RunInfo, coverage, directions, discover_runs, instance_values, label_runs, scores
from ibench.stats import paired_delta_ci, unpaired_delta_ci

from .rule import MIN_PAIRS

COLUMNS = ["task", "family", "metric", "higher_is_better", "run_a", "run_b", "model_a", "model_b", "mean_a",
           "mean_b", "delta", "ci_low", "ci_high", "n", "pairing", "dropped_a", "dropped_b", "coverage_a",
           "coverage_b", "verdict"]


def _by_task(runs: list[RunInfo], side: str) -> dict[str, RunInfo]:
    out: dict[str, RunInfo] = {}
    for r in runs:
        if r.task in out:
            raise IbenchError(f"{side} holds two runs of task {r.task!r} ({out[r.task].path}, {r.path}); "
                              f"name the runs to compare directly")
        out[r.task] = r
    return out


def delta_row(values_a: pd.Series, values_b: pd.Series, seed: int = 0) -> dict:
    """B − A for one metric over the instances both have; inputs are indexed by instance id. ``dropped_a`` /
    ``dropped_b``: instances with a value on that side only, left out of the paired comparison."""
    matched = values_a.index.intersection(values_b.index)
    if len(matched) >= MIN_PAIRS:
        a, b = values_a[matched], values_b[matched]
        est, pairing = paired_delta_ci(a.to_numpy(), b.to_numpy(), seed=seed), "paired"
    else:
        a, b = values_a, values_b
        est, pairing = unpaired_delta_ci(a.to_numpy(), b.to_numpy(), seed=seed), "unpaired"
    paired = pairing == "paired"
    return {"mean_a": float(a.mean()), "mean_b": float(b.mean()), "delta": est.mean, "ci_low": est.ci_low,
            "ci_high": est.ci_high, "n": est.n, "pairing": pairing,
            "dropped_a": len(values_a) - len(matched) if paired else 0,
            "dropped_b": len(values_b) - len(matched) if paired else 0}


def verdict(delta: float, low: float, high: float, higher_is_better: bool) -> str:
    """``B better`` / ``B worse`` when the CI excludes 0, else ``no clear difference``."""
    if any(math.isnan(v) for v in (delta, low, high)) or low <= 0 <= high:
        return "no clear difference"
    better = (low > 0) == higher_is_better
    return "B better" if better else "B worse"


def compare_runs(a: Sequence[str | Path], b: Sequence[str | Path], seed: int = 0) -> pd.DataFrame:
    """The comparison table (one row per shared task × metric)."""
    side_a, side_b = discover_runs(a), discover_runs(b)
    label_runs([*side_a, *side_b])  # both sides under one labelling: the same model twice is told apart
    runs_a, runs_b = _by_task(side_a, "A"), _by_task(side_b, "B")
    shared = sorted(set(runs_a) & set(runs_b))
    if not shared:
        raise IbenchError(f"A and B share no task (A: {', '.join(sorted(runs_a))}; B: {', '.join(sorted(runs_b))})")
    rows = []
    for task in shared:
        ra, rb = runs_a[task], runs_b[task]
        va, vb = instance_values(scores(ra)), instance_values(scores(rb))
        metrics = sorted(set(va["metric"]) & set(vb["metric"]))
        dirs = directions(ra, metrics)
        for m in metrics:
            row = delta_row(va[va["metric"] == m].set_index("instance_id")["value"],
                            vb[vb["metric"] == m].set_index("instance_id")["value"], seed=seed)
            rows.append({"task": task, "family": ra.family, "metric": m, "higher_is_better": dirs[m],
                         "run_a": ra.run_id, "run_b": rb.run_id, "model_a": ra.label, "model_b": rb.label, **row,
                         "coverage_a": coverage_note(ra, m), "coverage_b": coverage_note(rb, m),
                         "verdict": verdict(row["delta"], row["ci_low"], row["ci_high"], dirs[m])})
    return pd.DataFrame(rows, columns=COLUMNS)


def coverage_note(run: RunInfo, metric: str) -> str:
    """The run's coverage of ``metric`` as a phrase (``""`` when complete or not recorded)."""
    cov = coverage(run, metric)
    return cov.text() if cov is not None else ""


def over_text(row) -> str:  # noqa: ANN001 - a comparison row (dict or namedtuple)
    """How the row was compared: ``paired (n=40; dropped A 0, B 20)``, plus each side's coverage below 100 %."""
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    text = f"{get('pairing')} (n={get('n')}"
    if get("dropped_a") or get("dropped_b"):
        text += f"; dropped A {get('dropped_a')}, B {get('dropped_b')}"
    text += ")"
    notes = [f"{side} {get('coverage_' + side.lower())}" for side in ("A", "B") if get("coverage_" + side.lower())]
    return text + ("; " + "; ".join(notes) if notes else "")


def compare_markdown(df: pd.DataFrame) -> str:
    """The comparison as markdown, one section per task."""
    if df.empty:  # e.g. every generation of one side failed: say so rather than print nothing
        return "No metric has scores in both A and B (did every generation of one side fail?)."
    out = []
    for task, g in df.groupby("task", sort=True):
        first = g.iloc[0]
        out += [f"### {task}: B `{first['model_b']}` − A `{first['model_a']}`", "",
                md_table(["metric", "better", "A", "B", "Δ B − A [95% CI]", "compared over", "verdict"],
                         [[r.metric, "↑" if r.higher_is_better else "↓", fmt(r.mean_a, 4), fmt(r.mean_b, 4),
                           fmt_delta(r.delta, r.ci_low, r.ci_high, 4), over_text(r), r.verdict]
                          for r in g.itertuples()], ["l", "c", "r", "r", "r", "l", "l"]), ""]
    return "\n".join(out)
