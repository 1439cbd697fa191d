"""Runs as the reports see them: identity from the manifest and scores reduced to instances and items.

The unit of every bootstrap in reports, baselines and comparisons is the *instance*: a metric's
value for an instance is the mean over its samples and conditions (samples of one instance are
not independent draws of the benchmark), and CIs resample instances: the same definition as the
evaluators' ``results.json`` (``ibench.evaluators.results.summarize``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

import pandas as pd

from ibench.core.labels import LabelKey, labels, own_label
from ibench.core.manifest import Manifest
from ibench.core.paths import DataRoot
from ibench.core.rundir import RunLayout, RunStore
from ibench.errors import IbenchError
from ibench.evaluators.coverage import Coverage
from ibench.evaluators.results import COLUMNS as SCORE_COLUMNS
from ibench.evaluators.results import Results, load_results, load_scores


@dataclass
class RunInfo:
    """One run as reports and the gate see it: its manifest (identity, provenance, scaling point), where it
    lives, how outputs name its model, and its results.json (typed, read once)."""

    path: Path
    manifest: Manifest
    label: str = ""  # how every output names the model: set by ``label_runs`` (ibench.core.labels)
    _results: Optional[Results] = field(default=None, repr=False)

    run_id = property(lambda self: self.manifest.run_id)
    task = property(lambda self: self.manifest.identity.task)
    task_version = property(lambda self: self.manifest.identity.task_version)
    family = property(lambda self: self.manifest.family)
    model = property(lambda self: self.manifest.identity.model)
    model_settings = property(lambda self: dict(self.manifest.identity.model_settings))
    seed = property(lambda self: self.manifest.identity.seed)
    data = property(lambda self: self.manifest.identity.data)
    data_root = property(lambda self: self.manifest.data_root)
    derived_dir = property(lambda self: self.manifest.derived_dir)

    def label_key(self) -> LabelKey:
        return LabelKey.of(self.manifest)

    def identity_record(self) -> dict:
        return {"run_id": self.run_id, "task": self.task, "task_version": self.task_version,
                "family": self.family, "model": self.model, "model_settings": self.model_settings,
                "label": self.label, "seed": self.seed, "data": self.data,
                "spec_hash": self.manifest.identity.spec_hash}

    @property
    def results(self) -> Optional[Results]:
        """The run's results.json (``load_results``), or None when it was never scored."""
        if self._results is None and (self.path / RunLayout.RESULTS).is_file():
            self._results = load_results(self.path)
        return self._results


def open_run(path: str | Path) -> RunInfo:
    """Read a run directory's manifest; a missing or foreign directory is a user error."""
    path = Path(path)
    if not path.is_dir():
        raise IbenchError(f"run {path} does not exist")
    manifest = RunStore(path).manifest()
    return RunInfo(path=path, manifest=manifest, label=own_label(LabelKey.of(manifest)))


def discover_runs(paths: Iterable[str | Path]) -> list[RunInfo]:
    """Run directories named directly, or every run directly inside a named folder (e.g. ``runs/``)."""
    runs: list[RunInfo] = []
    for p in map(Path, paths):
        if (p / RunLayout.MANIFEST).is_file() or not p.is_dir():
            runs.append(open_run(p))
            continue
        found = sorted(c for c in p.iterdir() if (c / RunLayout.MANIFEST).is_file())
        if not found:
            raise IbenchError(f"{p} is neither a run nor a folder of runs (no manifest.json)")
        runs.extend(open_run(c) for c in found)
    seen: dict[str, Path] = {}
    for r in runs:
        if r.run_id in seen and seen[r.run_id].resolve() != r.path.resolve():
            raise IbenchError(f"run id {r.run_id} appears twice ({seen[r.run_id]} and {r.path})")
        seen[r.run_id] = r.path
    return label_runs(list({r.run_id: r for r in runs}.values()))


