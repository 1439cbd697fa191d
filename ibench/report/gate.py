"""The CI regression gate: ``ibench check`` compares a run with a baseline (``ibench.report.baseline``).

The rule, for every gated per-instance metric and for ``failure_rate`` (per instance, the share of
its samples that failed; an instance that failed entirely counts, as it has no metric values):

- the difference is **paired** over the instances both runs generated (an unpaired comparison is
  refused: a run that shares fewer than 2 instance ids with its baseline is a user error, exit 2);
- a one-sided p-value of "not worse on average" (the paired t-test's: ``ibench.stats.mean_test``;
  the shown 95% interval is the percentile bootstrap's); the p-values of all gated metrics are
  adjusted together by **Holm–Bonferroni**
  (statsmodels ``multipletests(method="holm")``), so the chance that *any* metric of an unchanged
  model fails stays at most ``alpha`` (default 5%);
- a metric **regresses** when it is worse by more than its tolerance **and** its adjusted p < alpha.
  The default tolerance is relative to each metric's noise: one standard error of the baseline mean
  (``1se``: the per-instance sd / √n), so no metric is held to a looser or tighter bar than its
  own spread; ``0.01`` (absolute), ``2%`` (of the baseline mean) and ``METRIC=...`` still work.

``missing_instances`` (baseline instances the run has no generation of: an interrupted run, a
smaller ``--limit``) fails above its tolerance (default 0). Set-level metrics (FID, KID) have no
per-instance values: they are gated only when a tolerance names them, on the point difference.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Iterable, Optional

import pandas as pd

from ibench.core.jsonio import json_safe
from ibench.core.rundir import RunStore
from ibench.errors import IbenchError
from ibench.stats import mean_test

from .baseline import (BASELINE_SCHEMA, baseline_instances, failure_shares, load_baseline, make_baseline,  # noqa: F401
                       write_baseline)
from .runs import RunInfo, directions, instance_values, scores, set_metrics

DEFAULT_TOLERANCE = "1se"
DEFAULT_ALPHA = 0.05
PROCEDURE = "holm"  # statsmodels multipletests method: Holm–Bonferroni, family-wise error rate under any dependence
MIN_PAIRS = 2
FAILURES, MISSING = "failure_rate", "missing_instances"
EXIT_PASS, EXIT_REGRESSION = 0, 1  # user errors exit 2 (ibench.cli.main)


# -- tolerances ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tolerance:
    """Allowed worsening: absolute, relative to |baseline mean| (``5%``) or in baseline standard errors (``1se``)."""

    value: float
    unit: str = "abs"  # abs | rel | se

    def absolute(self, baseline_mean: float, baseline_se: float = math.nan) -> float:
        if self.unit == "rel":
            return self.value * abs(baseline_mean)
        if self.unit == "se":
            return self.value * (baseline_se if math.isfinite(baseline_se) else 0.0)
        return self.value

    def __str__(self) -> str:
        return {"rel": f"{self.value * 100:g}%", "se": f"{self.value:g}se"}.get(self.unit, f"{self.value:g}")


_TOL = re.compile(r"^(?:(?P<metric>[A-Za-z0-9_.:-]+)=)?(?P<num>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(?P<unit>%|se)?$")


def parse_tolerances(specs: Iterable[str]) -> tuple[Tolerance, dict[str, Tolerance]]:
    """``1se`` / ``0.01`` / ``2%`` set the default; ``clip_t=0.02`` / ``fid=5%`` / ``dino=2se`` set one metric's."""
    default, per = _parse_one(DEFAULT_TOLERANCE, "--tolerance")[1], {}
    for spec in specs:
        metric, tol = _parse_one(spec.strip(), spec)
        if metric is None:
            default = tol
        else:
            per[metric] = tol
    return default, per


def _parse_one(spec: str, shown: str) -> tuple[Optional[str], Tolerance]:
    m = _TOL.match(spec)
    if not m:
        raise IbenchError(f"--tolerance {shown!r}: expected NUMBER, NUMBER%, NUMBERse or METRIC=<one of those>")
    unit = {"%": "rel", "se": "se"}.get(m["unit"] or "", "abs")
    return m["metric"], Tolerance(float(m["num"]) / (100 if unit == "rel" else 1), unit)


# -- checks ----------------------------------------------------------------------------------------
@dataclass
class MetricCheck:
    """The verdict on one metric. ``delta`` is current - baseline; CI bounds are of ``delta``."""

    metric: str
    higher_is_better: bool
    baseline: float
    current: float
    delta: float
    ci_low: float
    ci_high: float
    n: int
    pairing: str  # paired | set | count | none
    tolerance: str
    status: str  # pass | within-noise | improved | regression | missing | new | not-gated
    message: str = ""
    allowed: float = math.nan  # the tolerance as an absolute worsening
    p_value: float = math.nan  # one-sided p of "not worse" (paired t-test)
    p_adjusted: float = math.nan  # after Holm–Bonferroni over the gated metrics

    @property
    def failed(self) -> bool:
        return self.status in ("regression", "missing")

    @property
    def worse(self) -> float:
        return -self.delta if self.higher_is_better else self.delta


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


