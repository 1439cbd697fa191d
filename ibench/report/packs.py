"""The report's "Benchmark packs" section: per pack, each model's headline numbers by each judge, with CIs,
failures and coverage, beside the benchmark's published rows, and which of them are comparable.

It reads each run's ``pack.json`` (``ibench.evaluators.pack_results``): nothing else is needed. A judge's
row is *comparable* with the published rows whose judge is the same model (the prompts are always the
benchmark's pinned files); any other judge's row is shown for what it is and marked not comparable.
"""

from __future__ import annotations

import html
from typing import Optional

import pandas as pd

from ibench.evaluators.pack_results import load_pack_results

from .format import fmt, fmt_ci, md_table, records

COLUMNS = ["pack", "title", "subset", "anchor", "rank", "headline_text", "task", "run_id", "model", "judge", "judge_model",
           "official", "comparable_with", "metric", "value", "ci_low", "ci_high", "n", "failed", "failures", "pending",
           "coverage"]
PUBLISHED = ["pack", "subset", "model", "metric", "value", "judge", "source"]
NOTE = ("The benchmark's own formula on the judged samples; 95% percentile bootstrap CIs redraw samples within the "
        "groups the benchmark averages over (task type, category, language). A failed verdict (a refusal, a content "
        "filter, an unreadable reply) is counted, never scored: the benchmarks' own code would have guessed a random "
        "score or dropped the sample. *Comparable*: the judge is the model of those published rows and asks with "
        "the benchmark's pinned prompt files; other judges' numbers are not comparable with the published ones.")


def key(subset: str, metric: str) -> str:
    """A published row's headline name (``pf``; ``en/full/o``; ``text_guided_ie/o``)."""
    return metric if subset in ("all", "") else f"{subset}/{metric}"


def pack_tables(runs) -> tuple[pd.DataFrame, pd.DataFrame]:  # noqa: ANN001 - RunInfo list
    """(one row per run x judge x headline number, the published rows of the packs shown)."""
    rows, published = [], {}
    for run in runs:
        res = load_pack_results(run.path)
        if res is None:
            continue
        for r in res.published:
            published[(res.pack, r.subset, r.model, r.metric, r.judge)] = {"pack": res.pack, **r.model_dump()}
        for j in res.judges.values():
            fails = ", ".join(f"{k} {n}" for k, n in j.verdicts.failures.items())
            for name, e in j.headline.items():
                rows.append({"pack": res.pack, "title": res.title, "subset": res.subset or "", "anchor": res.anchor,
                             "rank": res.order.index(name) if name in res.order else len(res.order),
                             "headline_text": res.headline, "task": res.task, "run_id": res.run_id, "model": run.label,
                             "judge": j.label, "judge_model": j.model, "official": j.official,
                             "comparable_with": ", ".join(j.comparable_with), "metric": name, "value": e.value,
                             "ci_low": e.ci_low, "ci_high": e.ci_high, "n": e.n, "failed": j.verdicts.failed,
                             "failures": fails, "pending": j.verdicts.pending, "coverage": j.coverage.text()})
    table = pd.DataFrame(rows, columns=COLUMNS)
    pub = pd.DataFrame(list(published.values()), columns=PUBLISHED)
    return table, pub.assign(name=[key(s, m) for s, m in zip(pub["subset"], pub["metric"])])


def _blocks(table: pd.DataFrame, pub: pd.DataFrame) -> list[dict]:
    blocks = []
    for (pack, subset), part in table.groupby(["pack", "subset"], sort=True):
        ordered = list(dict.fromkeys(part.sort_values("rank", kind="stable")["metric"]))
        known = set(pub[pub["pack"] == pack]["name"])
        names = [n for n in ordered if part[part["metric"] == n]["value"].notna().any() or n in known] or ordered
        rows = []
        for (model, judge), g in part.groupby(["model", "judge"], sort=True):
            first = g.iloc[0]
            cells = {r["metric"]: fmt_ci(r["value"], r["ci_low"], r["ci_high"], 3) for r in records(g)}
            comparable = f"yes ({first['comparable_with']})" if first["comparable_with"] else "no"
            rows.append({"model": model, "judge": judge + (" (official)" if first["official"] else ""),
                         "comparable": comparable, "cells": [cells.get(n, "—") for n in names],
                         "failed": f"{first['failed']}" + (f" ({first['failures']})" if first["failures"] else ""),
                         "coverage": first["coverage"] or "complete"})
        mine = pub[(pub["pack"] == pack) & pub["name"].isin(names)]
        prows = [{"model": m, "judge": j, "cells": [fmt(g[g["name"] == n]["value"].iloc[0], 3)
                                                    if (g["name"] == n).any() else "—" for n in names],
                  "source": "; ".join(sorted(set(g["source"])))}
                 for (m, j), g in mine.groupby(["model", "judge"], sort=False)]
        title = part["title"].iloc[0] + (f" · {subset}" if subset else "")
        blocks.append({"title": title, "anchor": part["anchor"].iloc[0], "headline": part["headline_text"].iloc[0],
                       "names": names, "rows": rows, "published": prows})
    return blocks


def packs_markdown(table: Optional[pd.DataFrame], pub: Optional[pd.DataFrame]) -> list[str]:
    if table is None or table.empty:
        return []
    lines = ["## Benchmark packs", "", NOTE, ""]
    for b in _blocks(table, pub):
        lines += [f"### {b['title']}", "", f"{b['headline']} — scored as {b['anchor']} does.", "",
                  md_table(["model", "judge", "comparable", *b["names"], "failed verdicts", "coverage"],
                           [[r["model"], r["judge"], r["comparable"], *r["cells"], r["failed"], r["coverage"]]
                            for r in b["rows"]]), ""]
        if b["published"]:
            lines += ["Published rows:", "",
                      md_table(["model", "judge", *b["names"], "source"],
                               [[r["model"], r["judge"], *r["cells"], r["source"]] for r in b["published"]]), ""]
    return lines


def packs_html(table: Optional[pd.DataFrame], pub: Optional[pd.DataFrame]) -> str:
    """The section as HTML (its own heading; the page keeps what is inside)."""
    if table is None or table.empty:
        return ""
    esc = html.escape
    parts = ['<section id="packs"><h2>Benchmark packs</h2>', f'<p class="note">{esc(NOTE)}</p>']
    for b in _blocks(table, pub):
        head = "".join(f"<th>{esc(h)}</th>" for h in ["model", "judge", "comparable", *b["names"], "failed verdicts",
                                                      "coverage"])
        body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in [r["model"], r["judge"], r["comparable"],
                                                                             *r["cells"], r["failed"], r["coverage"]])
                       + "</tr>" for r in b["rows"])
        parts.append(f"<h3>{esc(b['title'])}</h3><p class=\"note\">{esc(b['headline'])} — scored as "
                     f"{esc(b['anchor'])} does.</p><table class=\"pack-table\"><thead><tr>{head}</tr></thead>"
                     f"<tbody>{body}</tbody></table>")
        if b["published"]:
            head = "".join(f"<th>{esc(h)}</th>" for h in ["model", "judge", *b["names"], "source"])
            body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in [r["model"], r["judge"], *r["cells"],
                                                                                 r["source"]]) + "</tr>"
                           for r in b["published"])
            parts.append(f"<p>Published rows:</p><table class=\"pack-published\"><thead><tr>{head}</tr></thead>"
                         f"<tbody>{body}</tbody></table>")
    return "".join(parts) + "</section>"