def label_runs(runs: list[RunInfo]) -> list[RunInfo]:
    """Name each run's model by the one labelling rule (``ibench.core.labels``) over these runs."""
    named = labels(r.label_key() for r in runs)
    for r in runs:
        r.label = named[r.run_id]
    return runs


def data_root_of(run: RunInfo, data_dir: Optional[Path] = None) -> Optional[DataRoot]:
    """Where a run's references are: ``data_dir`` when given, else the run's own root (None if gone)."""
    if data_dir is not None:
        return DataRoot(data_dir) if Path(data_dir).is_dir() else None
    if not run.data_root or not Path(run.data_root).is_dir():
        return None
    return DataRoot(run.data_root, derived_dir=run.derived_dir)


def scores(run: RunInfo, empty: bool = False) -> pd.DataFrame:
    """Per-instance score rows of a run (the evaluators' loader); a run never scored is a user error.

    A scored run can have no rows (every generation failed): that is a result (nothing to show, every
    baseline metric missing), not a user error, so it gives an empty table (``empty``: a run scored
    otherwise, e.g. a benchmark pack's ``pack.json``)."""
    df = load_scores(run.path)
    if len(df) == 0:
        if empty or (run.path / RunLayout.RESULTS).is_file():
            return pd.DataFrame({c: pd.Series(dtype="float64" if c == "value" else "int64" if c == "sample"
                                              else "object") for c in SCORE_COLUMNS})
        raise IbenchError(f"run {run.path} has no scores: run `ibench score {run.path}` first")
    return df[SCORE_COLUMNS]


def coverage(run: RunInfo, metric: str) -> Optional[Coverage]:
    """A metric's coverage in a run (results.json), or None when the run has no entry for it."""
    return run.results.coverage(metric) if run.results is not None else None


def item_values(df: pd.DataFrame) -> pd.DataFrame:
    """Per (instance, sample, metric): the mean over conditions. NaN values are ignored."""
    out = df.groupby(["instance_id", "sample", "metric"], as_index=False, sort=True)["value"].mean()
    return out.dropna(subset=["value"])


def instance_values(df: pd.DataFrame) -> pd.DataFrame:
    """Per (instance, metric): the mean over all its rows (samples x conditions), as results.json does."""
    out = df.dropna(subset=["value"]).groupby(["instance_id", "metric"], as_index=False, sort=True)["value"].mean()
    return out


def directions(run: RunInfo, metrics: Iterable[str]) -> dict[str, bool]:
    """``higher_is_better`` per metric: from results.json, else from the metric registry."""
    out: dict[str, bool] = {}
    for m in metrics:
        recorded = run.results.higher_is_better(m) if run.results is not None else None
        out[m] = metric_direction(m) if recorded is None else recorded
    return out


def metric_direction(name: str) -> bool:
    """``higher_is_better`` of a registered metric (an unknown metric is a user error)."""
    from ibench.core.metrics import get_metric

    return bool(get_metric(name).higher_is_better)


def set_metrics(run: RunInfo) -> list[dict]:
    """Set-level metrics (FID, KID) of a run's results.json: metric, value, n, higher_is_better, stable, note,
    and where recorded the noise floor (value, sd, n), distinct images and KID's Monte-Carlo error."""
    rows = []
    for name, entry in sorted((run.results.set_metrics if run.results is not None else {}).items()):
        rec = entry.model_dump()
        floor = rec.get("noise_floor") if isinstance(rec.get("noise_floor"), dict) else {}
        rows.append({"metric": name, "value": _num(rec.get("value")), "n": int(rec.get("n") or 0),
                     "higher_is_better": entry.higher_is_better, "stable": rec.get("stable"), "note": rec.get("note"),
                     "n_distinct": rec.get("n_distinct"), "floor": _num(floor.get("value")),
                     "floor_sd": _num(floor.get("sd")), "floor_n": floor.get("n"), "mc_se": _num(rec.get("mc_se")),
                     "reference": rec.get("reference")})
    return rows


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan
