"""The report's "Which judge to trust" section: a leaderboard from ``ibench judge meta --csv`` (or ``--json``).

``ibench report ... --meta FILE`` reads the table and shows, per measure, each judge's figure across all
tasks (task ``ALL``) — best first, under the human ceiling — with its interval when the file has one (the
JSON does), and how the aggregates were made (the CSV's ``#`` line or the JSON's ``average``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import pandas as pd

from ibench.errors import IbenchError
from ibench.meta.evaluate import ALL, CSV_COLUMNS, leaderboard

from .format import fmt, fmt_ci, md_table, records

COLUMNS = ["measure", "statistic", "rank", "judge", "value", "ci_low", "ci_high", "n"]


def load_meta(path: str | Path) -> tuple[pd.DataFrame, str]:
    """(the table, how its aggregates were made) of a ``judge meta`` CSV or JSON file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise IbenchError(f"--meta {path}: cannot read ({exc})") from None
    if path.suffix == ".json":
        try:
            doc = json.loads(text)
            return pd.DataFrame(doc["rows"]), str(doc.get("average_text") or doc.get("average", ""))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise IbenchError(f"--meta {path}: not the JSON of `ibench judge meta --json` ({exc})") from None
    note = text.splitlines()[0].lstrip("# ").strip() if text.startswith("#") else ""
    import io

    table = pd.read_csv(io.StringIO(text), skiprows=1 if note else 0)
    missing = [c for c in CSV_COLUMNS if c not in table.columns]
    if missing:
        raise IbenchError(f"--meta {path}: no column {missing[0]!r} (expected the CSV of `ibench judge meta --csv`)")
    return table, note


def leaderboard_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per measure (and statistic): the overall figure of each judge, the ceiling first, then best first."""
    out = []
    if "ci_low" not in table:
        table = table.assign(ci_low=float("nan"), ci_high=float("nan"))
    overall = table[(table["task"] == ALL) & (table["model"] == ALL)]
    for (measure, statistic), _ in overall.groupby(["measure", "statistic"], sort=False):
        board = leaderboard(table, measure, statistic)
        board = board[board["measure"] == measure]
        board = board.assign(rank=[None if j == "human" else k for k, j in enumerate(board["judge"], 0)])
        out.append(board)
    if not out:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(out, ignore_index=True)[COLUMNS]


def _rank(row: dict) -> str:
    return "ceiling" if row["judge"] == "human" else str(int(row["rank"]))


def leaderboard_markdown(board: Optional[pd.DataFrame], note: str = "") -> list[str]:
    if board is None or board.empty:
        return []
    lines = ["## Which judge to trust", "", "Each judge's agreement with people across all tasks (`ibench judge "
             "meta`), best first; `human` is the ceiling: one rater against the others. " + note, ""]
    for (measure, statistic), part in board.groupby(["measure", "statistic"], sort=False):
        lines += [f"**{measure}, {statistic}**", "",
                  md_table(["rank", "judge", "value [95% CI]", "n"],
                           [[_rank(r), r["judge"], fmt_ci(r["value"], r["ci_low"], r["ci_high"], 3), r["n"]]
                            for r in records(part)]), ""]
    return lines


def leaderboard_html(board: Optional[pd.DataFrame], note: str = "") -> str:
    """The section as HTML (its own heading; the page keeps what is inside)."""
    import html

    if board is None or board.empty:
        return ""
    parts = ['<section id="leaderboard"><h2>Which judge to trust</h2>',
             f'<p class="note">Each judge\'s agreement with people across all tasks (<code>ibench judge meta</code>), '
             f'best first; <em>human</em> is the ceiling. {html.escape(note)}</p>']
    for (measure, statistic), part in board.groupby(["measure", "statistic"], sort=False):
        rows = "".join(f"<tr><td>{_rank(r)}</td>"
                       f"<td>{html.escape(str(r['judge']))}</td><td>{html.escape(fmt(r['value']))}</td>"
                       f"<td>{html.escape(fmt_ci(r['value'], r['ci_low'], r['ci_high'], 3))}</td><td>{r['n']}</td></tr>"
                       for r in records(part))
        parts.append(f"<h3>{html.escape(measure)}, {html.escape(statistic)}</h3><table><thead><tr><th>rank</th>"
                     f"<th>judge</th><th>value</th><th>95% CI</th><th>n</th></tr></thead><tbody>{rows}</tbody></table>")
    return "".join(parts) + "</section>"