def compare_metric(name: str, base: dict, current: pd.Series, tol: Tolerance, seed: int = 0) -> MetricCheck:
    """One per-instance metric, paired over matched instances (``current`` is indexed by instance id); the
    status is provisional until ``decide`` has adjusted the family's p-values."""
    hib = bool(base["higher_is_better"])
    ref = pd.Series(base["per_instance"], dtype=float)
    matched = ref.index.intersection(current.index)
    a, b = ref[matched].to_numpy(), current[matched].to_numpy(dtype=float)
    sign = 1.0 if hib else -1.0
    est, p = mean_test(-sign * (b - a), seed=seed)  # "worse" per instance; p of "not worse on average"
    se = float(ref.std(ddof=1) / math.sqrt(ref.size)) if ref.size > 1 else math.nan
    allowed = tol.absolute(float(base["mean"]), se)
    low, high = sorted((0.0 - sign * est.ci_low, 0.0 - sign * est.ci_high))  # 0.0 - x: no negative zero
    check = MetricCheck(name, hib, float(a.mean()) if a.size else math.nan, float(b.mean()) if b.size else math.nan,
                        0.0 - sign * est.mean, low, high, est.n, "paired", str(tol), "pass", allowed=allowed, p_value=p)
    if matched.size < MIN_PAIRS:
        check.status, check.message = "missing", (f"values for {matched.size} of {ref.size} baseline instances: "
                                                  f"nothing to pair")
    elif matched.size < ref.size:
        check.message = f"{matched.size} of {ref.size} baseline instances have values (see failure_rate)"
    return check


def decide(checks: list[MetricCheck], alpha: float = DEFAULT_ALPHA) -> None:
    """Adjust the p-values of the gated checks together (Holm–Bonferroni) and set each one's status."""
    from statsmodels.stats.multitest import multipletests

    family = [c for c in checks if c.status != "missing" and c.pairing == "paired" and math.isfinite(c.p_value)]
    if family:
        adjusted = multipletests([c.p_value for c in family], alpha=alpha, method=PROCEDURE)[1]
        for c, p in zip(family, adjusted):
            c.p_adjusted = float(p)
    for c in checks:
        if c.pairing != "paired" or c.status == "missing":
            continue
        worse, note = c.worse, c.message
        if worse > c.allowed and c.p_adjusted < alpha:
            c.status, why = "regression", (f"worse by {worse:.4g} > tolerance {c.allowed:.4g}, adjusted p "
                                           f"{c.p_adjusted:.3g} < {alpha:g}")
        elif worse > c.allowed:
            detail = "no p-value (fewer than 2 instances)" if math.isnan(c.p_adjusted) else \
                f"adjusted p {c.p_adjusted:.3g} ≥ {alpha:g}"
            c.status, why = "within-noise", f"worse by {worse:.4g} > tolerance {c.allowed:.4g}, but {detail}"
        elif -worse > c.allowed and (c.ci_low > 0 if c.higher_is_better else c.ci_high < 0):
            c.status, why = "improved", f"better by {-worse:.4g}"
        else:
            c.status, why = "pass", ""
        c.message = "; ".join(m for m in (why, note) if m)


def check_metrics(baseline_metrics: dict, per_instance: pd.DataFrame, default: Tolerance,
                  per: dict[str, Tolerance], seed: int = 0) -> list[MetricCheck]:
    """The per-instance checks of the baseline's metrics (provisional status; ``decide`` finishes them)."""
    out = []
    groups = {m: g.set_index("instance_id")["value"] for m, g in per_instance.groupby("metric")}
    for name, base in sorted(baseline_metrics.items()):
        cur = groups.get(name, pd.Series(dtype=float))
        if cur.empty:
            out.append(MetricCheck(name, base["higher_is_better"], base["mean"], math.nan, math.nan, math.nan,
                                   math.nan, 0, "none", str(per.get(name, default)), "missing",
                                   "the run has no scores for this metric"))
            continue
        out.append(compare_metric(name, base, cur, per.get(name, default), seed=seed))
    return out


