"""The gate's rule for one per-instance metric: its value (paired, Holm-adjusted, beyond a tolerance) and its
coverage (no fewer samples with a value than the baseline had).

**Value.** The difference is paired over the instances both runs have a value for; a one-sided p-value of
"not worse on average" (the paired t-test's: ``ibench.stats.mean_test``; the shown 95% interval is the
percentile bootstrap's); the p-values of all gated metrics are adjusted together by Holm–Bonferroni
(statsmodels ``multipletests(method="holm")``), so the chance that *any* metric of an unchanged model
fails stays at most ``alpha``. A metric regresses when it is worse by more than its tolerance **and** its
adjusted p < alpha. The default tolerance, ``1noise``, is the metric's seed noise recorded in the baseline:
the standard error of the mean difference between two runs that differ only in their generation seeds
(``ibench.gate.baseline.seed_noise``), in the metric's own units; ``0.01`` (absolute), ``2%`` (of the
baseline mean) and ``METRIC=...`` set others. The figures behind it (false alarms, power against a 5 %
drop) are in docs/reports.md, from benchmarks/bench_gate.py.

**Coverage.** The instances the baseline scored are never silently dropped: a sample with a value in the
baseline and none in the run (its generation failed, a judge verdict failed, its score row is missing,
the instance was never generated) is a *lost* sample. A metric whose lost samples exceed the coverage
tolerance (``coverage=N`` samples or ``coverage=2%`` of the planned ones, per metric
``coverage:dino=N``; default 0) fails, naming the count and the reasons.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Optional

import pandas as pd

from ibench.errors import IbenchError
from ibench.stats import mean_test

from .baseline import BaselineMetric

DEFAULT_TOLERANCE = "1noise"
DEFAULT_ALPHA = 0.05
PROCEDURE = "holm"  # statsmodels multipletests method: Holm–Bonferroni, family-wise error rate under any dependence
MIN_PAIRS = 2
COVERAGE = "coverage"  # --tolerance coverage=N (every metric) or coverage:METRIC=N
FAILED_STATUSES = ("regression", "coverage", "missing")


# -- tolerances ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tolerance:
    """Allowed worsening: absolute (``0.01``), relative to |baseline mean| (``5%``) or in seed noise (``1noise``)."""

    value: float
    unit: str = "abs"  # abs | rel | noise

    def absolute(self, baseline_mean: float, noise: Optional[float] = None) -> float:
        if self.unit == "rel":
            return self.value * abs(baseline_mean)
        if self.unit == "noise":
            return self.value * noise if noise is not None and math.isfinite(noise) else 0.0
        return self.value

    def __str__(self) -> str:
        return {"rel": f"{self.value * 100:g}%", "noise": f"{self.value:g}noise"}.get(self.unit, f"{self.value:g}")


@dataclass(frozen=True)
class Tolerances:
    """The default, the per-metric ones, and those of coverage (lost samples)."""

    default: Tolerance
    per: dict[str, Tolerance] = field(default_factory=dict)
    coverage: Tolerance = Tolerance(0.0)
    coverage_per: dict[str, Tolerance] = field(default_factory=dict)

    def of(self, metric: str) -> Tolerance:
        return self.per.get(metric, self.default)

    def of_coverage(self, metric: str) -> Tolerance:
        return self.coverage_per.get(metric, self.coverage)

    def named(self) -> set[str]:
        return set(self.per) | set(self.coverage_per)


_TOL = re.compile(r"^(?:(?P<metric>[A-Za-z0-9_.:-]+)=)?(?P<num>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
                  r"(?P<unit>%|noise)?$")


def parse_tolerances(specs: Iterable[str]) -> Tolerances:
    """``1noise`` / ``0.01`` / ``2%`` set the default; ``clip_t=0.02`` / ``fid=5%`` / ``dino=2noise`` set one
    metric's; ``coverage=2`` / ``coverage=5%`` the lost samples allowed, ``coverage:dino=2`` one metric's."""
    default, per, coverage, coverage_per = _parse_one(DEFAULT_TOLERANCE, "--tolerance")[1], {}, Tolerance(0.0), {}
    for spec in specs:
        metric, tol = _parse_one(spec.strip(), spec)
        if metric == COVERAGE or (metric or "").startswith(COVERAGE + ":"):
            if tol.unit == "noise":
                raise IbenchError(f"--tolerance {spec!r}: coverage is counted in samples: give N or N%")
            if metric == COVERAGE:
                coverage = tol
            else:
                coverage_per[metric.split(":", 1)[1]] = tol
        elif metric is None:
            default = tol
        else:
            per[metric] = tol
    return Tolerances(default, per, coverage, coverage_per)


def _parse_one(spec: str, shown: str) -> tuple[Optional[str], Tolerance]:
    m = _TOL.match(spec)
    if not m:
        raise IbenchError(f"--tolerance {shown!r}: expected NUMBER, NUMBER%, NUMBERnoise, METRIC=<one of those>, "
                          f"or coverage[:METRIC]=N[%]")
    unit = {"%": "rel", "noise": "noise"}.get(m["unit"] or "", "abs")
    return m["metric"], Tolerance(float(m["num"]) / (100 if unit == "rel" else 1), unit)


# -- one metric ------------------------------------------------------------------------------------
@dataclass
class MetricCheck:
    """The verdict on one metric. ``delta`` is current - baseline; CI bounds are of ``delta``. Coverage:
    samples with a value in the run and in the baseline (over the baseline's instances) and those lost."""

    metric: str
    higher_is_better: bool
    baseline: float
    current: float
    delta: float
    ci_low: float
    ci_high: float
    n: int
    pairing: str  # paired | set | none
    tolerance: str
    status: str  # pass | within-noise | improved | regression | coverage | missing | new | not-gated
    message: str = ""
    allowed: float = math.nan  # the tolerance as an absolute worsening
    p_value: float = math.nan  # one-sided p of "not worse" (paired t-test)
    p_adjusted: float = math.nan  # after Holm–Bonferroni over the gated metrics
    planned: int = 0  # units (samples; instances for /1-/2 baselines) the baseline planned
    covered_baseline: int = 0
    covered_run: int = 0
    lost: int = 0  # units with a value in the baseline and none in the run
    lost_allowed: float = 0.0
    lost_reasons: dict[str, int] = field(default_factory=dict)
    unit: str = "samples"

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES

    @property
    def worse(self) -> float:
        return -self.delta if self.higher_is_better else self.delta

    def coverage_text(self) -> str:
        if not self.planned:
            return "—"
        text = f"{self.covered_run}/{self.planned} vs {self.covered_baseline}/{self.planned}"
        return text + (f" (−{self.lost})" if self.lost else "")


def compare_metric(name: str, base: BaselineMetric, current: pd.Series, tol: Tolerance, seed: int = 0) -> MetricCheck:
    """One per-instance metric's value, paired over matched instances (``current`` is indexed by instance id);
    the status is provisional until ``decide`` has adjusted the family's p-values."""
    hib = base.higher_is_better
    ref = pd.Series(base.per_instance, dtype=float)
    matched = ref.index.intersection(current.index)
    a, b = ref[matched].to_numpy(), current[matched].to_numpy(dtype=float)
    sign = 1.0 if hib else -1.0
    est, p = mean_test(-sign * (b - a), seed=seed)  # "worse" per instance; p of "not worse on average"
    allowed = tol.absolute(base.mean, base.seed_noise)
    low, high = sorted((0.0 - sign * est.ci_low, 0.0 - sign * est.ci_high))  # 0.0 - x: no negative zero
    check = MetricCheck(name, hib, float(a.mean()) if a.size else math.nan, float(b.mean()) if b.size else math.nan,
                        0.0 - sign * est.mean, low, high, est.n, "paired", str(tol), "pass", allowed=allowed, p_value=p)
    if matched.size < MIN_PAIRS:
        check.status, check.message = "missing", (f"values for {matched.size} of {ref.size} baseline instances: "
                                                  f"nothing to pair")
    elif matched.size < ref.size:
        check.message = (f"compared over the {matched.size} of {ref.size} baseline instances the run has a value for; "
                         f"the other {ref.size - matched.size} count as lost coverage")
    return check


def add_coverage(check: MetricCheck, baseline: dict[str, int], units: int, unit: str, run: dict[str, int],
                 reasons: dict[str, Counter], tol: Tolerance) -> None:
    """Set ``check``'s coverage: per baseline instance the units (``unit``: samples, or instances for an old
    baseline) with a value in the baseline (``baseline``) and in the run (``run``), ``units`` planned per
    instance; ``reasons``: why the run's unscored units of an instance have no value."""
    lost_reasons: Counter = Counter()
    for iid, had in baseline.items():
        gone = max(0, had - min(run.get(iid, 0), units))
        if gone:
            lost_reasons.update(_first(reasons.get(iid) or Counter({"no value in the run": gone}), gone))
    check.planned, check.unit = len(baseline) * units, unit
    check.covered_baseline = sum(baseline.values())
    check.covered_run = sum(min(run.get(i, 0), units) for i in baseline)
    check.lost, check.lost_reasons = sum(lost_reasons.values()), dict(lost_reasons.most_common())
    check.lost_allowed = tol.absolute(float(check.planned))


def _first(reasons: Counter, n: int) -> Counter:
    """``n`` of the reasons (the most frequent first); short of ``n``, the rest as 'no value in the run'."""
    out: Counter = Counter()
    for why, k in reasons.most_common():
        take = min(k, n - sum(out.values()))
        if take <= 0:
            break
        out[why] = take
    if sum(out.values()) < n:
        out["no value in the run"] += n - sum(out.values())
    return out


def decide(checks: list[MetricCheck], alpha: float = DEFAULT_ALPHA) -> None:
    """Adjust the p-values of the gated checks together (Holm–Bonferroni) and set each one's status; then a
    coverage loss beyond its tolerance fails the metric whatever its value did."""
    from statsmodels.stats.multitest import multipletests

    family = [c for c in checks if c.status != "missing" and c.pairing == "paired" and math.isfinite(c.p_value)]
    if family:
        adjusted = multipletests([c.p_value for c in family], alpha=alpha, method=PROCEDURE)[1]
        for c, p in zip(family, adjusted):
            c.p_adjusted = float(p)
    for c in checks:
        if c.pairing != "paired":
            continue
        if c.status != "missing":
            _value_status(c, alpha)
        if c.lost > c.lost_allowed:
            reasons = ", ".join(f"{why} {n}" for why, n in c.lost_reasons.items())
            lost = (f"coverage fell: {c.lost} of the baseline's {c.covered_baseline} {c.unit} with a value have none "
                    f"in the run ({reasons}); {c.covered_run}/{c.planned} vs the baseline's "
                    f"{c.covered_baseline}/{c.planned}, tolerance {c.lost_allowed:g}")
            c.message = "; ".join(m for m in (lost, c.message) if m)
            if c.status not in ("regression", "missing"):
                c.status = "coverage"


def _value_status(c: MetricCheck, alpha: float) -> None:
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
