"""Reference scaling: score against the number of subject references, per model and metric.

The tasks of one scaling group (``scaling: {group: ...}`` in their YAML, e.g. ``subject_scaling_1`` .. ``_4``)
share their instances except for the number N of subject references, so a metric's mean per task is a
point (N, mean [CI]) of that model's curve. N and the group are the run's own (``Manifest.scaling``,
recorded when it was generated), never the task files of the machine that renders the report.
"""

from __future__ import annotations

import json
from html import escape

import pandas as pd

from ibench.core.rundir import RunStore

from .format import fmt_ci, md_table
from .runs import RunInfo

COLUMNS = ["group", "model", "metric", "higher_is_better", "n_references", "task", "mean", "ci_low", "ci_high", "n",
           "coverage_short"]


def _group(run: RunInfo) -> tuple[str, int] | None:
    """(scaling group, number of subject references) of a run, as its manifest recorded it when it was made;
    a run made before that was recorded: from its own instances (one subject count for all, family scaling)."""
    point = run.manifest.scaling
    if point is not None:
        return point.group, point.n_references
    if run.family != "scaling":
        return None
    counts = {len(i.instruction.of_kind("subject")) for i in RunStore(run.path).instances()}
    return (run.task.rstrip("0123456789").rstrip("_"), counts.pop()) if len(counts) == 1 else None


def scaling_table(runs: list[RunInfo], metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per (group, model, metric, N): the metric's mean and CI over the task's instances."""
    rows = []
    for run in runs:
        where = _group(run)
        if where is None:
            continue
        for rec in metrics[metrics["run_id"] == run.run_id].to_dict("records"):
            rows.append({"group": where[0], "model": rec["model"], "metric": rec["metric"],
                         "higher_is_better": rec["higher_is_better"], "n_references": where[1], "task": run.task,
                         **{k: rec[k] for k in ("mean", "ci_low", "ci_high", "n")},
                         "coverage_short": rec.get("coverage_short") if isinstance(rec.get("coverage_short"), str) else ""})
    df = pd.DataFrame(rows, columns=COLUMNS)
    return df.sort_values(["group", "metric", "model", "n_references"]).reset_index(drop=True) if len(df) else df


def _wide(g: pd.DataFrame) -> tuple[list[int], list[list[str]]]:
    ns = sorted(g["n_references"].unique())
    rows = []
    for (metric, model), part in g.groupby(["metric", "model"], sort=True):
        cells = {r["n_references"]: fmt_ci(r["mean"], r["ci_low"], r["ci_high"])
                 + (f" ({r['coverage_short']})" if r["coverage_short"] else "") for r in part.to_dict("records")}
        arrow = "↑" if bool(part["higher_is_better"].iloc[0]) else "↓"
        rows.append([f"{metric} {arrow}", model, *[cells.get(n, "—") for n in ns]])
    return ns, rows


def scaling_markdown(table: pd.DataFrame) -> list[str]:
    if table.empty:
        return []
    lines = ["## Reference scaling", "", "Per model and metric, the mean [95% CI] against the number of subject "
             "references N (the group's tasks differ only in N).", ""]
    for group, g in table.groupby("group", sort=True):
        ns, rows = _wide(g)
        lines += [f"### {group}", "", md_table(["metric", "model", *[f"N={n}" for n in ns]], rows), ""]
    return lines


def scaling_html(table: pd.DataFrame) -> str:
    """The section of the HTML page: a curve per metric (a line per model, 95% CI bars) and the table."""
    if table.empty:
        return ""
    from .plots import curve

    parts = ['<section id="scaling"><h2>Reference scaling</h2><p class="note">Score against the number of subject '
             'references N; the tasks of a group differ only in N. Mean over instances with the 95% CI; a point over fewer instances than planned says so beside it.</p>']
    for group, g in table.groupby("group", sort=True):
        parts.append(f"<h3>{escape(group)}</h3><div class=\"plots\">")
        for metric, gm in g.groupby("metric", sort=True):
            svg = curve(gm, metric, bool(gm["higher_is_better"].iloc[0]))
            points = json.dumps(gm[["model", "n_references", "mean"]].to_dict("records"))
            parts.append(f"<div class=\"plot\" data-plot=\"scaling\" data-group=\"{escape(group)}\" "
                         f"data-metric=\"{escape(metric)}\" data-points='{escape(points)}'>"
                         f"{svg}</div>")
        ns, rows = _wide(g)
        head = "".join(f"<th>N={n}</th>" for n in ns)
        body = "".join("<tr>" + "".join(f"<td class=\"{'l' if i < 2 else ''}\">{escape(str(c))}</td>"
                                        for i, c in enumerate(r)) + "</tr>" for r in rows)
        parts.append(f"</div><div class=\"scroll\"><table class=\"scaling\" data-group=\"{escape(group)}\"><tr>"
                     f"<th class=\"l\">metric</th><th class=\"l\">model</th>{head}</tr>{body}</table></div>")
    parts.append("</section>")
    return "".join(parts)
