"""``ibench check``: a run against a baseline (``ibench.gate.baseline``), every metric through the rule of
``ibench.gate.rule`` (value: paired, Holm–Bonferroni, beyond a tolerance in the metric's units; coverage:
no samples lost against the baseline).

A run that shares fewer than 2 instance ids with its baseline is refused (exit 2): an unpaired comparison
cannot tell a regression from other instances. Set-level metrics (FID, KID) have no per-instance values:
they are gated only when a tolerance names them, on the point difference.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Iterable, Optional

import pandas as pd

from ibench.core.jsonio import json_safe
from ibench.core.rundir import RunStore
from ibench.errors import IbenchError
from ibench.evaluators.coverage import Coverage
from ibench.report.runs import RunInfo, directions, instance_values, scores, set_metrics

from .baseline import BASELINE_SCHEMA, Baseline, BaselineSet, samples_with_values
from .rule import (COVERAGE, DEFAULT_ALPHA, MIN_PAIRS, PROCEDURE, MetricCheck, Tolerance, Tolerances, add_coverage,
                   compare_metric, decide, parse_tolerances)

EXIT_PASS, EXIT_REGRESSION = 0, 1  # user errors exit 2 (ibench.cli.main)


@dataclass
class CheckResult:
    run: dict
    baseline_run: dict
    checks: list[MetricCheck]
    notes: list[str] = field(default_factory=list)
    alpha: float = DEFAULT_ALPHA
    procedure: str = PROCEDURE

    @property
    def failed(self) -> list[MetricCheck]:
        return [c for c in self.checks if c.failed]

    @property
    def exit_code(self) -> int:
        return EXIT_REGRESSION if self.failed else EXIT_PASS

    def as_dict(self) -> dict:
        return {"run": self.run, "baseline_run": self.baseline_run, "passed": not self.failed, "alpha": self.alpha,
                "procedure": self.procedure, "notes": self.notes, "checks": [json_safe(asdict(c)) for c in self.checks]}


@dataclass(frozen=True)
class RunValues:
    """What the rule reads of a run: per-instance means, samples with a value, why the others have none."""

    means: pd.DataFrame  # instance_id, metric, value
    counts: dict[str, dict[str, int]]  # metric -> instance -> samples with a value
    reasons: dict[str, dict[str, Counter]]  # metric -> instance -> Counter of why samples have no value

    @classmethod
    def of(cls, run: RunInfo) -> "RunValues":
        coverages = {name: entry.coverage for name, entry in (run.results.metrics if run.results else {}).items()}
        return cls.from_scores(scores(run), coverages)

    @classmethod
    def from_scores(cls, raw: pd.DataFrame, coverages: dict[str, Coverage]) -> "RunValues":
        """From score rows (instance_id, sample, metric, value) and each metric's coverage."""
        reasons = {name: {iid: Counter(per.values()) for iid, per in cov.unscored.items()}
                   for name, cov in coverages.items()}
        return cls(instance_values(raw), samples_with_values(raw), reasons)


def check_metrics(baseline: Baseline, values: RunValues, tolerances: Tolerances, seed: int = 0) -> list[MetricCheck]:
    """The per-instance checks of the baseline's metrics (provisional status; ``decide`` finishes them)."""
    out = []
    groups = {m: g.set_index("instance_id")["value"] for m, g in values.means.groupby("metric")}
    for name, base in sorted(baseline.metrics.items()):
        cur = groups.get(name, pd.Series(dtype=float))
        tol = tolerances.of(name)
        if cur.empty:
            check = MetricCheck(name, base.higher_is_better, base.mean, math.nan, math.nan, math.nan, math.nan, 0,
                                "paired", str(tol), "missing", "the run has no scores for this metric")
        else:
            check = compare_metric(name, base, cur, tol, seed=seed)
        had, units = baseline.covered(name)
        mine = values.counts.get(name, {})
        add_coverage(check, had, units, "samples" if baseline.samples else "instances",
                     {i: (n if baseline.samples else int(n > 0)) for i, n in mine.items()},
                     values.reasons.get(name, {}), tolerances.of_coverage(name))
        out.append(check)
    return out


