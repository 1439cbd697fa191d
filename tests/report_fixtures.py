"""Inputs for the report and gate tests (a plain module: import the fixture and helpers from tests).

Two real runs on ``style_subject`` (the ``tiny`` model and the ``references`` oracle; 3 instances,
2 samples), scored by the real evaluators with tiny random extractors, and a small study on them
rated by 4 raters (3 per item), all made once per session.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd
import pytest

from human_fixtures import make_runs, make_study, rate_all
from ibench.evaluators.tiny import save_tiny_extractors

METRICS = ["clip_t", "dino", "clip_i", "style_clip", "style_gram"]  # FID/KID: reference features take ~1 min


@dataclass
class ReportInputs:
    runs: list[Path]
    db: Path
    extractors: dict
    data: Path
    tmp: Path


def score(run: Path, extractors: dict, data: Path, tmp: Path, metrics: Sequence[str] = METRICS) -> None:
    """Score a run with the real evaluators and the tiny extractors (isolated cache under ``tmp``)."""
    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.score import score_run
    from ibench.core.paths import DataRoot

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IBENCH_CACHE_DIR", str(tmp / "cache"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        score_run(run, ScoreOptions(metrics=list(metrics), extractors=extractors, num_workers=0,
                  data_root=DataRoot(data, derived_dir=tmp / "derived")))


_MADE: dict[str, ReportInputs] = {}  # a fixture imported into several modules is one per module: make once


@pytest.fixture(scope="session")
def report_inputs(shared_data, tmp_path_factory) -> ReportInputs:
    key = str(tmp_path_factory.getbasetemp())
    if key not in _MADE:
        _MADE[key] = _make_inputs(shared_data, tmp_path_factory.mktemp("report-inputs"))
    return _MADE[key]


def _make_inputs(shared_data: Path, tmp: Path) -> ReportInputs:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IBENCH_CACHE_DIR", str(tmp / "cache"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        extractors = save_tiny_extractors(tmp / "extractors")
    runs = make_runs(shared_data, tmp, models=("tiny", "references"), limit=3, samples=2)
    for run in runs:
        score(run, extractors, shared_data, tmp)
    db = tmp / "ratings.db"
    rate_all(db, make_study(db, runs, raters=4, k=3, name="pilot"))
    return ReportInputs(runs, db, extractors, shared_data, tmp)


# -- independent computations (plain pandas / sqlite3 / scipy, none of ibench's aggregation code) --------
def raw_scores(run: Path) -> pd.DataFrame:
    """Every score row of a run, read straight from its JSONL files."""
    frames = [pd.read_json(p, lines=True) for p in sorted((run / "scores").glob("*.jsonl"))]
    return pd.concat(frames, ignore_index=True)


def raw_ratings(db: Path) -> pd.DataFrame:
    """Rated items straight from the SQLite file: task, model, run_id, instance_id, sample, rater, SC, PQ."""
    with sqlite3.connect(db) as con:
        return pd.read_sql_query(
            "SELECT i.task, i.model, i.run_id, i.instance_id, i.sample, r.name AS rater, g.sc AS SC, g.pq AS PQ "
            "FROM ratings g JOIN items i ON i.id = g.item_id JOIN raters r ON r.id = g.rater_id "
            "WHERE g.status = 'rated'", con)


def cli_main(args: Sequence[str], capsys) -> tuple[int, str, str]:
    """Run ``ibench`` through its real entry point (exit codes included)."""
    from ibench.cli import main

    capsys.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def guard_offline(page, folder: Path) -> tuple[list[str], list[str]]:  # noqa: ANN001 - a Playwright page
    """(errors, outside): console errors/warnings and page errors, and every request that would leave
    ``folder`` (refused), as the page loads; the lists fill while the test drives the page."""
    errors: list[str] = []
    outside: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)

    def route(r):  # noqa: ANN001, ANN202 - the page must need nothing but its folder
        if r.request.url.startswith(("data:", f"file://{folder}")):
            return r.continue_()
        outside.append(r.request.url)
        return r.abort()

    page.route("**/*", route)
    return errors, outside


__all__ = ["ReportInputs", "guard_offline", "report_inputs", "raw_scores", "raw_ratings", "cli_main", "score", "METRICS"]
