"""Reports: build a report from scored runs (and ratings), render and write it. The regression gate
(baselines, ``ibench check``, ``ibench compare``) is its own stage: ``ibench.gate``."""

from .build import build_report
from .model import Report
from .write import write_report

__all__ = ["Report", "build_report", "write_report"]
