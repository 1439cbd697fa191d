"""The CI regression gate: baselines (``ibench baseline``) and checks against them (``ibench check``).

A metric *regresses* when the run is worse than the baseline by more than its tolerance **and** the
95% bootstrap CI of the difference lies entirely on the worse side of zero. The difference is paired
(resampling matched instances) when at least two instance ids match the baseline's, else unpaired
(resampling each side's instances on its own). Set-level metrics (FID, KID) have no per-instance
values: they are gated only when a tolerance names them, on the point difference alone.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Optional

import pandas as pd

from ibench import __version__
from ibench.core.jsonio import json_safe, read_json, write_json_atomic
from ibench.errors import IbenchError
from ibench.stats import mean_ci

from .compare import delta_row
from .runs import RunInfo, directions, instance_values, scores, set_metrics

BASELINE_SCHEMA = "ibench.baseline/1"
DEFAULT_TOLERANCE = "1%"
EXIT_PASS, EXIT_REGRESSION = 0, 1  # user errors exit 2 (ibench.cli.main)


# -- baselines -------------------------------------------------------------------------------------
def make_baseline(run: RunInfo, per_instance: Optional[pd.DataFrame] = None) -> dict:
    """A baseline of a scored run: identity, per metric mean + CI + per-instance means, set metrics."""
    per_instance = instance_values(scores(run)) if per_instance is None else per_instance
    if per_instance.empty:
        raise IbenchError(f"run {run.path} has no per-instance scores (did every generation fail?): "
                          f"nothing to make a baseline of")
    dirs = directions(run, per_instance["metric"].unique())
    metrics = {}
    for name, group in per_instance.groupby("metric", sort=True):
        est = mean_ci(group["value"].to_numpy())
        metrics[name] = {**json_safe(est.as_dict()), "higher_is_better": dirs[name],
                         "per_instance": {str(k): float(v) for k, v in zip(group["instance_id"], group["value"])}}
    sets = {r["metric"]: json_safe({k: v for k, v in r.items() if k != "metric"}) for r in set_metrics(run)}
    return {"schema": BASELINE_SCHEMA, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "ibench_version": __version__, "run": run.identity_record(), "unit": "instance",
            "metrics": metrics, "set_metrics": sets}


def write_baseline(baseline: dict, out: Path) -> None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out, baseline)
    except OSError as exc:
        raise IbenchError(f"--out {out}: cannot write the baseline ({exc.strerror or exc})") from None


def load_baseline(path: Path) -> dict:
    """Read and check a baseline file; anything malformed is a user error naming the file and field."""
    path = Path(path)
    if not path.is_file():
        raise IbenchError(f"baseline {path} does not exist (make one with `ibench baseline RUN --out {path}`)")
    data = read_json(path, "baseline")
    if not isinstance(data, dict) or data.get("schema") != BASELINE_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise IbenchError(f"baseline {path}: schema is {found!r}, expected {BASELINE_SCHEMA!r}")
    if not isinstance(data.get("run"), dict) or "task" not in data["run"]:
        raise IbenchError(f"baseline {path}: `run.task` is missing")
    problem = _baseline_problem(data)
    if problem:
        raise IbenchError(f"baseline {path}: {problem}")
    return data


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _baseline_problem(data: dict) -> Optional[str]:
    """The first malformed field of a baseline (wrong shape, NaN, wrong type), or None."""
    for part in ("metrics", "set_metrics"):
        if not isinstance(data.get(part) or {}, dict):
            return f"{part} must be a mapping of metric -> record, not {type(data[part]).__name__}"
    for name, rec in (data.get("metrics") or {}).items():
        if not isinstance(rec, dict):
            return f"metrics.{name} must be a record (mean, higher_is_better, per_instance)"
        if not _finite(rec.get("mean")):
            return f"metrics.{name}.mean is {rec.get('mean')!r}, not a finite number"
        if not isinstance(rec.get("higher_is_better"), bool):
            return f"metrics.{name}.higher_is_better is {rec.get('higher_is_better')!r}, not true or false"
        if not isinstance(rec.get("per_instance"), dict):
            return f"metrics.{name}.per_instance must be a mapping of instance id -> value"
        bad = next((k for k, v in rec["per_instance"].items() if not _finite(v)), None)
        if bad is not None:
            return f"metrics.{name}.per_instance.{bad} is {rec['per_instance'][bad]!r}, not a finite number"
    for name, rec in (data.get("set_metrics") or {}).items():
        if not isinstance(rec, dict) or not (rec.get("value") is None or _finite(rec.get("value"))):
            return f"set_metrics.{name} needs a finite value (or null)"
    return None


# -- tolerances ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tolerance:
    """Allowed worsening: absolute, or relative to |baseline mean| (``5%``)."""

    value: float
    relative: bool

    def absolute(self, baseline_mean: float) -> float:
        return self.value * abs(baseline_mean) if self.relative else self.value

    def __str__(self) -> str:
        return f"{self.value * 100:g}%" if self.relative else f"{self.value:g}"


_TOL = re.compile(r"^(?:(?P<metric>[A-Za-z0-9_.:-]+)=)?(?P<num>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(?P<pct>%)?$")


def parse_tolerances(specs: Iterable[str]) -> tuple[Tolerance, dict[str, Tolerance]]:
    """``0.01`` / ``2%`` set the default; ``clip_t=0.02`` / ``fid=5%`` set one metric's."""
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
        raise IbenchError(f"--tolerance {shown!r}: expected NUMBER, NUMBER%, METRIC=NUMBER or METRIC=NUMBER%")
    value = float(m["num"]) / (100 if m["pct"] else 1)
    return m["metric"], Tolerance(value, bool(m["pct"]))


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
    pairing: str  # paired | unpaired | set | none
    tolerance: str
    status: str  # pass | within-ci | improved | regression | missing | new | not-gated
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.status in ("regression", "missing")


