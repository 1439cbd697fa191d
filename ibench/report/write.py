"""Write a built report: ``results.json``, ``report.md``, ``index.html`` and ``tables/``, each atomically."""

from __future__ import annotations

import json
from pathlib import Path
import pandas as pd

from ibench.core.jsonio import dumps, json_safe, remove_stray_temps, replace_atomic, write_text_atomic
from ibench.core.locks import hold
from ibench.core.rundir import RunLayout
from ibench.errors import IbenchError

from .format import records
from .model import REPORT_SCHEMA, Report
from .tables import shared_tasks, table4_long

LOCK = RunLayout.LOCK


# -- results.json -------------------------------------------------------------------------------------
def results_document(report: Report) -> dict:
    """The report as JSON (schema ``ibench.report/1``)."""
    human = None
    if report.human is not None:
        from .human import table4_measures

        human = {"study": report.study, "table4_measures": table4_measures(report.table4_o), "table4_o": report.table4_o,
                 "table4_shared_tasks": {f: shared_tasks(b) for f, b in report.table4.items()},
                 "summary": records(report.human), "table4": records(table4_long(report.table4)),
                 "agreement": records(report.agreement)}
    return json_safe({"schema": REPORT_SCHEMA, "title": report.title, "created": report.created,
                   "ibench_version": report.version,
                   "method": {"confidence": report.confidence, "resamples": report.resamples, "unit": "instance",
                              "interval": "percentile bootstrap"},
                   "runs": report.runs, "metrics": records(report.metrics), "set_metrics": records(report.set_metrics),
                   "human": human, "correlations": records(report.correlations),
                   "model_correlations": records(report.model_correlations),
                   "headline": records(report.headline), "extractors": report.extractors,
                   "tiny_extractors": bool(report.tiny_runs), "warnings": report.warnings,
                   "judge": {name: records(df) for name, df in report.judge.items()} or None,
                   "scaling": records(report.scaling), "recipes": records(report.recipes),
                   "leaderboard": records(report.leaderboard), "packs": records(report.packs),
                   "packs_published": records(report.packs_published)})


# -- writing --------------------------------------------------------------------------------------------
def tables(report: Report) -> dict[str, pd.DataFrame]:
    """The tables written as CSV and parquet (empty ones are skipped)."""
    out = {"runs": pd.DataFrame(report.runs), "metrics": report.metrics, "set_metrics": report.set_metrics,
           "items": report.items, "headline": report.headline, "scaling": report.scaling, "recipes": report.recipes,
           "leaderboard": report.leaderboard, "packs": report.packs, "packs_published": report.packs_published}
    if report.human is not None:
        out.update({"human": report.human, "table4": table4_long(report.table4), "agreement": report.agreement,
                    "correlations": report.correlations, "model_correlations": report.model_correlations})
    out.update(report.judge)
    return {k: v for k, v in out.items() if v is not None and not v.empty}


def write_report(report: Report, out: Path) -> dict[str, Path]:
    """Write every file of the report under ``out`` (each atomically, under the folder's lock); returns name -> path."""
    out = Path(out)
    try:
        (out / "tables").mkdir(parents=True, exist_ok=True)
        with hold(out / LOCK, f"report folder {out}"):  # a second report into the same folder waits
            remove_stray_temps(out)  # left by a writer that was killed
            return _write(report, out)
    except OSError as exc:
        raise IbenchError(f"--out {out}: cannot write the report ({exc.strerror or exc}); each file written "
                          f"before is whole") from None


def _write(report: Report, out: Path) -> dict[str, Path]:
    from .render import render_html, render_markdown, render_viewer
    from .viewer import copy_media

    written = {}
    for name, df in tables(report).items():
        flat = df.copy()
        for col in flat.columns:
            if flat[col].map(lambda v: isinstance(v, (dict, list))).any():
                flat[col] = flat[col].map(lambda v: json.dumps(v, sort_keys=True))
        replace_atomic(out / "tables" / f"{name}.csv", lambda tmp: flat.to_csv(tmp, index=False))
        replace_atomic(out / "tables" / f"{name}.parquet", lambda tmp: flat.to_parquet(tmp, index=False))
        written[f"{name}.csv"] = out / "tables" / f"{name}.csv"
    files = {"results.json": dumps(results_document(report)), "report.md": render_markdown(report),
             "index.html": render_html(report)}
    if report.samples:
        copy_media(report.media, out)
        files["samples.html"] = render_viewer(report)
    for name, text in files.items():
        write_text_atomic(out / name, text)
        written[name] = out / name
    return written
