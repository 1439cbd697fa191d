"""Baselines for the regression gate (``ibench baseline``; schema ``ibench.baseline/2``, docs/baseline-schema.json).

A baseline holds the run's identity, the instances it generated, per instance the share of its
samples that failed, per metric the mean, CI and per-instance means (for pairing), and the
set-level metrics. ``/2`` added ``instances`` and ``failures`` (so failed generations and missing
instances are gated); ``/1`` files are still read, with those two checks skipped and a note.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import pandas as pd

from ibench import __version__
from ibench.core.jsonio import is_number, json_safe, read_json, write_json_atomic
from ibench.core.rundir import RunStore
from ibench.errors import IbenchError
from ibench.stats import mean_ci

from .runs import RunInfo, directions, instance_values, scores, set_metrics

BASELINE_SCHEMA = "ibench.baseline/2"
READABLE_SCHEMAS = ("ibench.baseline/1", BASELINE_SCHEMA)


def failure_shares(run: RunInfo) -> dict[str, float]:
    """Per instance the run generated (at least one record): the share of its samples that failed."""
    by: dict[str, list[bool]] = {}
    for g in RunStore(run.path).generations():
        by.setdefault(g.instance_id, []).append(not g.ok)
    return {iid: sum(failed) / len(failed) for iid, failed in sorted(by.items())}


def make_baseline(run: RunInfo, per_instance: Optional[pd.DataFrame] = None) -> dict:
    """A baseline of a scored run: identity, instances, failures, per metric mean + CI + per-instance means."""
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
    shares = failure_shares(run)
    est = mean_ci(list(shares.values()))
    sets = {r["metric"]: json_safe({k: v for k, v in r.items() if k != "metric"}) for r in set_metrics(run)}
    return {"schema": BASELINE_SCHEMA, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "ibench_version": __version__, "run": run.identity_record(), "unit": "instance",
            "instances": sorted(shares), "failures": {**json_safe(est.as_dict()), "per_instance": shares},
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
    if not isinstance(data, dict) or data.get("schema") not in READABLE_SCHEMAS:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise IbenchError(f"baseline {path}: schema is {found!r}, expected {BASELINE_SCHEMA!r}")
    if not isinstance(data.get("run"), dict) or "task" not in data["run"]:
        raise IbenchError(f"baseline {path}: `run.task` is missing")
    problem = _baseline_problem(data)
    if problem:
        raise IbenchError(f"baseline {path}: {problem}")
    if data["schema"] == BASELINE_SCHEMA and (not isinstance(data.get("instances"), list)
                                              or not isinstance((data.get("failures") or {}).get("per_instance"), dict)):
        raise IbenchError(f"baseline {path}: `instances` and `failures.per_instance` are required in {BASELINE_SCHEMA}")
    return data


def _baseline_problem(data: dict) -> Optional[str]:
    """The first malformed field of a baseline (wrong shape, NaN, wrong type), or None."""
    for part in ("metrics", "set_metrics"):
        if not isinstance(data.get(part) or {}, dict):
            return f"{part} must be a mapping of metric -> record, not {type(data[part]).__name__}"
    for name, rec in (data.get("metrics") or {}).items():
        if not isinstance(rec, dict):
            return f"metrics.{name} must be a record (mean, higher_is_better, per_instance)"
        if not is_number(rec.get("mean")):
            return f"metrics.{name}.mean is {rec.get('mean')!r}, not a finite number"
        if not isinstance(rec.get("higher_is_better"), bool):
            return f"metrics.{name}.higher_is_better is {rec.get('higher_is_better')!r}, not true or false"
        if not isinstance(rec.get("per_instance"), dict):
            return f"metrics.{name}.per_instance must be a mapping of instance id -> value"
        bad = next((k for k, v in rec["per_instance"].items() if not is_number(v)), None)
        if bad is not None:
            return f"metrics.{name}.per_instance.{bad} is {rec['per_instance'][bad]!r}, not a finite number"
    for name, rec in (data.get("set_metrics") or {}).items():
        if not isinstance(rec, dict) or not (rec.get("value") is None or is_number(rec.get("value"))):
            return f"set_metrics.{name} needs a finite value (or null)"
    return None


def baseline_instances(baseline: dict) -> set[str]:
    """The instances the baseline run generated (``/1``: those with a metric value)."""
    if isinstance(baseline.get("instances"), list):
        return set(map(str, baseline["instances"]))
    return {iid for rec in (baseline.get("metrics") or {}).values() for iid in rec["per_instance"]}
