"""Render a built report as markdown (``report.md``) and as one self-contained HTML page (``index.html``)."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pandas as pd

from .format import fmt, fmt_ci, md_table, records
from .model import Report
from .tables import FAMILIES, FAMILY_TITLES


def metric_blocks(metrics: pd.DataFrame) -> list[dict]:
    """Per family: rows (task, model), a column per metric, each cell mean [CI]; the best per task marked."""
    blocks = []
    for family in FAMILIES:
        part = metrics[metrics["family"] == family]
        if part.empty:
            continue
        names = sorted(part["metric"].unique())
        dirs = {m: bool(part[part["metric"] == m]["higher_is_better"].iloc[0]) for m in names}
        rows = []
        for (task, model), g in part.groupby(["task", "model"], sort=True):
            cells = {}
            for rec in g.to_dict("records"):
                peers = part[(part["task"] == task) & (part["metric"] == rec["metric"])]["mean"]
                best = peers.max() if dirs[rec["metric"]] else peers.min()
                cells[rec["metric"]] = {**rec, "text": fmt_ci(rec["mean"], rec["ci_low"], rec["ci_high"]),
                                        "best": len(peers) > 1 and rec["mean"] == best}
            rows.append({"task": task, "model": model, "run_id": g["run_id"].iloc[0], "cells": cells})
        blocks.append({"family": family, "title": FAMILY_TITLES[family], "metrics": names, "dirs": dirs,
                       "rows": rows})
    return blocks


def table4_blocks(report: Report) -> list[dict]:
    out = []
    for family, block in report.table4.items():
        tasks = [c for c in block.columns if c not in ("model", "measure")]
        out.append({"family": family, "title": FAMILY_TITLES[family], "tasks": tasks, "note": average_note(block),
                    "rows": [{"model": r["model"], "measure": r["measure"],
                              "cells": [{"task": t, "value": r[t], "text": fmt(r[t], 3)} for t in tasks]}
                             for r in block.to_dict("records")]})
    return out


# -- captions (shared by markdown and HTML) ------------------------------------------------------------
SET_METRICS_NOTE = ("Every generated image counts (duplicates included; `distinct` shows collapse). FID is biased at "
                    "small N: beside it is its noise floor, the FID between two disjoint halves of the reference set at "
                    "the same N (mean ± sd over splits), i.e. what two samples of one distribution score; a value is "
                    "`stable` only when it stands clear of its floor. KID is unbiased: at these sizes, read KID.")
CORRELATION_NOTE = ("Over rated images of each task (all models pooled): the image's metric value against the raters' "
                    "mean rating. 95% bootstrap CIs resample instances (all images of an instance together: they share "
                    "its prompt and references).")
MODEL_CORRELATION_NOTE = ("Do the metric's and the people's rankings of models agree? Per task, across models (3 or "
                          "more): each model's mean metric and mean rating over the same rated images; 95% bootstrap "
                          "CIs resample instances.")


def table4_caption(report: Report) -> str:
    from .human import TABLE4_O_TEXT

    other = next(o for o in TABLE4_O_TEXT if o != report.table4_o)
    return (f"{study_text(report.study)}. SC and PQ in {{0, 0.5, 1}} (SC: the minimum over the instruction's "
            f"conditions); this table's {TABLE4_O_TEXT[report.table4_o]}. Laid out after Instruct-Imagen's Table 4 "
            f"(SC, PQ, O per task, in-domain and zero-shot blocks); the paper follows ImagenHub's protocol but does "
            f"not say how its table aggregates O, so the table states its own (`--table4-o {other}` for "
            f"{TABLE4_O_TEXT[other].split(',')[0]}; both are in the detail table). — marks a task the model was not "
            f"rated on.")


def average_note(block: pd.DataFrame) -> str:
    from .tables import shared_tasks

    shared = shared_tasks(block)
    if not shared:
        return "Average: none, as no task of this block was rated for every model."
    return (f"Average over the {len(shared)} task(s) every model of this block was rated on "
            f"({', '.join(shared)}), so every model is averaged over the same tasks.")


# -- markdown ------------------------------------------------------------------------------------------
def render_markdown(report: Report) -> str:
    """``report.md``: the same tables as the HTML page, without plots and images."""
    lines = [f"# ibench report: {report.title}", "", f"Created {report.created} by ibench {report.version}. "
             f"Means with 95% bootstrap CIs over instances ({report.resamples} resamples).", "", "## Runs", "",
             md_table(["run", "task", "family", "model", "instances", "images", "failed"],
                      [[r["run_id"], r["task"], r["family"], r["label"], r["n_instances"], r["n_images"],
                        r["n_failed"]] for r in report.runs], ["l", "l", "l", "l", "r", "r", "r"]), ""]
    lines += ["## Automatic metrics", ""]
    for b in metric_blocks(report.metrics):
        lines += [f"### {b['title']}", "",
                  md_table(["task", "model", *[f"{m} {'↑' if b['dirs'][m] else '↓'}" for m in b["metrics"]]],
                           [[r["task"], r["model"], *[_md_cell(r["cells"].get(m)) for m in b["metrics"]]]
                            for r in b["rows"]]), ""]
    if not report.set_metrics.empty:
        lines += ["### Set-level metrics", "", SET_METRICS_NOTE, "",
                  md_table(["task", "model", "metric", "value", "noise floor", "n", "distinct", "stable", "note"],
                           [[r["task"], r["model"], f"{r['metric']} {'↑' if r['higher_is_better'] else '↓'}",
                             fmt(r["value"], 4), _floor_text(r), r["n"], fmt(r.get("n_distinct")), fmt(r["stable"]),
                             r["note"] or ""] for r in records(report.set_metrics)]), ""]
    if report.human is not None:
        lines += ["## Human evaluation", "", table4_caption(report), ""]
        for b in table4_blocks(report):
            lines += [f"### {b['title']}", "", b["note"], "",
                      md_table(["model", "", *b["tasks"]],
                               [[r["model"], r["measure"], *[c["text"] for c in r["cells"]]] for r in b["rows"]]), ""]
        lines += ["### Per task and model (mean ± std over raters)", "",
                  md_table(["task", "model", "items", "raters", "SC", "PQ", "O (per image)", "O (of means)"],
                           [[r["task"], r["model"], r["n_items"], r["n_raters"], _pm(r, "SC"), _pm(r, "PQ"),
                             _pm(r, "O"), fmt(r["O_of_means"])] for r in records(report.human)]), ""]
        lines += ["### Agreement", "", md_table(list(report.agreement.columns),
                                                [[fmt(v) for v in r.values()] for r in records(report.agreement)]), ""]
    if not report.correlations.empty:
        lines += ["## Metric–human correlation", "", CORRELATION_NOTE, "", _corr_table(report.correlations, "n", "n"),
                  ""]
    if not report.model_correlations.empty:
        lines += ["### Model rankings", "", MODEL_CORRELATION_NOTE, "",
                  _corr_table(report.model_correlations, "n_models", "models"), ""]
    return "\n".join(lines)


def _corr_table(table: pd.DataFrame, count: str, shown: str) -> str:
    return md_table(["task", "metric", "human", shown, "Spearman ρ [CI]", "Kendall τ [CI]"],
                    [[r["task"], r["metric"], r["human"], r[count],
                      fmt_ci(r["spearman"], r["spearman_ci_low"], r["spearman_ci_high"], 2),
                      fmt_ci(r["kendall"], r["kendall_ci_low"], r["kendall_ci_high"], 2)] for r in records(table)])


def _floor_text(row: dict) -> str:
    if row.get("floor") is None:
        return "—"
    sd = row.get("floor_sd")
    return f"{fmt(row['floor'], 4)}" + (f" ± {fmt(sd, 2)}" if sd is not None else "") + f" (N={row.get('floor_n')})"


def study_text(study: str | None) -> str:
    return "Ratings of every study in the database" if study in (None, "all") else f"Ratings of study `{study}`"


def _md_cell(cell: dict | None) -> str:
    if cell is None:
        return "—"
    return f"**{cell['text']}**" if cell["best"] else cell["text"]


def _pm(row: dict, measure: str) -> str:
    mean, std = row.get(f"{measure}_mean"), row.get(f"{measure}_std")
    return f"{fmt(mean)} ± {fmt(std)}" if std is not None else fmt(mean)


# -- HTML ----------------------------------------------------------------------------------------------
def _template(name: str) -> str:
    return resources.files("ibench").joinpath("resources", name).read_text(encoding="utf-8")


def render_html(report: Report) -> str:
    """``index.html``: CSS, plotly.js, plots and thumbnails all inline; no network needed to view it."""
    import jinja2

    from ibench.report.plots import human_scatter, metric_bars, plotly_js

    env = jinja2.Environment(autoescape=jinja2.select_autoescape(default=True), undefined=jinja2.StrictUndefined)
    env.filters["fmt"] = fmt
    env.globals["study_text"] = study_text
    env.filters["ci"] = lambda r, p="": fmt_ci(r[f"{p}"], r[f"{p}_ci_low"], r[f"{p}_ci_high"], 2)
    bars = metric_bars(report.metrics) if not report.metrics.empty else []
    scatters = human_scatter(report.joined) if report.joined is not None else []
    ctx: dict[str, Any] = {
        "r": report, "css": _template("report.css"), "plotly_js": plotly_js() if bars or scatters else "",
        "metric_blocks": metric_blocks(report.metrics), "set_metrics": records(report.set_metrics),
        "table4": table4_blocks(report) if report.human is not None else [],
        "human": records(report.human), "agreement": records(report.agreement),
        "agreement_cols": list(report.agreement.columns) if report.agreement is not None else [],
        "correlations": records(report.correlations), "bars": bars, "scatters": scatters, "grids": report.grids,
        "model_correlations": records(report.model_correlations), "floor_text": _floor_text,
        "notes": {"set_metrics": SET_METRICS_NOTE, "table4": table4_caption(report) if report.human is not None else "",
                  "correlation": CORRELATION_NOTE, "model_correlation": MODEL_CORRELATION_NOTE},
    }
    return env.from_string(_template("report.html.j2")).render(**ctx)
