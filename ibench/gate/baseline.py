"""Baselines for the regression gate (``ibench baseline``; schema ``ibench.baseline/3``, docs/baseline-schema.json).

A baseline holds the run's identity, the instances it planned and the samples per instance, and per
metric the mean, CI and per-instance means (for pairing), the **seed noise** (the standard error of the
mean difference between two runs that differ only in their generation seeds, from the spread of each
instance's samples: what a default tolerance is measured in) and the **coverage** (planned / scored /
failed / missing instances and samples with the reasons, and per instance how many samples have a
value); then the set-level metrics. ``/1`` and ``/2`` files are still read: their coverage is known per
instance only (an instance with a value counts as covered), with a note. Every field is checked when
read (``Baseline``): a wrong type, a NaN, a share out of range or no metric at all is one line, exit 2.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, Optional

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ibench import __version__
from ibench.core.jsonio import json_safe, read_json, write_json_atomic
from ibench.core.yamlio import describe
from ibench.errors import IbenchError
from ibench.evaluators.coverage import Coverage, Tally
from ibench.report.runs import RunInfo, directions, instance_values, item_values, scores, set_metrics
from ibench.stats import mean_ci

BASELINE_SCHEMA = "ibench.baseline/3"
READABLE_SCHEMAS = ("ibench.baseline/1", "ibench.baseline/2", BASELINE_SCHEMA)
Number = Optional[float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class BaselineCoverage(_Strict):
    """A metric's coverage in the baseline run; ``per_instance``: samples with a value, per planned instance."""

    instances: Tally
    samples: Tally
    reasons: dict[str, int] = Field(default_factory=dict)
    per_instance: dict[str, int]


class BaselineMetric(_Strict):
    mean: float
    ci_low: Number = None
    ci_high: Number = None
    n: int = Field(ge=1)
    higher_is_better: bool
    per_instance: dict[str, float] = Field(min_length=1)
    seed_noise: Optional[float] = Field(None, ge=0)
    coverage: Optional[BaselineCoverage] = None


class BaselineSet(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)

    value: Number
    n: int = Field(0, ge=0)
    higher_is_better: bool = False


class Failures(_Strict):
    """``/2``: per instance the share of its samples whose generation failed (read, no longer gated alone)."""

    mean: Number = None
    ci_low: Number = None
    ci_high: Number = None
    n: int = Field(0, ge=0)
    per_instance: dict[str, float]

    @model_validator(mode="after")
    def _shares(self) -> "Failures":
        bad = next((k for k, v in self.per_instance.items() if not 0 <= v <= 1), None)
        if bad is not None:
            raise ValueError(f"per_instance.{bad} is {self.per_instance[bad]!r}, not a share in [0, 1]")
        return self


