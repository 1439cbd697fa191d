"""Score files and ``results.json`` (schema ``ibench.results/1``, see docs/results-schema.json).

- ``scores/<metric>.jsonl``: one row ``{instance_id, sample, metric, condition, value}`` per scored
  (instance, sample, condition); failed generations have no rows.
- ``scores/<metric>.json``: set-level metrics ``{metric, value, n, n_reference, reference,
  preprocessing, extractor, stable, note, higher_is_better}``.
- ``results.json``: per metric the mean over instances (each instance first averaged over its
  samples and conditions) with a 95% bootstrap CI over instances (``ibench.stats.mean_ci``), the
  same per condition, set metrics, counts and the extractors' identities. A metric whose definition
  says ``params.combine: min`` (the judge's SC and PQ) first takes, per sample, the minimum over its
  conditions (``combine_conditions``); its per-condition estimates use the raw rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from ibench.core.jsonio import is_number, json_safe, read_json, read_jsonl, write_json_atomic, write_jsonl_atomic
from ibench.core.rundir import RunLayout
from ibench.errors import IbenchError
from ibench.stats import mean_ci

SCHEMA = "ibench.results/1"
RESULTS = RunLayout.RESULTS
COLUMNS = ["instance_id", "sample", "metric", "condition", "value"]


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


def load_results(run_dir: str | Path) -> dict:
    """``results.json`` of a scored run; one clear error if it is missing or of another schema."""
    path = Path(run_dir) / RESULTS
    if not path.is_file():
        raise IbenchError(f"{path} not found: score the run first (`ibench score {run_dir}`)")
    data: Any = read_json(path, "results")
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise IbenchError(f"{path}: schema {found!r} is not {SCHEMA!r}; re-score the run")
    for part in ("metrics", "set_metrics"):
        entries = data.get(part, {})
        bad = None if isinstance(entries, dict) else part
        for name, rec in (entries.items() if bad is None else []):
            if not isinstance(rec, dict) or not isinstance(rec.get("higher_is_better", False), bool):
                bad = f"{part}.{name}"
            elif part == "set_metrics" and not (rec.get("value") is None or is_number(rec.get("value"))):
                bad = f"{part}.{name}.value"
            elif part == "set_metrics" and not is_number(rec.get("n", 0), integer=True):
                bad = f"{part}.{name}.n"
        if bad:
            raise IbenchError(f"{path}: {bad} is malformed; re-score the run (`ibench score {run_dir}`)")
    return data
