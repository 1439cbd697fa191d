"""How each metric in a report was computed (its recipe) and which published tables it is comparable with,
read from the runs' results.json, so nobody compares numbers computed differently."""

from __future__ import annotations

import json
from html import escape

import pandas as pd

from .format import md_table
from .runs import RunInfo

COLUMNS = ["metric", "model", "layer", "preprocessing", "formula", "comparable_with", "runs"]


def recipe_table(runs: list[RunInfo]) -> pd.DataFrame:
    """One row per distinct (metric, recipe); ``runs``: how many of the report's runs used it."""
    seen: dict[tuple[str, str, str], dict] = {}
    for run in runs:
        res = run.results
        entries = {**res.metrics, **res.set_metrics} if res is not None else {}
        for name, model in entries.items():
            entry = model.model_dump()
            if "recipe" not in entry:
                continue
            recipe, comparable = entry.get("recipe") or {}, list(entry.get("comparable_with") or [])
            key = (name, json.dumps(recipe, sort_keys=True), json.dumps(comparable))
            row = seen.setdefault(key, {"metric": name, **{k: recipe.get(k, "") for k in COLUMNS[1:5]},
                                        "comparable_with": ", ".join(comparable), "runs": 0})
            row["runs"] += 1
    df = pd.DataFrame(list(seen.values()), columns=COLUMNS)
    return df.sort_values(["metric", "runs"], ascending=[True, False]).reset_index(drop=True) if len(df) else df


def recipes_markdown(table: pd.DataFrame) -> list[str]:
    if table.empty:
        return []
    return ["## Metric recipes", "", "Comparable with: published tables computed the same way (empty: ibench's own "
            "definition). A metric listed twice was computed two ways across the runs.", "",
            md_table(["metric", "model", "layer", "preprocessing", "formula", "comparable with", "runs"],
                     [list(r.values()) for r in table.to_dict("records")]), ""]


def recipes_html(table: pd.DataFrame) -> str:
    if table.empty:
        return ""
    head = "".join(f"<th class=\"l\">{escape(c.replace('_', ' '))}</th>" for c in COLUMNS)
    body = "".join(f"<tr data-metric=\"{escape(r['metric'])}\">"
                   + "".join(f"<td class=\"l\">{escape(str(r[c]))}</td>" for c in COLUMNS) + "</tr>"
                   for r in table.to_dict("records"))
    return (f'<section id="recipes"><h2>Metric recipes</h2><p class="note">How each number was computed and the '
            f'published tables it is comparable with (empty: ibench\'s own definition).</p><div class="scroll">'
            f'<table id="recipes-table"><tr>{head}</tr>{body}</table></div></section>')