def check_run(run: RunInfo, baseline: dict, tolerances: Iterable[str] = (), seed: int = 0,
              per_instance: Optional[pd.DataFrame] = None, alpha: float = DEFAULT_ALPHA) -> CheckResult:
    """Check a scored run against a baseline (see the module docstring for the rule)."""
    default, per = parse_tolerances(tolerances)
    if not 0 < alpha < 1:
        raise IbenchError(f"--alpha {alpha:g}: must be between 0 and 1")
    base_run = baseline["run"]
    if base_run.get("task") != run.task:
        raise IbenchError(f"baseline is for task {base_run.get('task')!r} but run {run.run_id} is task {run.task!r}")
    known = set(baseline.get("metrics") or {}) | set(baseline.get("set_metrics") or {}) | {FAILURES, MISSING}
    unknown_tol = sorted(set(per) - known)
    if unknown_tol:
        raise IbenchError(f"--tolerance names metric {unknown_tol[0]!r}, which the baseline does not have "
                          f"(it has: {', '.join(sorted(known))})")
    expected = baseline_instances(baseline)
    shares = failure_shares(run)
    run_ids = set(shares) | {i.id for i in RunStore(run.path).instances()}
    if expected and len(expected & run_ids) < MIN_PAIRS:
        raise IbenchError(
            f"run {run.run_id} shares {len(expected & run_ids)} of {len(expected)} instance ids with the baseline "
            f"(run {base_run.get('run_id')}): `ibench check` compares matched instances and refuses an unpaired "
            f"comparison; make the run with the baseline's task version, seed and data, or make a new baseline")
    per_instance = instance_values(scores(run)) if per_instance is None else per_instance
    notes = [f"{key} differs: baseline {base_run.get(key)!r}, run {value!r}"
             for key, value in run.identity_record().items()
             if key in ("model", "model_settings", "task_version", "spec_hash", "data", "seed")
             and base_run.get(key) != value]
    checks = check_metrics(baseline.get("metrics") or {}, per_instance, default, per, seed)
    checks += _failure_checks(baseline, shares, expected, default, per, seed, notes)
    decide(checks, alpha)
    new = sorted(set(per_instance["metric"]) - set(baseline.get("metrics") or {}))
    dirs = directions(run, new)
    for name in new:
        vals = per_instance[per_instance["metric"] == name]["value"]
        checks.append(MetricCheck(name, dirs[name], math.nan, float(vals.mean()), math.nan,
                                  math.nan, math.nan, int(vals.size), "none", "", "new", "not in the baseline"))
    checks.extend(_set_checks(run, baseline.get("set_metrics") or {}, per))
    return CheckResult(run.identity_record(), base_run, checks, notes, alpha)


def _failure_checks(baseline: dict, shares: dict[str, float], expected: set[str], default: Tolerance,
                    per: dict[str, Tolerance], seed: int, notes: list[str]) -> list[MetricCheck]:
    """``failure_rate`` (paired, gated like a metric) and ``missing_instances`` (a count against its tolerance)."""
    out = []
    base_failures = (baseline.get("failures") or {}).get("per_instance")
    if base_failures is None:
        notes.append(f"baseline schema {baseline.get('schema')} records no failures: failure_rate is not gated "
                     f"(regenerate the baseline with `ibench baseline` for {BASELINE_SCHEMA})")
    else:
        base = {"mean": float(pd.Series(base_failures, dtype=float).mean()), "higher_is_better": False,
                "per_instance": base_failures}
        out.append(compare_metric(FAILURES, base, pd.Series(shares, dtype=float), per.get(FAILURES, default), seed))
    missing = sorted(expected - set(shares))
    tol = per.get(MISSING, Tolerance(0.0))
    allowed = tol.absolute(float(len(expected)))
    status = "regression" if len(missing) > allowed else "pass"
    message = (f"{len(missing)} of {len(expected)} baseline instances have no generation in the run "
               f"(interrupted, or a smaller --limit?): {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}"
               if missing else "")
    out.append(MetricCheck(MISSING, False, 0.0, float(len(missing)), float(len(missing)), math.nan, math.nan,
                           len(expected), "count", str(tol), status, message, allowed=allowed))
    return out


def _set_checks(run: RunInfo, base_sets: dict, per: dict[str, Tolerance]) -> list[MetricCheck]:
    current = {r["metric"]: r for r in set_metrics(run)}
    out = []
    for name, base in sorted(base_sets.items()):
        hib = bool(base.get("higher_is_better", False))
        b = base.get("value")
        b = math.nan if b is None else float(b)
        if name in per and per[name].unit == "se":
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
                  f"{current[name].get('note') or base.get('note') or 'not computed'}"
        else:
            allowed, tol = per[name].absolute(b), str(per[name])
            status = "regression" if worse > allowed else "pass"
            msg = f"worse by {worse:.4g} > tolerance {allowed:.4g}" if status == "regression" else ""
        out.append(MetricCheck(name, hib, b, c, delta, math.nan, math.nan, int(current[name]["n"]), "set", tol,
                               status, msg))
    return out
