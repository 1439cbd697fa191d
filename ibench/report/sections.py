"""The report's sections, in page order: each renders itself as HTML and as markdown.

A section is one ``Section`` in ``SECTIONS``; a new one (a scaling curve, judge agreement, ...) is
one more entry (``add_section``), with no change to the page or to the other sections. A section
that has nothing to show returns ``""`` / ``[]`` and is left out of the page, its navigation and
``report.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Optional

import pandas as pd

from .captions import (CORRELATION_NOTE, COVERAGE_NOTE, SET_METRICS_NOTE, average_note, floor_text,
                       model_correlation_html, model_correlation_md, table4_caption)
from .format import fmt, fmt_ci, md_table, records
from .headline import column_title, headline_blocks
from .model import Report
from .tables import FAMILIES, FAMILY_TITLES

Html = Callable[[Report, Any], str]  # (report, page) -> HTML fragment ("" = absent)
Markdown = Callable[[Report], list[str]]  # report -> lines ([] = absent)


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    html: Html
    markdown: Markdown
    keep: int = 2  # when report.md must shrink to fit a PR comment, larger values are left out first


# -- shared table shapes ---------------------------------------------------------------------------------
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
                short = rec.get("coverage_short") if isinstance(rec.get("coverage_short"), str) else ""
                cells[rec["metric"]] = {**rec, "coverage_short": short,
                                        "text": fmt_ci(rec["mean"], rec["ci_low"], rec["ci_high"])
                                        + (f" ({short})" if short else ""),
                                        "best": len(peers) > 1 and rec["mean"] == best}
            rows.append({"task": task, "model": model, "run_id": g["run_id"].iloc[0], "cells": cells})
        blocks.append({"family": family, "title": FAMILY_TITLES[family], "metrics": names, "dirs": dirs,
                       "rows": rows, "coverage": coverage_notes(part)})
    return blocks


def coverage_notes(metrics: pd.DataFrame) -> list[str]:
    """One line per cell whose mean is not over every planned instance and sample: what it is over, and why."""
    if "coverage" not in metrics:
        return []
    return [f"{r['task']} · {r['model']} · {r['metric']}: {r['coverage']}" for r in records(metrics)
            if isinstance(r.get("coverage"), str) and r["coverage"]]


def set_rows(report: Report) -> tuple[list[dict], list[tuple[str, str]]]:
    """Set-level rows, each unstable value marked; the notes once each (not on every row)."""
    rows, notes = [], {}
    for r in records(report.set_metrics):
        mark = None
        if r.get("note"):
            mark = notes.setdefault(r["note"], str(len(notes) + 1))
        rows.append({**r, "mark": mark, "floor_text": floor_text(r)})
    return rows, [(m, text) for text, m in notes.items()]


def table4_blocks(report: Report) -> list[dict]:
    out = []
    for family, block in report.table4.items():
        tasks = [c for c in block.columns if c not in ("model", "measure")]
        out.append({"family": family, "title": FAMILY_TITLES[family], "tasks": tasks, "note": average_note(block),
                    "rows": [{"model": r["model"], "measure": r["measure"],
                              "cells": [{"task": t, "value": r[t], "text": fmt(r[t], 3)} for t in tasks]}
                             for r in block.to_dict("records")]})
    return out


def study_text(study: Optional[str]) -> str:
    return "Ratings of every study in the database" if study in (None, "all") else f"Ratings of study `{study}`"


def settings_text(model: str, settings: dict, limit: Optional[int] = None) -> str:
    """A run's output-affecting settings as compact JSON (cut at ``limit`` characters)."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":")) if settings else "{}"
    return text if limit is None or len(text) <= limit else text[:limit - 1] + "…"


@dataclass(frozen=True)
class Column:
    """A column of a generic table: title, cell text, data attributes, left-aligned or not."""

    title: str
    text: Callable[[dict], str]
    data: Callable[[dict], dict] = lambda row: {}
    left: bool = False


