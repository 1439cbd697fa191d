"""Coverage: which of a metric's planned instances and samples have a value, and why the others do not.

A metric *plans* every sample of every instance it applies to (``MetricKind.applies``): the run's
instances in scope times the samples the run was asked for. Each planned sample is then

- **scored**: it has at least one score row (it is in the metric's mean);
- **failed**: a failure is recorded for it: its generation failed, or the metric's kind recorded one
  (a judge verdict refused, filtered, unparseable, ...; no face detected);
- **missing**: nothing explains it: the run has no generation of it (``not generated``), the kind
  asked nothing (``judge: not asked``), or its score row is not there (``score row missing``).

An instance is scored when one of its samples is, else failed when one of its samples failed, else
missing. A mean over fewer instances than planned is not the same number (the lowest 20 of 60 gone, a
mean rises): every output states the coverage beside it when it is below 100 %.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

GENERATION_FAILED = "generation failed"
NOT_GENERATED = "not generated"
ROW_MISSING = "score row missing"
Key = tuple[str, int]  # (instance id, sample)


class Tally(BaseModel):
    """Planned units and what became of them (scored + failed + missing = planned)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    planned: int = Field(ge=0)
    scored: int = Field(ge=0)
    failed: int = Field(ge=0)
    missing: int = Field(ge=0)

    @model_validator(mode="after")
    def _adds_up(self) -> "Tally":
        if self.scored + self.failed + self.missing != self.planned:
            raise ValueError(f"scored {self.scored} + failed {self.failed} + missing {self.missing} is not "
                             f"planned {self.planned}")
        return self

    @property
    def share(self) -> Optional[float]:
        """scored / planned (None when nothing was planned)."""
        return self.scored / self.planned if self.planned else None

    @property
    def lost(self) -> int:
        return self.planned - self.scored


class Coverage(BaseModel):
    """One metric's coverage in a run (``results.json``: ``metrics.<name>.coverage``)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    instances: Tally
    samples: Tally
    reasons: dict[str, int] = Field(default_factory=dict)  # samples without a value, by reason
    partial: int = Field(0, ge=0)  # scored samples with a recorded failure on some condition
    unscored: dict[str, dict[str, str]] = Field(default_factory=dict)  # instance -> sample -> reason

    @property
    def complete(self) -> bool:
        return self.samples.scored == self.samples.planned and not self.partial

    def reasons_text(self, limit: int = 3) -> str:
        """``score row missing 40, judge: refusal 2`` (the most frequent first)."""
        ranked = sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        text = ", ".join(f"{why} {n}" for why, n in ranked[:limit])
        return text + (f", {len(ranked) - limit} more reasons" if len(ranked) > limit else "")

    def text(self) -> str:
        """One phrase for a table cell or a note; ``""`` when complete."""
        if self.complete:
            return ""
        i, s = self.instances, self.samples
        parts = [f"{i.scored}/{i.planned} instances", f"{s.scored}/{s.planned} samples"]
        why = self.reasons_text()
        partial = f"; {self.partial} samples partly failed" if self.partial else ""
        return f"coverage {', '.join(parts)}" + (f" ({why})" if why else "") + partial


def measure(planned: Mapping[str, int], generations: Mapping[Key, bool], scored: Iterable[Key],
            failed: Mapping[Key, str], missing: Mapping[Key, str], default: str = ROW_MISSING) -> Coverage:
    """Coverage of one metric.

    ``planned``: instance id -> samples planned; ``generations``: (instance, sample) -> the generation
    succeeded (absent: never generated); ``scored``: the samples with a score row; ``failed`` /
    ``missing``: the kind's reasons for samples it recorded as failed / not asked (a scored sample with a
    recorded failure is *partial*: a condition failed); ``default``: the reason of an unscored sample
    nothing explains.
    """
    scored = set(scored)
    reasons: Counter = Counter()
    unscored: dict[str, dict[str, str]] = {}
    per_instance: dict[str, set[str]] = {}
    samples = {"scored": 0, "failed": 0, "missing": 0}
    for iid, count in sorted(planned.items()):
        states = per_instance.setdefault(iid, set())
        for k in range(count):
            key = (iid, k)
            if key in scored:
                state, why = "scored", None
            elif key not in generations:
                state, why = "missing", NOT_GENERATED
            elif not generations[key]:
                state, why = "failed", GENERATION_FAILED
            elif key in failed:
                state, why = "failed", failed[key]
            elif key in missing:
                state, why = "missing", missing[key]
            else:
                state, why = "missing", default
            samples[state] += 1
            states.add(state)
            if why is not None:
                reasons[why] += 1
                unscored.setdefault(iid, {})[str(k)] = why
    instances = {"scored": 0, "failed": 0, "missing": 0}
    for states in per_instance.values():
        instances["scored" if "scored" in states else "failed" if "failed" in states else "missing"] += 1
    return Coverage(instances=Tally(planned=len(planned), **instances),
                    samples=Tally(planned=sum(planned.values()), **samples), reasons=dict(sorted(reasons.items())),
                    partial=len(set(failed) & scored), unscored=unscored)


def combined(parts: Iterable[Coverage]) -> Optional[Coverage]:
    """The coverage of several runs' parts taken together (a family average; None for none)."""
    parts = list(parts)
    if not parts:
        return None
    reasons: Counter = Counter()
    for c in parts:
        reasons.update(c.reasons)

    def tally(name: str) -> Tally:
        return Tally(**{f: sum(getattr(getattr(c, name), f) for c in parts)
                        for f in ("planned", "scored", "failed", "missing")})

    return Coverage(instances=tally("instances"), samples=tally("samples"), reasons=dict(sorted(reasons.items())),
                    partial=sum(c.partial for c in parts))
