"""What a report shows, as tables: building fills it (``build``), rendering and writing read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pandas as pd

from ibench import __version__
from ibench.stats import CONFIDENCE, RESAMPLES

from .grid import TaskGrid

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
    version: str = __version__
    resamples: int = RESAMPLES
    confidence: float = CONFIDENCE