@dataclass
class CheckResult:
    run: dict
    baseline_run: dict
    checks: list[MetricCheck]
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[MetricCheck]:
        return [c for c in self.checks if c.failed]

    @property
    def exit_code(self) -> int:
        return EXIT_REGRESSION if self.failed else EXIT_PASS

    def as_dict(self) -> dict:
        return {"run": self.run, "baseline_run": self.baseline_run, "passed": not self.failed,
                "notes": self.notes, "checks": [json_safe(asdict(c)) for c in self.checks]}


def compare_metric(name: str, base: dict, current: pd.Series, tol: Tolerance, seed: int = 0) -> MetricCheck:
    """Check one per-instance metric: ``current`` is indexed by instance id."""
    hib = bool(base["higher_is_better"])
    ref = pd.Series(base["per_instance"], dtype=float)
    d = delta_row(ref, current, seed=seed)  # paired over matched instances when enough match, as `ibench compare`
    allowed = tol.absolute(float(base["mean"]))
    sign = 1.0 if hib else -1.0
    worse = -sign * d["delta"]  # > 0: the run is worse than the baseline
    bounds = sorted((-sign * d["ci_low"], -sign * d["ci_high"]))  # the CI of "worse", low to high
    if math.isnan(d["delta"]):
        status, msg = "missing", "no values to compare"
    elif worse > allowed and bounds[0] > 0:
        status, msg = "regression", f"worse by {worse:.4g} > tolerance {allowed:.4g}, CI excludes 0"
    elif worse > allowed:
        why = "no CI (fewer than 2 instances)" if math.isnan(bounds[0]) else "the CI includes 0"
        status, msg = "within-ci", f"worse by {worse:.4g} > tolerance {allowed:.4g}, but {why}"
    elif -worse > allowed and bounds[1] < 0:
        status, msg = "improved", f"better by {-worse:.4g}"
    else:
        status, msg = "pass", ""
    if d["pairing"] == "paired" and d["matched"] < len(ref):
        msg = (msg + "; " if msg else "") + f"{d['matched']} of {len(ref)} baseline instances matched"
    return MetricCheck(name, hib, d["mean_a"], d["mean_b"], d["delta"], d["ci_low"], d["ci_high"], d["n"], d["pairing"],
                       str(tol), status, msg)


def check_run(run: RunInfo, baseline: dict, tolerances: Iterable[str] = (), seed: int = 0,
              per_instance: Optional[pd.DataFrame] = None) -> CheckResult:
    """Check a scored run against a baseline (see the module docstring for the rule)."""
    default, per = parse_tolerances(tolerances)
    base_run = baseline["run"]
    if base_run.get("task") != run.task:
        raise IbenchError(f"baseline is for task {base_run.get('task')!r} but run {run.run_id} is task {run.task!r}")
    known = set(baseline.get("metrics") or {}) | set(baseline.get("set_metrics") or {})
    unknown_tol = sorted(set(per) - known)
    if unknown_tol:
        raise IbenchError(f"--tolerance names metric {unknown_tol[0]!r}, which the baseline does not have "
                          f"(it has: {', '.join(sorted(known)) or 'none'})")
    per_instance = instance_values(scores(run)) if per_instance is None else per_instance
    notes = [f"{key} differs: baseline {base_run.get(key)!r}, run {value!r}"
             for key, value in run.identity_record().items()
             if key in ("model", "model_settings", "task_version", "spec_hash", "data", "seed")
             and base_run.get(key) != value]
    checks = []
    for name, base in sorted((baseline.get("metrics") or {}).items()):
        cur = per_instance[per_instance["metric"] == name].set_index("instance_id")["value"]
        if cur.empty:
            checks.append(MetricCheck(name, base["higher_is_better"], base["mean"], math.nan, math.nan, math.nan,
                                      math.nan, 0, "none", str(per.get(name, default)), "missing",
                                      "the run has no scores for this metric"))
            continue
        checks.append(compare_metric(name, base, cur, per.get(name, default), seed=seed))
    new = sorted(set(per_instance["metric"]) - set(baseline.get("metrics") or {}))
    dirs = directions(run, new)
    for name in new:
        vals = per_instance[per_instance["metric"] == name]["value"]
        checks.append(MetricCheck(name, dirs[name], math.nan, float(vals.mean()), math.nan,
                                  math.nan, math.nan, int(vals.size), "none", "", "new", "not in the baseline"))
    checks.extend(_set_checks(run, baseline.get("set_metrics") or {}, per))
    return CheckResult(run.identity_record(), base_run, checks, notes)


def _set_checks(run: RunInfo, base_sets: dict, per: dict[str, Tolerance]) -> list[MetricCheck]:
    current = {r["metric"]: r for r in set_metrics(run)}
    out = []
    for name, base in sorted(base_sets.items()):
        hib = bool(base.get("higher_is_better", False))
        b = base.get("value")
        b = math.nan if b is None else float(b)
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
