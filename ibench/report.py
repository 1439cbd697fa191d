"""``ibench report``: build a report from scored runs (and optionally a rating study), then write it.

``reports/NAME/``: ``report.md``, ``index.html`` (self-contained), ``results.json`` (schema
``ibench.report/1``, docs/report-schema.json) and ``tables/*.csv`` + ``tables/*.parquet``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd

from . import __version__
from .report_grid import TaskGrid, task_grids
from .report_runs import RunInfo, discover_runs, instance_values, scores
from .report_tables import (correlation_table, human_items, item_table, joined_items, metric_table,
                            set_metric_table, table4_long)
from .runstore import RunStore
from .stats import CONFIDENCE, RESAMPLES

REPORT_SCHEMA = "ibench.report/1"


@dataclass
class Report:
    """Everything a report shows, as tables; rendering and writing read only this."""

    title: str
    created: str
    runs: list[dict]
    metrics: pd.DataFrame
    set_metrics: pd.DataFrame
    items: pd.DataFrame
    grids: list[TaskGrid] = field(default_factory=list)
    study: Optional[str] = None
    human: Optional[pd.DataFrame] = None
    table4: dict[str, pd.DataFrame] = field(default_factory=dict)
    agreement: Optional[pd.DataFrame] = None
    joined: Optional[pd.DataFrame] = None
    correlations: pd.DataFrame = field(default_factory=pd.DataFrame)
    version: str = __version__
    resamples: int = RESAMPLES
    confidence: float = CONFIDENCE


def _run_record(run: RunInfo) -> dict:
    gens = RunStore(run.path).generations()
    return {**run.identity_record(), "n_instances": len(RunStore(run.path).instances()),
            "n_images": sum(g.ok for g in gens), "n_failed": sum(not g.ok for g in gens)}


def build_report(paths: Sequence[str | Path], study_db: Optional[str | Path] = None, study: Optional[str] = None,
                 title: Optional[str] = None, grid_instances: int = 4, data_dir: Optional[Path] = None,
                 seed: int = 0) -> Report:
    """Read runs (and a study), compute every table; nothing is written."""
    runs = discover_runs(paths)
    raw = {r.run_id: scores(r) for r in runs}
    per_instance = {rid: instance_values(df) for rid, df in raw.items()}
    items = item_table(runs, raw)
    report = Report(title=title or ", ".join(sorted({r.task for r in runs})),
                    created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    runs=[_run_record(r) for r in runs], metrics=metric_table(runs, per_instance),
                    set_metrics=set_metric_table(runs), items=items,
                    grids=task_grids(runs, grid_instances, data_dir) if grid_instances > 0 else [])
    if study_db is not None:
        from .report_human import load_human

        human = load_human(study_db, runs, study)
        report.study, report.human, report.table4 = human.study, human.summary, human.table4
        report.agreement = human.agreement
        report.joined = joined_items(items, human_items(human.ratings))
        report.correlations = correlation_table(report.joined, seed=seed)
    return report


# -- results.json -------------------------------------------------------------------------------------
def _clean(value):
    """JSON-safe: NaN and ±inf -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _rows(df: Optional[pd.DataFrame]) -> list[dict]:
    return [] if df is None or df.empty else _clean(df.to_dict("records"))


def results_document(report: Report) -> dict:
    """The report as JSON (schema ``ibench.report/1``)."""
    human = None
    if report.human is not None:
        human = {"study": report.study, "table4_measures": {"SC": "SC_mean", "PQ": "PQ_mean", "O": "O_of_means"},
                 "summary": _rows(report.human), "table4": _rows(table4_long(report.table4)),
                 "agreement": _rows(report.agreement)}
    return _clean({"schema": REPORT_SCHEMA, "title": report.title, "created": report.created,
                   "ibench_version": report.version,
                   "method": {"confidence": report.confidence, "resamples": report.resamples, "unit": "instance",
                              "interval": "percentile bootstrap"},
                   "runs": report.runs, "metrics": _rows(report.metrics), "set_metrics": _rows(report.set_metrics),
                   "human": human, "correlations": _rows(report.correlations)})


# -- writing --------------------------------------------------------------------------------------------
def tables(report: Report) -> dict[str, pd.DataFrame]:
    """The tables written as CSV and parquet (empty ones are skipped)."""
    out = {"runs": pd.DataFrame(report.runs), "metrics": report.metrics, "set_metrics": report.set_metrics,
           "items": report.items}
    if report.human is not None:
        out.update({"human": report.human, "table4": table4_long(report.table4), "agreement": report.agreement,
                    "correlations": report.correlations})
    return {k: v for k, v in out.items() if v is not None and not v.empty}


def write_report(report: Report, out: Path) -> dict[str, Path]:
    """Write every file of the report under ``out``; returns name -> path."""
    from .report_render import render_html, render_markdown

    out = Path(out)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    written = {}
    for name, df in tables(report).items():
        flat = df.copy()
        for col in flat.columns:
            if flat[col].map(lambda v: isinstance(v, (dict, list))).any():
                flat[col] = flat[col].map(lambda v: json.dumps(v, sort_keys=True))
        flat.to_csv(out / "tables" / f"{name}.csv", index=False)
        flat.to_parquet(out / "tables" / f"{name}.parquet", index=False)
        written[f"{name}.csv"] = out / "tables" / f"{name}.csv"
    files = {"results.json": json.dumps(results_document(report), indent=2, sort_keys=True, allow_nan=False) + "\n",
             "report.md": render_markdown(report), "index.html": render_html(report)}
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
        written[name] = out / name
    return written