def _md_generic(columns: list[Column], rows: list[dict]) -> str:
    return md_table([c.title for c in columns], [[c.text(r) for c in columns] for r in rows],
                    ["l" if c.left else "r" for c in columns])


def _key(name: str, left: bool = True) -> Column:
    return Column(name, lambda r, n=name: fmt(r.get(n)), left=left)


# -- headline --------------------------------------------------------------------------------------------
def headline_html(report: Report, page) -> str:  # noqa: ANN001
    return page.macro("headline", headline_blocks(report.headline)) if not report.headline.empty else ""


def headline_md(report: Report) -> list[str]:
    if report.headline.empty:
        return []
    lines = ["Mean per task, then the mean of the task means per family and overall, and the rank by the overall "
             "mean; **bold** only where the best model's 95% CI is clear of every other model's.", ""]
    for b in headline_blocks(report.headline):
        heads = ["rank", "model", *[column_title(c) for c in b["columns"]]]
        rows = [[r["rank"] if r["rank"] is not None else "—", r["model"] + (f" ({r['n_tasks']} tasks)"
                                                                            if b["uneven"] else ""),
                 *[_headline_cell(c) for c in r["cells"]]] for r in b["rows"]]
        lines += [f"### {b['metric']} {'↑' if b['higher'] else '↓'}", "", md_table(heads, rows), ""]
    return lines


def _headline_cell(c: Optional[dict]) -> str:
    if c is None:
        return "—"
    text = f"**{fmt(c['mean'])}**" if c["best"] else fmt(c["mean"])
    return text + (f" ({c['coverage']})" if isinstance(c.get("coverage"), str) and c["coverage"] else "")


# -- automatic metrics -------------------------------------------------------------------------------------
def metrics_html(report: Report, page) -> str:  # noqa: ANN001
    from .plots import metric_dots

    if report.metrics.empty and report.set_metrics.empty:
        return ""
    sets, notes = set_rows(report)
    dots = metric_dots(report.metrics) if not report.metrics.empty else []
    return page.macro("metrics", metric_blocks(report.metrics), sets, notes, dots, report.resamples, SET_METRICS_NOTE)


def _md_cell(cell: Optional[dict]) -> str:
    if cell is None:
        return "—"
    return f"**{cell['text']}**" if cell["best"] else cell["text"]


def metrics_md(report: Report) -> list[str]:
    if report.metrics.empty and report.set_metrics.empty:
        return []
    lines = [f"Means with 95% bootstrap CIs over instances ({report.resamples} resamples); the best mean per task "
             "in bold.", ""]
    for b in metric_blocks(report.metrics):
        lines += [f"### {b['title']}", "",
                  md_table(["task", "model", *[f"{m} {'↑' if b['dirs'][m] else '↓'}" for m in b["metrics"]]],
                           [[r["task"], r["model"], *[_md_cell(r["cells"].get(m)) for m in b["metrics"]]]
                            for r in b["rows"]]), ""]
        if b["coverage"]:
            lines += [COVERAGE_NOTE, "", *[f"- {line}" for line in b["coverage"]], ""]
    sets, notes = set_rows(report)
    if sets:
        lines += ["### Set-level metrics", "", SET_METRICS_NOTE, "",
                  md_table(["task", "model", "metric", "value", "noise floor", "images", "distinct"],
                           [[r["task"], r["model"], f"{r['metric']} {'↑' if r['higher_is_better'] else '↓'}",
                             fmt(r["value"], 4) + (f" ({r['mark']})" if r["mark"] else ""), r["floor_text"], r["n"],
                             fmt(r.get("n_distinct"))] for r in sets]),
                  "", *[f"({m}) {text}" for m, text in notes], ""]
    return lines


# -- human evaluation ----------------------------------------------------------------------------------------
def _pm(row: dict, measure: str) -> str:
    mean, std = row.get(f"{measure}_mean"), row.get(f"{measure}_std")
    return f"{fmt(mean)} ± {fmt(std)}" if std is not None else fmt(mean)


