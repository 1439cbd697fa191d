"""Pairwise preferences: one record per verdict "which of two outputs of the same instance is better".

The judge's pairwise mode (``ibench judge pairwise``) and the rating app's pairwise studies write the
same records, so people and judges are ranked, and compared, the same way (``ibench.ranking``).
``winner`` names the model (``a``/``b``) or ``tie``, never a screen position; ``order`` says which
output was presented first (``ab``: model A's), so position bias can be measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Literal, Optional

from pydantic import BaseModel, ConfigDict, ValidationError

from ibench.errors import IbenchError

from .jsonio import append_jsonl, read_jsonl
from .yamlio import describe

Aspect = Literal["sc", "pq", "overall"]  # follows the instruction / perceptual quality / both
PAIRWISE_FILE = "pairwise.jsonl"


class Preference(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str
    instance_id: str
    sample: int
    model_a: str  # the model label (one labelling rule everywhere)
    model_b: str
    run_a: str
    run_b: str
    aspect: Aspect
    order: Literal["ab", "ba"]
    winner: Literal["a", "b", "tie"]
    judge: str  # "human:<rater>" or a judge's identity
    reason: Optional[str] = None

    @property
    def first_won(self) -> Optional[bool]:
        """Whether the output presented first won (None for a tie)."""
        if self.winner == "tie":
            return None
        return (self.winner == "a") == (self.order == "ab")


def write_preferences(path: Path, prefs: Iterable[Preference]) -> None:
    append_jsonl(Path(path), [p.model_dump(mode="json") for p in prefs])


def read_preferences(path: Path) -> list[Preference]:
    """Every record of a preferences file; a malformed one is one line naming the file and record."""
    out = []
    for n, row in enumerate(read_jsonl(Path(path)), 1):
        try:
            out.append(Preference.model_validate(row))
        except ValidationError as exc:
            raise IbenchError(f"{path}: record {n}: {describe(exc)}") from None
    return out