class RunRecord(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    run_id: str
    task: str
    model: str
    model_settings: dict[str, Any] = Field(default_factory=dict)
    label: Optional[str] = None


class Baseline(_Strict):
    schema_: Literal["ibench.baseline/1", "ibench.baseline/2", "ibench.baseline/3"] = Field(alias="schema")
    created: str
    ibench_version: str
    run: RunRecord
    unit: Literal["instance"] = "instance"
    samples: Optional[int] = Field(None, ge=1)  # /3: samples planned per instance
    instances: Optional[list[str]] = None  # /2, /3: the instances the baseline run planned
    failures: Optional[Failures] = None  # /2 only
    metrics: dict[str, BaselineMetric] = Field(min_length=1)
    set_metrics: dict[str, BaselineSet] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _complete(self) -> "Baseline":
        if self.schema_ != "ibench.baseline/1" and self.instances is None:
            raise ValueError(f"`instances` is required in {self.schema_}")
        if self.schema_ == "ibench.baseline/2" and self.failures is None:
            raise ValueError("`failures.per_instance` is required in ibench.baseline/2")
        if self.schema_ == BASELINE_SCHEMA:
            if self.samples is None:
                raise ValueError(f"`samples` is required in {BASELINE_SCHEMA}")
            for name, m in self.metrics.items():
                if m.coverage is None:
                    raise ValueError(f"`metrics.{name}.coverage` is required in {BASELINE_SCHEMA}")
                too_many = next((k for k, v in m.coverage.per_instance.items() if not 0 <= v <= self.samples), None)
                if too_many is not None:
                    raise ValueError(f"metrics.{name}.coverage.per_instance.{too_many} is not a count of 0 to "
                                     f"{self.samples} samples")
        planned = set(self.instances or [])
        for name, m in self.metrics.items():
            stray = sorted(set(m.per_instance) - planned) if self.instances is not None else []
            if stray:
                raise ValueError(f"metrics.{name}.per_instance.{stray[0]} is not one of the baseline's `instances`")
        return self

    @property
    def planned(self) -> set[str]:
        """The instances the baseline run planned (``/1``: those with a metric value)."""
        if self.instances is not None:
            return set(self.instances)
        return {iid for m in self.metrics.values() for iid in m.per_instance}

    def covered(self, metric: str) -> tuple[dict[str, int], int]:
        """(per planned instance, the units with a value; units per instance): samples in ``/3``; in older
        files one unit per instance (an instance with a value is covered)."""
        m = self.metrics[metric]
        if m.coverage is not None and self.samples is not None:
            return {i: m.coverage.per_instance.get(i, 0) for i in self.planned}, self.samples
        return {i: int(i in m.per_instance) for i in self.planned}, 1


# -- making one ----------------------------------------------------------------------------------------
def samples_with_values(df: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per metric, per instance: how many of its samples have a value (score rows)."""
    counts = df.groupby(["metric", "instance_id"])["sample"].nunique()
    out: dict[str, dict[str, int]] = {}
    for (metric, iid), n in counts.items():
        out.setdefault(str(metric), {})[str(iid)] = int(n)
    return out


def seed_noise(df: pd.DataFrame) -> dict[str, Optional[float]]:
    """Per metric, the standard error of the mean difference between two runs that differ only in their
    generation seeds: with s_i² the variance of instance i's k_i sample values, a rerun's instance mean
    differs by a variance of 2 s_i²/k_i, so the mean over n instances by sqrt(mean_i(2 s_i²/k_i) / n).
    None for a metric with no instance of 2 or more samples (nothing to measure it from)."""
    items = item_values(df)
    out: dict[str, Optional[float]] = {}
    for metric, g in items.groupby("metric", sort=True):
        per = g.groupby("instance_id")["value"].agg(["var", "count"])
        several = per[per["count"] >= 2]
        if several.empty:
            out[str(metric)] = None
            continue
        out[str(metric)] = float(math.sqrt((2 * several["var"] / several["count"]).mean() / len(per)))
    return out


def build_baseline(raw: pd.DataFrame, coverages: dict[str, Coverage], higher_is_better: dict[str, bool],
                   run: dict, sets: Optional[dict] = None) -> dict:
    """A baseline document from score rows (instance_id, sample, metric, value), each metric's coverage
    (``evaluators.coverage``), directions and the run's identity record."""
    per_instance = instance_values(raw)
    counts, noise = samples_with_values(raw), seed_noise(raw)
    metrics, planned, samples = {}, set(), 1
    for name, group in per_instance.groupby("metric", sort=True):
        cov = coverages[name]
        mine = set(cov.unscored) | set(group["instance_id"])
        planned |= mine
        samples = max(samples, cov.samples.planned // max(cov.instances.planned, 1))
        est = mean_ci(group["value"].to_numpy())
        metrics[name] = {**json_safe(est.as_dict()), "higher_is_better": higher_is_better[name],
                         "per_instance": {str(k): float(v) for k, v in zip(group["instance_id"], group["value"])},
                         "seed_noise": noise.get(name),
                         "coverage": {**cov.model_dump(include={"instances", "samples", "reasons"}),
                                      "per_instance": {i: counts.get(name, {}).get(i, 0) for i in sorted(mine)}}}
    return {"schema": BASELINE_SCHEMA, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "ibench_version": __version__, "run": run, "unit": "instance", "samples": samples,
            "instances": sorted(planned), "metrics": metrics, "set_metrics": sets or {}}


def make_baseline(run: RunInfo, raw: Optional[pd.DataFrame] = None) -> dict:
    """A baseline of a scored run: identity, planned instances and samples, per metric mean + CI + per-instance
    means + seed noise + coverage; set metrics."""
    raw = scores(run) if raw is None else raw
    names = sorted(raw["metric"].unique()) if len(raw) else []
    if not names:
        raise IbenchError(f"run {run.path} has no per-instance scores (did every generation fail?): "
                          f"nothing to make a baseline of")
    coverages = {}
    for name in names:
        cov = run.results.coverage(name) if run.results is not None else None
        if cov is None:
            raise IbenchError(f"run {run.path}: results.json records no coverage of {name}: re-score the run "
                              f"(`ibench score {run.path}`)")
        coverages[name] = cov
    sets = {r["metric"]: json_safe({k: v for k, v in r.items() if k != "metric"}) for r in set_metrics(run)}
    return build_baseline(raw, coverages, directions(run, names), run.identity_record(), sets)


def write_baseline(baseline: dict, out: Path) -> None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out, baseline)
    except OSError as exc:
        raise IbenchError(f"--out {out}: cannot write the baseline ({exc.strerror or exc})") from None


def load_baseline(path: Path) -> Baseline:
    """Read and check a baseline file; anything malformed is one line naming the file and field."""
    path = Path(path)
    if not path.is_file():
        raise IbenchError(f"baseline {path} does not exist (make one with `ibench baseline RUN --out {path}`)")
    data = read_json(path, "baseline")
    if not isinstance(data, dict) or data.get("schema") not in READABLE_SCHEMAS:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise IbenchError(f"baseline {path}: schema is {found!r}, expected {BASELINE_SCHEMA!r}")
    if isinstance(data.get("metrics"), dict) and not data["metrics"]:
        raise IbenchError(f"baseline {path}: `metrics` is empty: it would gate nothing; make it again with "
                          f"`ibench baseline RUN --out {path}`")
    try:
        return Baseline.model_validate(data)
    except ValidationError as exc:
        raise IbenchError(f"baseline {path}: {describe(exc)}; make it again with `ibench baseline RUN --out "
                          f"{path}`") from None