def check_run(run: RunInfo, baseline: Baseline, tolerances: Iterable[str] = (), seed: int = 0,
              values: Optional[RunValues] = None, alpha: float = DEFAULT_ALPHA) -> CheckResult:
    """Check a scored run against a baseline (see ``ibench.gate.rule`` for the rule)."""
    tols = parse_tolerances(tolerances)
    if not 0 < alpha < 1:
        raise IbenchError(f"--alpha {alpha:g}: must be between 0 and 1")
    base_run = baseline.run.model_dump()
    if baseline.run.task != run.task:
        raise IbenchError(f"baseline is for task {baseline.run.task!r} but run {run.run_id} is task {run.task!r}")
    known = set(baseline.metrics) | set(baseline.set_metrics)
    unknown_tol = sorted(tols.named() - known)
    if unknown_tol:
        raise IbenchError(f"--tolerance names metric {unknown_tol[0]!r}, which the baseline does not have "
                          f"(it has: {', '.join(sorted(known))}; `{COVERAGE}=N` sets the coverage tolerance)")
    expected = baseline.planned
    run_ids = {i.id for i in RunStore(run.path).instances()} | {g.instance_id for g in RunStore(run.path).generations()}
    if expected and len(expected & run_ids) < MIN_PAIRS:
        raise IbenchError(
            f"run {run.run_id} shares {len(expected & run_ids)} of {len(expected)} instance ids with the baseline "
            f"(run {baseline.run.run_id}): `ibench check` compares matched instances and refuses an unpaired "
            f"comparison; make the run with the baseline's task version, seed and data, or make a new baseline")
    values = RunValues.of(run) if values is None else values
    notes = [f"{key} differs: baseline {base_run.get(key)!r}, run {value!r}"
             for key, value in run.identity_record().items()
             if key in ("model", "model_settings", "task_version", "spec_hash", "data", "seed")
             and base_run.get(key) != value]
    if baseline.schema_ != BASELINE_SCHEMA:
        notes.append(f"baseline schema {baseline.schema_} records coverage per instance only: a sample lost inside "
                     f"an instance that kept another is not seen (make it again with `ibench baseline` for "
                     f"{BASELINE_SCHEMA})")
    silent = [n for n, m in sorted(baseline.metrics.items()) if m.seed_noise is None and tols.of(n).unit == "noise"]
    if silent:
        notes.append(f"no seed noise recorded for {', '.join(silent)} (a baseline run of one sample per instance, or "
                     f"a schema before /3): their tolerance is 0, the paired test alone decides")
    checks = check_metrics(baseline, values, tols, seed)
    decide(checks, alpha)
    new = sorted(set(values.means["metric"]) - set(baseline.metrics))
    dirs = directions(run, new)
    for name in new:
        vals = values.means[values.means["metric"] == name]["value"]
        checks.append(MetricCheck(name, dirs[name], math.nan, float(vals.mean()), math.nan,
                                  math.nan, math.nan, int(vals.size), "none", "", "new", "not in the baseline"))
    checks.extend(_set_checks(run, baseline.set_metrics, tols.per))
    return CheckResult(run.identity_record(), base_run, checks, notes, alpha)


def _set_checks(run: RunInfo, base_sets: dict[str, BaselineSet], per: dict[str, Tolerance]) -> list[MetricCheck]:
    current = {r["metric"]: r for r in set_metrics(run)}
    out = []
    for name, base in sorted(base_sets.items()):
        hib = base.higher_is_better
        b = math.nan if base.value is None else float(base.value)
        if name in per and per[name].unit == "noise":
            raise IbenchError(f"--tolerance {name}={per[name]}: set metrics have no per-instance values; give an "
                              f"absolute or % tolerance")
        if name not in current:
            out.append(MetricCheck(name, hib, b, math.nan, math.nan, math.nan, math.nan, 0, "set",
                                   str(per.get(name, "")), "missing" if name in per else "not-gated",
                                   "the run has no value for this set metric"))
            continue
        c = current[name]["value"]
        delta = c - b
        worse = -delta if hib else delta
        if name not in per:
            status, msg, tol = "not-gated", "set metric: gated only with --tolerance NAME=...", ""
        elif math.isnan(delta):  # no value on one side (e.g. too few images): nothing shows it did not regress
            status, tol = "missing", str(per[name])
            msg = f"no value in the {'run' if math.isnan(c) else 'baseline'}: " \
                  f"{current[name].get('note') or getattr(base, 'note', None) or 'not computed'}"
        else:
            allowed, tol = per[name].absolute(b), str(per[name])
            status = "regression" if worse > allowed else "pass"
            msg = f"worse by {worse:.4g} > tolerance {allowed:.4g}" if status == "regression" else ""
        out.append(MetricCheck(name, hib, b, c, delta, math.nan, math.nan, int(current[name]["n"]), "set", tol,
                               status, msg))
    return out
