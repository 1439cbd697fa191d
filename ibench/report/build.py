"""``ibench report``: build a report from scored runs (and optionally a rating study).

``reports/NAME/``: ``report.md``, ``index.html`` (self-contained), ``results.json`` (schema
``ibench.report/1``, docs/report-schema.json) and ``tables/*.csv`` + ``tables/*.parquet``
(written by ``ibench.report.write``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Sequence

from ibench.core.rundir import RunStore

from .grid import task_grids
from .model import Report
from .runs import RunInfo, discover_runs, instance_values, scores
from .tables import (correlation_table, human_items, item_table, joined_items, metric_table, model_correlation_table,
                     set_metric_table)


def _run_record(run: RunInfo) -> dict:
    gens = RunStore(run.path).generations()
    return {**run.identity_record(), "n_instances": len(RunStore(run.path).instances()),
            "n_images": sum(g.ok for g in gens), "n_failed": sum(not g.ok for g in gens)}


def build_report(paths: Sequence[str | Path], study_db: Optional[str | Path] = None, study: Optional[str] = None,
                 title: Optional[str] = None, grid_instances: int = 4, data_dir: Optional[Path] = None,
                 seed: int = 0, table4_o: str = "per-image") -> Report:
    """Read runs (and a study), compute every table; nothing is written."""
    from ibench.report.human import table4_measures

    table4_measures(table4_o)  # a bad choice is one line before any work
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
        from ibench.report.human import load_human

        human = load_human(study_db, runs, study, table4_o)
        report.study, report.human, report.table4 = human.study, human.summary, human.table4
        report.table4_o = human.table4_o
        report.agreement = human.agreement
        report.joined = joined_items(items, human_items(human.ratings))
        report.correlations = correlation_table(report.joined, seed=seed)
        report.model_correlations = model_correlation_table(report.joined, seed=seed)
    return report
