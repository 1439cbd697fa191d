"""The judge's part of a report: verdict failures per task, judge–human agreement, pairwise rankings.

``judge_tables`` builds the tables (empty when the report has nothing of the judge); ``judge_markdown`` and
``judge_html`` render them for ``report.md`` and ``index.html``; ``pairwise_tables`` is also what
``ibench judge pairwise`` prints. Pairwise rankings are Bradley–Terry fits (``ibench.ranking``) per task,
aspect and judge, so a judge's and the raters' preferences (the same ``Preference`` records) sit side by
side without being mixed.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd

from ibench.core.pairwise import Preference, read_preferences

from .format import fmt, fmt_ci, md_table, records
from .judge_agreement import MEASURES, agreement_table
from .runs import RunInfo

FAILURE_COLUMNS = ["task", "family", "model", "run_id", "metric", "judge", "questions", "ok", "failed", "pending",
                   "failure_rate", "failures", "calls", "prompt_tokens", "completion_tokens"]
BT_COLUMNS = ["task", "aspect", "judge", "model", "theta", "ci_low", "ci_high", "rank", "wins", "losses", "ties", "n"]
BIAS_COLUMNS = ["task", "aspect", "judge", "first_wins", "decided", "ties"]


def failure_table(runs: list[RunInfo]) -> pd.DataFrame:
    """Per run and judge metric: verdict counts, failure rate and reasons (from results.json)."""
    rows = []
    for run in runs:
        for metric, entry in sorted((run.results.metrics if run.results is not None else {}).items()):
            v = getattr(entry, "verdicts", None)
            if not v:
                continue
            rows.append({"task": run.task, "family": run.family, "model": run.label, "run_id": run.run_id,
                         "metric": metric, "judge": (getattr(entry, "judge", None) or {}).get("label"),
                         **{k: v.get(k) for k in ("questions", "ok", "failed", "pending", "failure_rate", "calls",
                                                  "prompt_tokens", "completion_tokens")},
                         "failures": ", ".join(f"{k}: {n}" for k, n in (v.get("failures") or {}).items())})
    return pd.DataFrame(rows, columns=FAILURE_COLUMNS)


def pairwise_tables(prefs: Sequence[Preference], seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(Bradley–Terry ranking, position bias), each per task x aspect x judge."""
    from ibench.ranking import bradley_terry, position_bias

    groups: dict[tuple[str, str, str], list[Preference]] = {}
    for p in prefs:
        groups.setdefault((p.task, p.aspect, p.judge), []).append(p)
    bt, bias = [], []
    for (task, aspect, judge), part in sorted(groups.items()):
        ranked = bradley_terry(part, seed=seed)
        ranked.insert(0, "judge", judge)
        ranked.insert(0, "aspect", aspect)
        ranked.insert(0, "task", task)
        bt.append(ranked)
        bias.append({"task": task, "aspect": aspect, "judge": judge, **position_bias(part)})
    return (pd.concat(bt, ignore_index=True)[BT_COLUMNS] if bt else pd.DataFrame(columns=BT_COLUMNS),
            pd.DataFrame(bias, columns=BIAS_COLUMNS))


def judge_tables(runs: list[RunInfo], items: pd.DataFrame, ratings: Optional[pd.DataFrame] = None,
                 pairwise: Sequence[str | Path] = (), seed: int = 0) -> dict[str, pd.DataFrame]:
    """The report's judge tables by name (only those with rows): ``judge_failures``, ``judge_agreement``,
    ``pairwise`` and ``position_bias``."""
    out = {"judge_failures": failure_table(runs)}
    if ratings is not None:
        out["judge_agreement"] = agreement_table(items[items["metric"].isin(MEASURES.values())], ratings, seed)
    prefs = [p for f in pairwise for p in read_preferences(Path(f))]
    out["pairwise"], out["position_bias"] = pairwise_tables(prefs, seed)
    return {k: v for k, v in out.items() if not v.empty}


def _ci(row: dict, name: str) -> str:
    return fmt_ci(row[name], row[f"{name}_ci_low"], row[f"{name}_ci_high"], 2)


def judge_markdown(tables: dict[str, pd.DataFrame]) -> list[str]:
    """Markdown lines of the judge tables (none when there are none)."""
    if not tables:
        return []
    lines = ["## VLM judge", ""]
    if "judge_failures" in tables:
        lines += ["### Verdicts and failures", "", "A failed verdict (unparseable after the retries, a refusal, a "
                  "content filter, a timeout) is never replaced by a number: its sample has no value.", "",
                  md_table(["task", "model", "metric", "judge", "verdicts", "failed", "rate", "reasons", "pending"],
                           [[r["task"], r["model"], r["metric"], r["judge"], r["ok"], r["failed"],
                             fmt(r["failure_rate"]), r["failures"] or "—", r["pending"]]
                            for r in records(tables["judge_failures"])]), ""]
    if "judge_agreement" in tables:
        lines += ["### Judge–human agreement", "", "Judge vs the mean human rating of each image (Spearman ρ, "
                  "Kendall τ), Krippendorff's α (interval) with the judge as one more rater and without it, and the "
                  "human ceiling: each rater vs the mean of the others. 95% bootstrap CIs over images.", "",
                  md_table(["task", "measure", "items", "raters", "ρ judge", "τ judge", "α with judge", "α humans",
                            "ρ ceiling", "τ ceiling"],
                           [[r["task"], r["measure"], r["n_items"], r["n_raters"], _ci(r, "spearman"), _ci(r, "kendall"),
                             _ci(r, "alpha_judge"), _ci(r, "alpha_humans"), _ci(r, "ceiling_spearman"),
                             _ci(r, "ceiling_kendall")] for r in records(tables["judge_agreement"])]), ""]
    if "pairwise" in tables:
        lines += ["### Pairwise ranking (Bradley–Terry)", "", "θ with 95% bootstrap CIs over instances; each pair "
                  "judged in both orders; a tie counts half a win.", "",
                  md_table(["task", "aspect", "judge", "rank", "model", "θ [CI]", "wins", "losses", "ties"],
                           [[r["task"], r["aspect"], r["judge"], r["rank"], r["model"],
                             fmt_ci(r["theta"], r["ci_low"], r["ci_high"], 2), r["wins"], r["losses"], r["ties"]]
                            for r in records(tables["pairwise"])]), "",
                  md_table(["task", "aspect", "judge", "first shown wins", "decided", "ties"],
                           [[r["task"], r["aspect"], r["judge"], fmt(r["first_wins"]), r["decided"], r["ties"]]
                            for r in records(tables["position_bias"])]), ""]
    return lines


def judge_html(tables: dict[str, pd.DataFrame]) -> str:
    """The judge section of ``index.html`` (empty when there are no judge tables)."""
    if not tables:
        return ""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["fmt"] = fmt
    env.filters["ci"] = _ci
    text = resources.files("ibench").joinpath("resources").joinpath("report_judge.html.j2").read_text(encoding="utf-8")
    return env.from_string(text).render(**{k: records(v) for k, v in tables.items()},
                                        has=set(tables))
