"""Score files and ``results.json`` (schema ``ibench.results/1``, docs/results-schema.json): the typed contract
between scoring and everything that reads its numbers (reports, the gate, comparisons).

- ``scores/<metric>.jsonl``: one row ``{instance_id, sample, metric, condition, value}`` per scored
  (instance, sample, condition); failed generations have no rows.
- ``scores/<metric>.json``: set-level metrics ``{metric, value, n, n_reference, reference,
  preprocessing, extractor, stable, note, higher_is_better}``.
- ``results.json`` (``Results``): per metric the mean over instances (each instance first averaged over
  its samples and conditions) with a 95% bootstrap CI over instances (``ibench.stats.mean_ci``), the
  same per condition, its coverage (``evaluators.coverage``: planned / scored / failed / missing
  instances and samples, with the reasons), set metrics, counts and the extractors' identities. A
  metric whose definition says ``params.combine: min`` (the judge's SC and PQ) first takes, per sample,
  the minimum over its conditions (``combine_conditions``); its per-condition estimates use the raw rows.

Scoring writes it with ``write_results``; every reader goes through ``load_results`` (a malformed file is
one line naming the field).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Literal, Optional

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ibench.core.jsonio import is_number, json_safe, read_json, read_jsonl, write_json_atomic, write_jsonl_atomic
from ibench.core.rundir import RunLayout
from ibench.core.yamlio import describe
from ibench.errors import IbenchError
from ibench.stats import mean_ci

from .coverage import Coverage

SCHEMA = "ibench.results/1"
RESULTS = RunLayout.RESULTS
COLUMNS = ["instance_id", "sample", "metric", "condition", "value"]
Number = Optional[float]  # null where undefined (no data; a CI with n < 2)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, populate_by_name=True)


class Estimate(_Record):
    mean: Number
    ci_low: Number
    ci_high: Number
    n: int = Field(ge=0)


class Counts(_Record):
    instances: int = Field(ge=0)
    samples: int = Field(ge=0, description="generation records (ok + failed)")
    failed: int = Field(ge=0)
    scored: int = Field(ge=0)


class ExtractorRecord(_Record):
    id: str
    preprocessing: str


class MetricResult(Estimate):
    """A per-instance metric's entry; a kind's own fields (a judge's verdict counts, recorded failures) ride
    along as extra fields (``KindOutput.details``)."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)

    n_rows: int = Field(ge=0)
    higher_is_better: bool
    description: str
    conditions: dict[str, Estimate]
    skipped: Optional[str]
    recipe: dict[str, str]
    comparable_with: list[str]
    coverage: Coverage


class SetMetricResult(BaseModel):
    """A set-level metric (FID, KID); its noise floor and estimator fields ride along as extra fields."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)

    metric: str
    value: Number
    n: int = Field(ge=0)
    higher_is_better: bool
    stable: Optional[bool] = None
    note: Optional[str] = None
    reference: Optional[str] = None


class Results(_Record):
    """``results.json`` of a scored run."""

    schema_: Literal["ibench.results/1"] = Field(SCHEMA, alias="schema")
    run_id: str
    task: str
    task_version: Optional[int]
    family: str
    model: str
    model_settings: dict[str, Any]
    scored_at: str
    ibench_version: str
    counts: Counts
    extractors: dict[str, ExtractorRecord]
    metrics: dict[str, MetricResult]
    set_metrics: dict[str, SetMetricResult]
    notes: list[str] = Field(default_factory=list)

    def as_json(self) -> dict:
        return json_safe(self.model_dump(mode="json", by_alias=True))

    def higher_is_better(self, metric: str) -> Optional[bool]:
        entry = self.metrics.get(metric) or self.set_metrics.get(metric)
        return None if entry is None else entry.higher_is_better

    def coverage(self, metric: str) -> Optional[Coverage]:
        entry = self.metrics.get(metric)
        return None if entry is None else entry.coverage


def estimate(values: Iterable[float]) -> dict:
    e = mean_ci(list(values))
    return json_safe({"mean": e.mean, "ci_low": e.ci_low, "ci_high": e.ci_high, "n": e.n})


def combine_conditions(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``combine: min`` metrics reduced to one row per sample (condition ``min``); others as they are."""
    from ibench.core.metrics import METRICS

    mins = [m for m in df["metric"].unique() if m in METRICS and METRICS[m].params.get("combine") == "min"]
    if not len(df) or not mins:
        return df
    part = df["metric"].isin(mins)
    reduced = df[part].groupby(["instance_id", "sample", "metric"], as_index=False, sort=True)["value"].min()
    reduced["condition"] = "min"
    return pd.concat([df[~part], reduced[COLUMNS]], ignore_index=True)


def summarize(rows: list[dict]) -> tuple[dict, dict]:
    """(overall estimate, per-condition estimates): instance means first, then CI over instances."""
    if not rows:
        return estimate([]), {}
    df = pd.DataFrame(rows, columns=COLUMNS)
    overall = estimate(combine_conditions(df).groupby("instance_id")["value"].mean().to_numpy())
    by_cond = {str(cond): estimate(g.groupby("instance_id")["value"].mean().to_numpy())
               for cond, g in df.groupby("condition", sort=True)}
    return overall, by_cond


def write_rows(scores_dir: Path, metric: str, rows: list[dict]) -> None:
    """Replace ``scores/<metric>.jsonl`` atomically (a re-score rewrites the whole file)."""
    scores_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(scores_dir / f"{metric}.jsonl", rows)


def write_set(scores_dir: Path, metric: str, record: dict) -> None:
    scores_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(scores_dir / f"{metric}.json", record)


def _row_problem(row: dict) -> str | None:
    """What is wrong with a score row, or None."""
    lacking = [c for c in COLUMNS if c not in row]
    if lacking:
        return f"no {lacking[0]!r}"
    for key in ("instance_id", "metric", "condition"):
        if not isinstance(row[key], str):
            return f"{key!r} is not a string"
    if not is_number(row["sample"], integer=True):
        return f"'sample' {row['sample']!r} is not a whole number"
    if not is_number(row["value"]):
        return f"'value' {row['value']!r} is not a finite number"
    return None


def load_scores(run_dir: str | Path, combine: bool = True) -> pd.DataFrame:
    """All per-instance score rows of a run (columns instance_id, sample, metric, condition, value);
    a malformed row is one line naming the file and record. ``combine``: ``combine: min`` metrics as one
    row per sample (``combine_conditions``)."""
    scores = Path(run_dir) / RunLayout.SCORES
    rows: list[dict] = []
    for path in sorted(scores.glob("*.jsonl")):
        for n, row in enumerate(read_jsonl(path), 1):
            problem = _row_problem(row)
            if problem:
                raise IbenchError(f"{path}: record {n}: {problem}; re-score the run (`ibench score {run_dir}`)")
            rows.append(row)
    df = pd.DataFrame(rows, columns=COLUMNS)
    if not len(df):
        return df
    df = df.astype({"sample": "int64", "value": "float64"})
    return combine_conditions(df) if combine else df


def parse_results(data: Any, source: str, run_dir: str | Path) -> Results:
    """A results document checked against the model; anything malformed is one line naming the field."""
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise IbenchError(f"{source}: schema {found!r} is not {SCHEMA!r}; re-score the run (`ibench score {run_dir}`)")
    try:
        return Results.model_validate(data)
    except ValidationError as exc:
        raise IbenchError(f"{source}: {describe(exc)}; re-score the run (`ibench score {run_dir}`)") from None


def load_results(run_dir: str | Path) -> Results:
    """``results.json`` of a scored run, typed: the one reader of scoring's aggregates (reports, gate, compare)."""
    path = Path(run_dir) / RESULTS
    if not path.is_file():
        raise IbenchError(f"{path} not found: score the run first (`ibench score {run_dir}`)")
    return parse_results(read_json(path, "results"), str(path), run_dir)


def write_results(run_dir: str | Path, results: Results) -> dict:
    """Write ``results.json`` atomically from the model; returns the document written."""
    doc = results.as_json()
    write_json_atomic(Path(run_dir) / RESULTS, doc)
    return doc