def human_html(report: Report, page) -> str:  # noqa: ANN001
    if report.human is None:
        return ""
    return page.macro("human", report, table4_blocks(report), records(report.human),
                      table4_caption(report, study_text(report.study)))


def human_md(report: Report) -> list[str]:
    if report.human is None:
        return []
    lines = [table4_caption(report, study_text(report.study)), ""]
    for b in table4_blocks(report):
        lines += [f"### {b['title']}", "", b["note"], "",
                  md_table(["model", "", *b["tasks"]],
                           [[r["model"], r["measure"], *[c["text"] for c in r["cells"]]] for r in b["rows"]]), ""]
    lines += ["### Per task and model (mean ± std over raters)", "",
              md_table(["task", "model", "items", "raters", "SC", "PQ", "O (per image)", "O (of means)"],
                       [[r["task"], r["model"], r["n_items"], r["n_raters"], _pm(r, "SC"), _pm(r, "PQ"),
                         _pm(r, "O"), fmt(r["O_of_means"])] for r in records(report.human)]), ""]
    return lines


AGREEMENT_NOTE = ("Fleiss' κ (items with the full number of ratings) and Krippendorff's α (ordinal), per task and "
                  "model, on O (unsuffixed) and on each rating. Empty where undefined (too few items or raters, or "
                  "a single value).")


def _agreement_columns(report: Report) -> list[Column]:
    return [_key(c, c in ("task", "family", "model")) for c in report.agreement.columns]


def agreement_html(report: Report, page) -> str:  # noqa: ANN001
    if report.agreement is None or report.agreement.empty:
        return ""
    return page.macro("generic", _agreement_columns(report), records(report.agreement), "agreement-table",
                      AGREEMENT_NOTE)


def agreement_md(report: Report) -> list[str]:
    if report.agreement is None or report.agreement.empty:
        return []
    return [_md_generic(_agreement_columns(report), records(report.agreement)), ""]


def _corr_columns() -> list[Column]:
    def ci(name: str) -> Callable[[dict], str]:
        return lambda r: fmt_ci(r.get(name), r.get(f"{name}_ci_low"), r.get(f"{name}_ci_high"), 2)

    return [_key("task"), _key("metric"), _key("human"), _key("n", False), _key("n_instances", False),
            Column("Spearman ρ [95% CI]", ci("spearman"), lambda r: {"task": r["task"], "metric": r["metric"],
                                                                      "human": r["human"], "spearman": r["spearman"]}),
            Column("Kendall τ [95% CI]", ci("kendall"), lambda r: {"kendall": r["kendall"]})]


def correlation_html(report: Report, page) -> str:  # noqa: ANN001
    from .plots import human_scatter

    if report.correlations.empty:
        return ""
    html = page.macro("generic", _corr_columns(), records(report.correlations), "correlation-table", CORRELATION_NOTE)
    scatters = human_scatter(report.joined) if report.joined is not None else []
    figs = "".join(f'<figure class="plot" data-plot="scatter" data-task="{page.escape(t)}">'
                   f'<figcaption>{page.escape(t)}</figcaption>{svg}</figure>' for t, svg in scatters)
    return html + (f'<div class="plots">{figs}</div>' if figs else "")


def correlation_md(report: Report) -> list[str]:
    if report.correlations.empty:
        return []
    return [CORRELATION_NOTE, "", _md_generic(_corr_columns(), records(report.correlations)), ""]


# -- images and provenance ---------------------------------------------------------------------------------
def images_html(report: Report, page) -> str:  # noqa: ANN001
    if not report.grids:
        return ""
    link = ('<p class="note">Every instance and sample, with all its scores and ratings: '
            '<a href="samples.html">the sample viewer</a>.</p>') if report.samples else ""
    return link + page.macro("images", report.grids)


def provenance_html(report: Report, page) -> str:  # noqa: ANN001
    return page.macro("provenance", report, report.extractors)


