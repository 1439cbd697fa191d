"""``ibench judge pairwise``, ``ibench judge agreement`` and ``ibench judge meta`` (``.meta``); the pointwise judge
runs in ``ibench score``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .options import JudgeConfigOpt, JudgeMaxCallsOpt

judge_app = typer.Typer(help="VLM judge: pairwise rankings, judge–human agreement and meta-evaluation (docs/judge.md).",
                        no_args_is_help=True)
RunsArg = typer.Argument(..., help="Run directories, or folders holding run directories.")


@judge_app.command("pairwise")
def pairwise(runs: list[Path] = RunsArg,
             out: Path = typer.Option(..., "--out", "-o", help="Folder for pairwise.jsonl, the verdicts and the table."),
             judge_config: Optional[str] = JudgeConfigOpt, judge_max_calls: Optional[int] = JudgeMaxCallsOpt,
             aspect: str = typer.Option("sc", "--aspect", help="sc (follows the instruction), pq or overall."),
             limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, help="First N shared instances per pair."),
             seed: int = typer.Option(0, "--seed", help="Bootstrap seed.")) -> None:
    """Which of two outputs is better, for every two runs of a task, in both orders; Bradley–Terry ranking."""
    from ibench.core.jsonio import replace_atomic, write_jsonl_atomic
    from ibench.core.pairwise import PAIRWISE_FILE, write_preferences
    from ibench.evaluators.judge.pairwise import PairRun, judge_pairs
    from ibench.report.format import md_table
    from ibench.report.judge import pairwise_tables
    from ibench.report.runs import discover_runs

    found = discover_runs(runs)
    result = judge_pairs([PairRun(r.path, r.label) for r in found], judge_config, aspect=aspect,
                         max_calls=judge_max_calls, limit=limit, progress=True)
    out.mkdir(parents=True, exist_ok=True)
    replace_atomic(out / PAIRWISE_FILE, lambda tmp: write_preferences(tmp, result.preferences))
    write_jsonl_atomic(out / "pairwise_verdicts.jsonl", result.verdicts)
    ranking, bias = pairwise_tables(result.preferences, seed)
    ranking.to_csv(out / "bradley_terry.csv", index=False)
    bias.to_csv(out / "position_bias.csv", index=False)
    failed = [v for v in result.verdicts if v["status"] == "failed"]
    pending = sum(v["status"] == "pending" for v in result.verdicts)
    typer.echo(md_table(["task", "rank", "model", "theta", "ci", "wins", "losses", "ties"],
                        [[r.task, r.rank, r.model, f"{r.theta:.3f}", f"[{r.ci_low:.2f}, {r.ci_high:.2f}]", r.wins,
                          r.losses, r.ties] for r in ranking.itertuples()]))
    for r in bias.itertuples():
        share = "n/a" if r.first_wins is None else f"{r.first_wins:.1%}"
        typer.echo(f"{r.task}: the image shown first won {share} of {r.decided} decided verdicts; {r.ties} ties")
    typer.echo(f"wrote {out / PAIRWISE_FILE}: {len(result.preferences)} preferences, {len(failed)} failed verdicts, "
               f"{pending} not asked" + (" (--judge-max-calls reached: rerun to continue)" if pending else ""))


@judge_app.command("agreement")
def agreement(runs: list[Path] = RunsArg,
              study_db: str = typer.Option(..., "--study", help="Rating database (file or SQLAlchemy URL)."),
              study: Optional[str] = typer.Option(None, "--study-name", help="One study in the database (default: all)."),
              csv: Optional[Path] = typer.Option(None, "--csv", help="Also write the table as CSV."),
              resamples: int = typer.Option(1000, "--resamples", min=10, help="Bootstrap resamples."),
              seed: int = typer.Option(0, "--seed", help="Bootstrap seed.")) -> None:
    """Judge vs mean human (Spearman, Kendall), Krippendorff's α with the judge as a rater, and the human ceiling."""
    from ibench.errors import IbenchError
    from ibench.report.format import fmt_ci, md_table
    from ibench.report.human import load_human
    from ibench.report.judge_agreement import MEASURES, agreement_table
    from ibench.report.runs import discover_runs, scores
    from ibench.report.tables import item_table

    found = discover_runs(runs)
    items = item_table(found, {r.run_id: scores(r) for r in found})
    items = items[items["metric"].isin(MEASURES.values())]
    if items.empty:
        raise IbenchError("the runs have no judge scores: run `ibench score RUN --metrics judge_sc,judge_pq,judge_o "
                          "--judge-config ...` first")
    table = agreement_table(items, load_human(study_db, found, study).ratings, seed=seed, resamples=resamples)
    if table.empty:
        raise IbenchError(f"--study {study_db}: no rated image of these runs has a judge score")
    cols = ["spearman", "kendall", "alpha_judge", "alpha_humans", "ceiling_spearman", "ceiling_kendall"]
    typer.echo(md_table(["task", "measure", "items", "raters", *cols],
                        [[r["task"], r["measure"], r["n_items"], r["n_raters"],
                          *[fmt_ci(r[c], r[f"{c}_ci_low"], r[f"{c}_ci_high"], 2) for c in cols]]
                         for r in table.to_dict("records")]))
    typer.echo(f"Pooled over the image models of each task. Per image model, and averaged across models and tasks: "
               f"ibench judge meta --human study:{study_db} --judge ibench:RUNS_FOLDER")
    if csv is not None:
        table.to_csv(csv, index=False)


def register(app: typer.Typer) -> None:
    from .meta import meta

    judge_app.command("meta")(meta)
    app.add_typer(judge_app, name="judge")
