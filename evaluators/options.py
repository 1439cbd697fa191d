"""What one ``score_run`` call is asked to do, from the CLI (or a script) to the scorer in one object."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from ibench.core.paths import DataRoot

    from .config import ExtractorConfig


@dataclass(frozen=True)
class ScoreOptions:
    """Options of a scoring run (like ``ibench.run.GenerateOptions`` for generation).

    ``metrics``: names (a list or ``"clip_t,dino"``; default the task's); ``extractors``: the extractor
    weights (an ``ExtractorConfig``, a dict, a YAML file or ``tiny``; default the environment's);
    ``data_root``: where the references are (default the run's); ``kinds``: per metric kind
    (``{"judge": {"config": FILE, "max_calls": N}}``); ``limit``/``samples``: score only the first
    ``limit`` instances and samples ``0..samples-1`` (what ``ibench run --limit --samples`` made).
    """

    metrics: "list[str] | str | None" = None
    device: str = "auto"
    batch_size: int = 32
    num_workers: int = 2
    extractors: "ExtractorConfig | dict | str | Path | None" = None
    data_root: "DataRoot | str | Path | None" = None
    progress: bool = False
    kinds: dict[str, dict] = field(default_factory=dict)
    limit: Optional[int] = None
    samples: Optional[int] = None
