"""Reports and the regression gate: build a report from scored runs (and ratings), render and write it;
baselines, ``ibench check`` and ``ibench compare``."""

from .build import build_report
from .model import Report
from .write import write_report

__all__ = ["Report", "build_report", "write_report"]
