"""``ibench report``: build a report from scored runs (and optionally a rating study).

``reports/NAME/``: ``report.md``, ``index.html`` (self-contained), ``results.json`` (schema
``ibench.report/1``, docs/report-schema.json) and ``tables/*.csv`` + ``tables/*.parquet``
(written by ``ibench.report.write``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Sequence

from ibench.errors import IbenchError, one_line

from .grid import task_grids
from .headline import headline_table
from .model import Report
from .provenance import extractor_table, run_record, tiny_runs
from .recipes import recipe_table
from .runs import RunInfo, discover_runs, instance_values, label_runs, scores
from .scaling import scaling_table
from .viewer import sample_records
from .tables import (comparable_values, correlation_table, human_items, item_table, joined_items, metric_table,
                     model_correlation_table, set_metric_table)


def scored_runs(paths: Sequence[str | Path]) -> tuple[list[RunInfo], dict, list[str]]:
    """(the scored runs, their score rows, a warning per run left out because it was never scored)."""
    from ibench.core.rundir import RunLayout

    runs, raw, warnings = [], {}, []
    for run in discover_runs(paths):
        try:
            raw[run.run_id] = scores(run)
        except IbenchError as exc:
            if not (run.path / RunLayout.PACK_RESULTS).is_file():
                warnings.append(f"left out {run.path}: {one_line(exc)}")
                continue
            raw[run.run_id] = scores(run, empty=True)  # a pack run judged the benchmark's way (pack.json) only
        runs.append(run)
    if not runs:
        raise IbenchError("no scored run to report" + (f" ({warnings[0]})" if len(warnings) == 1 else
                                                       f" ({len(warnings)} runs, none scored: run `ibench score`)"))
    return label_runs(runs), raw, warnings


def build_report(paths: Sequence[str | Path], study_db: Optional[str | Path] = None, study: Optional[str] = None,
                 title: Optional[str] = None, grid_instances: int = 4, data_dir: Optional[Path] = None,
                 seed: int = 0, pairwise: Sequence[str | Path] = (), viewer: bool = True,
                 table4_o: str = "per-image", meta: Optional[str | Path] = None) -> Report:
    """Read runs (and a study, and pairwise preference files), compute every table; nothing is written.
    Unscored runs are left out with a warning (``Report.warnings``)."""
    from ibench.report.human import table4_measures

    table4_measures(table4_o)  # a bad choice is one line before any work
    board = None
    if meta is not None:  # read first: a bad file is one line before any work
        from .leaderboard import leaderboard_table, load_meta

        table, note = load_meta(meta)
        board = leaderboard_table(table)
    runs, raw, warnings = scored_runs(paths)
    per_instance = {rid: instance_values(df) for rid, df in raw.items()}
    comparable = comparable_values(runs, per_instance)  # every model of a task over the same instances
    items = item_table(runs, raw)
    records = [run_record(r) for r in runs]
    metrics = metric_table(runs, per_instance, comparable)
    report = Report(title=title or ", ".join(sorted({r.task for r in runs})),
                    created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    runs=records, metrics=metrics, set_metrics=set_metric_table(runs), items=items,
                    grids=task_grids(runs, grid_instances, data_dir) if grid_instances > 0 else [],
                    headline=headline_table(metrics, comparable, seed=seed), extractors=extractor_table(records),
                    tiny_runs=tiny_runs(records), warnings=warnings)
    report.scaling, report.recipes = scaling_table(runs, report.metrics), recipe_table(runs)
    from .packs import pack_tables

    report.packs, report.packs_published = pack_tables(runs)
    if board is not None:
        report.leaderboard, report.leaderboard_note = board, note
    if study_db is not None:
        from ibench.report.human import load_human

        human = load_human(study_db, runs, study, table4_o)
        report.study, report.human, report.table4 = human.study, human.summary, human.table4
        report.agreement, report.ratings = human.agreement, human.ratings
        report.joined = joined_items(items, human_items(human.ratings))
        report.correlations = correlation_table(report.joined, seed=seed)
        report.model_correlations = model_correlation_table(report.joined, seed=seed)
        report.table4_o = human.table4_o
    from .judge import judge_tables

    report.judge = judge_tables(runs, items, human.ratings if study_db is not None else None, pairwise, seed)
    if viewer:
        report.samples, report.media = sample_records(runs, raw, report.ratings, data_dir)
    return report
