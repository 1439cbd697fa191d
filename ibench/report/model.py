"""What a report shows, as tables: building fills it (``build``), rendering and writing read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pandas as pd

from ibench import __version__
from ibench.stats import CONFIDENCE, RESAMPLES

from .grid import TaskGrid
from .viewer import MediaFile

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
    model_correlations: pd.DataFrame = field(default_factory=pd.DataFrame)
    table4_o: str = "per-image"  # which O Table 4 shows (ibench.report.human.TABLE4_O)
    headline: pd.DataFrame = field(default_factory=pd.DataFrame)  # ibench.report.headline, long form
    extractors: list[dict] = field(default_factory=list)  # each extractor / judge identity and its runs
    tiny_runs: list[str] = field(default_factory=list)  # runs scored with tiny random extractors
    ratings: Optional[pd.DataFrame] = None  # one row per rated image x rater (for the viewer)
    samples: list[dict] = field(default_factory=list)  # the viewer's records (ibench.report.viewer)
    media: list[MediaFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. runs left out because they are not scored
    judge: dict[str, pd.DataFrame] = field(default_factory=dict)  # ibench.report.judge.judge_tables
    scaling: pd.DataFrame = field(default_factory=pd.DataFrame)  # ibench.report.scaling
    recipes: pd.DataFrame = field(default_factory=pd.DataFrame)  # ibench.report.recipes
    leaderboard: pd.DataFrame = field(default_factory=pd.DataFrame)  # ibench.report.leaderboard (--meta)
    leaderboard_note: str = ""  # how the meta table's aggregates were made
    packs: pd.DataFrame = field(default_factory=pd.DataFrame)  # ibench.report.packs: per run x judge x headline number
    packs_published: pd.DataFrame = field(default_factory=pd.DataFrame)  # the packs' published rows
    version: str = __version__
    resamples: int = RESAMPLES
    confidence: float = CONFIDENCE
