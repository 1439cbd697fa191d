"""What one ``generate`` call is asked to do, from the CLI (or a script) to the runner in one object."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ibench.core.instance import Instance


@dataclass(frozen=True)
class GenerateOptions:
    """Options of a generation run. Only ``seed`` (and a user's own ``instances``) enter the run id;
    ``limit`` and ``samples`` choose how much of the run to make, the rest is how to make it."""

    out: Path = Path("runs")
    limit: Optional[int] = None  # first N instances (default: the task's count)
    samples: Optional[int] = None  # samples per instance (default: the task's)
    seed: int = 0
    batch_size: int = 1  # requests per model call, capped by the adapter's max_batch
    progress: bool = True
    instances: Optional[list[Instance]] = None  # a user's own instances instead of the task's drawn ones

    def batch_for(self, max_batch: Optional[int]) -> int:
        """Requests per model call for an adapter that takes at most ``max_batch`` (None: any)."""
        return min(self.batch_size, max_batch or self.batch_size)
