"""What the report says about its numbers: the captions of the set-level, Table 4 and correlation tables,
and the model-ranking section (``Model rankings``, after the metric–human correlation)."""

from __future__ import annotations

import pandas as pd

from .format import fmt, fmt_ci, md_table, records
from .model import Report

SET_METRICS_NOTE = ("Every generated image counts (duplicates included; `distinct` shows collapse). FID is biased at "
                    "small N: beside it is its noise floor, the FID between two disjoint halves of the reference set at "
                    "the same N (mean ± sd over splits), i.e. what two samples of one distribution score; a value is "
                    "`stable` only when it stands clear of its floor. KID is unbiased: at these sizes, read KID.")
CORRELATION_NOTE = ("Per task, over every rated image (all models pooled): the metric's value for the image against "
                    "the raters' mean rating. 95% bootstrap intervals resample instances (all images of an instance "
                    "together: they share its prompt and references).")
COVERAGE_NOTE = ("Coverage below 100 %: a mean over fewer instances than planned is not the same number (the lost ones "
                 "are often the hardest); each cell is over the instances every model of its task has.")
MODEL_CORRELATION_NOTE = ("Do the metric's and the people's rankings of models agree? Per task, across models (3 or "
                          "more): each model's mean metric and mean rating over the same rated images; 95% bootstrap "
                          "intervals resample instances.")


def floor_text(row: dict) -> str:
    """A set metric's noise floor: ``mean ± sd (N=n)``, or ``—``."""
    if row.get("floor") is None:
        return "—"
    sd = row.get("floor_sd")
    return f"{fmt(row['floor'], 4)}" + (f" ± {fmt(sd, 2)}" if sd is not None else "") + f" (N={row.get('floor_n')})"


def table4_caption(report: Report, study: str) -> str:
    """Which O the table shows, what its layout does and does not claim, how missing cells look."""
    from .human import TABLE4_O_TEXT

    other = next(o for o in TABLE4_O_TEXT if o != report.table4_o)
    return (f"{study}. SC and PQ in {{0, 0.5, 1}} (SC: the minimum over the instruction's conditions); this table's "
            f"{TABLE4_O_TEXT[report.table4_o]}. Laid out after Instruct-Imagen's Table 4 (SC, PQ, O per task, a "
            f"block per family); the paper follows ImagenHub's protocol but does not say how its table aggregates O, "
            f"so the table states its own (`--table4-o {other}` for {TABLE4_O_TEXT[other].split(',')[0]}; both are "
            f"in the detail table). — marks a task the model was not rated on.")


def average_note(block: pd.DataFrame) -> str:
    from .tables import shared_tasks

    shared = shared_tasks(block)
    if not shared:
        return "Average: none, as no task of this block was rated for every model."
    return (f"Average over the {len(shared)} task(s) every model of this block was rated on "
            f"({', '.join(shared)}), so every model is averaged over the same tasks.")


def corr_markdown(table: pd.DataFrame, count: str, shown: str) -> str:
    return md_table(["task", "metric", "human", shown, "Spearman ρ [95% CI]", "Kendall τ [95% CI]"],
                    [[r["task"], r["metric"], r["human"], r[count],
                      fmt_ci(r["spearman"], r["spearman_ci_low"], r["spearman_ci_high"], 2),
                      fmt_ci(r["kendall"], r["kendall_ci_low"], r["kendall_ci_high"], 2)] for r in records(table)])


def model_correlation_md(report: Report) -> list[str]:
    if report.model_correlations.empty:
        return []
    return [MODEL_CORRELATION_NOTE, "", corr_markdown(report.model_correlations, "n_models", "models"), ""]


def model_correlation_html(report: Report, page) -> str:  # noqa: ANN001
    if report.model_correlations.empty:
        return ""
    return page.macro("model_correlation", records(report.model_correlations), MODEL_CORRELATION_NOTE)