def provenance_md(report: Report) -> list[str]:
    runs = md_table(["run", "task", "model", "settings", "seed", "samples", "instances", "images", "failed"],
                    [[f"`{r['run_id']}`", r["task"], r["label"], f"`{settings_text(r['model'], r['model_settings'], 60)}`",
                      r["seed"], r.get("samples", "—"), r["n_instances"], r["n_images"], r["n_failed"]]
                     for r in report.runs], ["l", "l", "l", "l", "r", "r", "r", "r", "r"])
    ext = md_table(["kind", "name", "identity (weights)", "runs"],
                   [[e["kind"], e["name"], f"`{e['id']}`" + (" **tiny random**" if e["tiny"] else ""),
                     f"{len(e['runs'])} of {len(report.runs)}"] for e in report.extractors])
    return [f"Made by ibench {report.version}; each run's full settings are in index.html and tables/runs.csv.", "",
            runs, "", "### Extractors and judges", "", ext, ""]


# -- sections that render themselves whole (judge, scaling, recipes) -------------------------------------------
def _inside(html: str) -> str:
    """A fragment's own ``<section id=..><h2>..</h2> .. </section>`` reduced to what is inside (the page adds them)."""
    html = html.strip()
    return html.split("</h2>", 1)[1].rsplit("</section>", 1)[0] if html else ""


def whole(html: Callable[[Report], str], markdown: Callable[[Report], list[str]]) -> tuple[Html, Markdown]:
    """(page renderer, markdown renderer) of a module that renders a complete section with its own heading."""
    return (lambda report, page: _inside(html(report))), (lambda report: markdown(report)[2:])


def _judge() -> tuple[Html, Markdown]:
    from .judge import judge_html, judge_markdown

    return whole(lambda r: judge_html(r.judge), lambda r: judge_markdown(r.judge))


def _scaling() -> tuple[Html, Markdown]:
    from .scaling import scaling_html, scaling_markdown

    return whole(lambda r: scaling_html(r.scaling), lambda r: scaling_markdown(r.scaling))


def _recipes() -> tuple[Html, Markdown]:
    from .recipes import recipes_html, recipes_markdown

    return whole(lambda r: recipes_html(r.recipes), lambda r: recipes_markdown(r.recipes))


def _leaderboard() -> tuple[Html, Markdown]:
    from .leaderboard import leaderboard_html, leaderboard_markdown

    return whole(lambda r: leaderboard_html(r.leaderboard, r.leaderboard_note),
                 lambda r: leaderboard_markdown(r.leaderboard, r.leaderboard_note))


def _packs() -> tuple[Html, Markdown]:
    from .packs import packs_html, packs_markdown

    return whole(lambda r: packs_html(r.packs, r.packs_published), lambda r: packs_markdown(r.packs, r.packs_published))


SECTIONS: list[Section] = [
    Section("headline", "Headline", headline_html, headline_md, keep=1),
    Section("packs", "Benchmark packs", *_packs(), keep=2),
    Section("metrics", "Automatic metrics", metrics_html, metrics_md, keep=2),
    Section("human", "Human evaluation", human_html, human_md, keep=1),
    Section("agreement", "Agreement", agreement_html, agreement_md, keep=4),
    Section("correlation", "Metric–human correlation", correlation_html, correlation_md, keep=4),
    Section("model-correlation", "Model rankings", model_correlation_html, model_correlation_md, keep=4),
    Section("judge", "VLM judge", *_judge(), keep=3),
    Section("leaderboard", "Which judge to trust", *_leaderboard(), keep=3),
    Section("scaling", "Reference scaling", *_scaling(), keep=3),
    Section("images", "Images", images_html, lambda r: [], keep=5),
    Section("recipes", "Metric recipes", *_recipes(), keep=4),
    Section("provenance", "Provenance", provenance_html, provenance_md, keep=3),
]


def add_section(section: Section, before: Optional[str] = None) -> None:
    """Add a section (replacing one with the same id), before the section ``before`` or at the end."""
    SECTIONS[:] = [s for s in SECTIONS if s.id != section.id]
    at = next((k for k, s in enumerate(SECTIONS) if s.id == before), len(SECTIONS))
    SECTIONS.insert(at, section)
