"""``ibench judge meta``: any judge against human ratings, per model, per task and overall."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .options import JudgeConfigOpt, JudgeMaxCallsOpt
from .output import FormatOpt, JsonOpt

HumanOpt = typer.Option(None, "--human", help="Human ratings FORMAT:PATH (repeatable): imagenhub:FOLDER (per-task "
                                              "rater TSVs), study:DB (an ibench rating database), mmrb2:FILE "
                                              "(MMRB2's <task>_response_only.json).")
JudgeOpt = typer.Option(None, "--judge", help="A judge [LABEL=]FORMAT:PATH (repeatable): ibench:RUNS, viescore:FOLDER, "
                                              "viescore-metrics:FOLDER, genaibench:FOLDER|FILE, mmrb2:FILE, csv:FILE, "
                                              "jsonl:FILE.")
StatisticOpt = typer.Option(None, "--statistic", help="spearman (default), kendall, pearson; accuracy_4way and "
                                                      "accuracy_both_orders for pairwise judges (repeatable).")
AverageOpt = typer.Option("fisher", "--average", help="How correlations combine across models, then tasks: fisher "
                                                      "(tanh of the mean arctanh), viescore (tanh of the mean, as "
                                                      "VIEScore's tables), mean.")
CAPTIONS = {"fisher": "tanh(mean(arctanh ρ))", "viescore": "tanh(mean ρ), VIEScore's average_correlation",
            "mean": "the plain mean"}


def meta(human: Optional[list[str]] = HumanOpt, judge: Optional[list[str]] = JudgeOpt,
         study_name: Optional[str] = typer.Option(None, "--study-name", help="One study of a study:DB (default: all)."),
         pack: Optional[str] = typer.Option(None, "--pack", help="Run ibench's judge on a fetched judge-data pack's "
                                                                 "items (viescore: ImagenHub's rated images, genaibench, "
                                                                 "mmrb2-edit) and add its row."),
         data_dir: Optional[Path] = typer.Option(None, "--data-dir", "-d", envvar="IBENCH_DATA_DIR",
                                                 help="Where `ibench data fetch --pack` put the pack."),
         judge_config: Optional[str] = JudgeConfigOpt, judge_max_calls: Optional[int] = JudgeMaxCallsOpt,
         limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, help="--pack: the first N items per task."),
         statistic: Optional[list[str]] = StatisticOpt, average: str = AverageOpt,
         resamples: int = typer.Option(1000, "--resamples", min=0, help="Bootstrap resamples (0: no intervals)."),
         seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
         csv: Optional[Path] = typer.Option(None, "--csv", help="Write every row (judge,task,model,measure,statistic,"
                                                                "value,n) as CSV."),
         fmt: Optional[str] = FormatOpt, as_json: bool = JsonOpt) -> None:
    """Judge–human agreement for any judge: correlations per model, per task and overall, the human ceiling,
    pairwise accuracies, bootstrap intervals (docs/judge.md, "Which judge to trust")."""
    from ibench.errors import IbenchError
    from ibench.meta.evaluate import MetaOptions, meta_table
    from ibench.meta.sources import HUMAN_FORMATS, JUDGE_FORMATS, Sources, Spec, read_human, read_judge

    from .output import choose_format

    out_format = choose_format(fmt, as_json)
    options = MetaOptions(tuple(statistic or ("spearman",)), average, resamples, seed)
    humans = [Spec.parse(h, HUMAN_FORMATS, "--human") for h in human or []]
    judges = [Spec.parse(j, JUDGE_FORMATS, "--judge") for j in judge or []]
    if not judges and not pack and not humans:
        raise IbenchError("give --judge [LABEL=]FORMAT:PATH (and --human FORMAT:PATH), or --pack NAME")
    sources, runs = Sources(), []
    if pack:
        from ibench.meta.pack import add_pack

        from .packs import refuse_benchmark_in_meta

        refuse_benchmark_in_meta(pack)

        add_pack(sources, pack, data_dir, judge_config, max_calls=judge_max_calls, limit=limit)
    for spec in humans:
        read_human(spec, sources, study_name)
    for spec in judges:
        found = _runs(spec.path) if spec.fmt == "ibench" else []
        runs += found
        read_judge(spec, sources, found)
    table = meta_table(sources.ratings(runs), sources.score_frame(), sources.vote_frame(), options)
    if csv is not None:
        from ibench.meta.output import write_csv

        write_csv(table, csv, average)
    _print(table, options, out_format)


def _runs(path: str) -> list:
    from ibench.meta.sources import RunRef
    from ibench.report.runs import discover_runs

    return [RunRef(r.path, r.run_id, r.task, r.label) for r in discover_runs([Path(path)])]


def _print(table, options, out_format: str) -> None:  # noqa: ANN001
    from ibench.meta.output import json_document, summary_rows

    from .output import print_json, print_rich, rich_table

    if out_format == "json":
        print_json(json_document(table, options))
        return
    headers, rows = summary_rows(table)
    caption = (f"Aggregates (model ALL: a task's models; task ALL: every task) by {options.average}: "
               f"{CAPTIONS[options.average]}; 95% bootstrap CIs ({options.resamples} resamples, seed {options.seed}, "
               f"images redrawn within each model). Per-model rows: --csv or --json.")
    if out_format == "table":
        print_rich(rich_table(None, headers, rows), caption)
    else:
        from ibench.report.format import md_table

        typer.echo(md_table(headers, rows))
        typer.echo(f"\n{caption}")
