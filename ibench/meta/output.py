"""The meta-evaluation table as files and summaries: CSV, JSON, the terminal's aggregate rows.

The CSV has the columns ``judge,task,model,measure,statistic,value,n`` after one ``#`` line naming how
aggregates were made (read it with ``pandas.read_csv(path, skiprows=1)``; not ``comment="#"``: judge labels
such as ``judge:gpt-4.1@...#1a2b3c4d`` hold a ``#``); the JSON carries the same
rows with their intervals, and the averaging, resamples and seed.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ibench.core.jsonio import replace_atomic

from .evaluate import ALL, CSV_COLUMNS, MetaOptions

AVERAGE_TEXT = {"fisher": "fisher = tanh(mean(arctanh r))", "viescore": "viescore = tanh(mean r) (VIEScore's tables)",
                "mean": "mean = the plain mean"}


def header(average: str) -> str:
    return (f"# aggregates (model ALL: over a task's models; task ALL: over tasks) by {AVERAGE_TEXT[average]}; "
            f"judge human: the human ceiling")


def write_csv(table: pd.DataFrame, path: str | Path, average: str) -> None:
    """Write the table's CSV columns, after the one ``#`` line that names the averaging (atomically)."""
    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(header(average) + "\n")
            table[CSV_COLUMNS].to_csv(f, index=False)

    replace_atomic(Path(path), write)


def json_document(table: pd.DataFrame, options: MetaOptions) -> dict:
    return {"average": options.average, "average_text": AVERAGE_TEXT[options.average],
            "statistics": list(options.statistics), "resamples": options.resamples, "seed": options.seed,
            "confidence": 0.95, "rows": table.to_dict("records")}


def _num(v: float, digits: int = 3) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def summary_rows(table: pd.DataFrame) -> tuple[list[str], list[list]]:
    """The aggregate rows (model ALL), with their intervals: what the terminal shows."""
    agg = table[table["model"] == ALL]
    rows = [[r.judge, r.task, r.measure, r.statistic, _num(r.value),
             f"[{_num(r.ci_low, 2)}, {_num(r.ci_high, 2)}]", r.n] for r in agg.itertuples()]
    return ["judge", "task", "measure", "statistic", "value", "95% CI", "n"], rows
