"""``ibench report``, ``ibench baseline``, ``ibench check`` and ``ibench compare``.

Exit codes: 0 ok; 1 ``check`` found a regression (or a baseline metric the run lacks); 2 a user error
(missing run, bad baseline file, unknown metric, bad option), printed as one ``error:`` line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .output import FormatOpt, JsonOpt, choose_format, print_json

RunsArg = typer.Argument(..., help="Run directories, or folders holding run directories.")


def report(runs: list[Path] = RunsArg,
           out: Path = typer.Option(..., "--out", "-o", help="Report folder, e.g. reports/NAME/."),
           study_db: Optional[str] = typer.Option(None, "--study", "--db",
                                                  help="Rating database (file or SQLAlchemy URL)."),
           study: Optional[str] = typer.Option(None, "--study-name", help="One study in the database (default: all)."),
           title: Optional[str] = typer.Option(None, "--title", help="Report title (default: the tasks)."),
           grid: int = typer.Option(4, "--grid", min=0, help="Instances per task in the image grid (0: none)."),
           data_dir: Optional[Path] = typer.Option(None, "--data-dir", "-d",
                                                   help="Data root for reference thumbnails (default: each run's)."),
           seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
           pairwise: Optional[list[Path]] = typer.Option(
               None, "--pairwise", help="Pairwise preferences (pairwise.jsonl of `ibench judge pairwise` or "
                                        "`ibench human export --format pairwise`) to rank; repeatable."),
           viewer: bool = typer.Option(True, "--viewer/--no-viewer",
                                       help="Also write samples.html (every sample) and its images under media/."),
           table4_o: str = typer.Option("per-image", "--table4-o",
                                        help="Which O Table 4 shows: per-image (ImagenHub: sqrt(SC*PQ) per image, "
                                             "averaged) or of-means (sqrt(mean SC * mean PQ))."),
           meta: Optional[Path] = typer.Option(None, "--meta", help="A judge leaderboard section from the CSV (or "
                                                                    "JSON) of `ibench judge meta`.")
           ) -> None:
    """Write report.md, a self-contained index.html, the sample viewer, results.json and CSV/parquet tables.

    Runs that were never scored are left out with a warning."""
    from ibench.extras import require

    require("report", "ibench report")
    if study_db is not None:
        require("human", "ibench report --study")
        from ibench.human_eval.store import get_engine

        get_engine(study_db, create=False)  # a missing or foreign database: one line, before any work
    from ibench.report import build_report, write_report

    built = build_report(runs, study_db=study_db, study=study, title=title, grid_instances=grid, data_dir=data_dir,
                         seed=seed, pairwise=pairwise or (), viewer=viewer, table4_o=table4_o, meta=meta)
    for warning in built.warnings:
        typer.echo(f"warning: {warning}", err=True)
    written = write_report(built, out)
    viewer_note = f", {out / 'samples.html'}" if "samples.html" in written else ""
    typer.echo(f"wrote {out / 'index.html'}{viewer_note}, {out / 'report.md'}, {out / 'results.json'} "
               f"and {sum(n.endswith('.csv') for n in written)} tables under {out / 'tables'}")


def baseline(runs: list[Path] = typer.Argument(..., help="Scored run directories, or folders holding them."),
             out: Path = typer.Option(..., "--out", "-o", help="Baseline JSON file (one run), or a folder: one "
                                                                "<task>.<model>.json per run.")) -> None:
    """Write a baseline per run: per metric mean, CI and per-instance means, and the run's identity."""
    from ibench.gate.baseline import make_baseline, write_baseline
    from ibench.report.runs import discover_runs

    found = discover_runs(runs)
    folder = len(found) > 1 or out.is_dir() or out.suffix != ".json"
    for run in found:
        data = make_baseline(run)
        path = out / baseline_name(run) if folder else out
        write_baseline(data, path)
        typer.echo(f"wrote {path}: {len(data['metrics'])} metrics, {len(data['set_metrics'])} set metrics "
                   f"of run {run.run_id} ({run.label})")


def baseline_name(run) -> str:  # noqa: ANN001 - RunInfo
    """``<task>.<model label>.json``: regenerating a folder of baselines replaces each file."""
    safe = "".join(c if c.isalnum() or c in "-_=.@" else "_" for c in run.label)
    return f"{run.task}.{safe}.json"


def check(runs: list[Path] = typer.Argument(..., help="Scored run directories, or folders holding them."),
          baseline_file: Path = typer.Option(..., "--baseline", help="Baseline JSON (from `ibench baseline`), or "
                                                                     "a folder of them (matched by task and model)."),
          tolerance: Optional[list[str]] = typer.Option(
              None, "--tolerance",
              help="Allowed worsening: 1noise (the metric's seed noise recorded in the baseline; the default), "
                   "0.01 (absolute), 2% (of the baseline mean), or per metric dino=2noise / clip_t=0.02 / fid=5%; "
                   "lost coverage: coverage=N samples or coverage=2% (default 0), per metric coverage:dino=N "
                   "(repeatable)."),
          alpha: float = typer.Option(0.05, "--alpha",
                                      help="Family-wise false-alarm level: Holm–Bonferroni over the gated metrics."),
          junit: Optional[Path] = typer.Option(None, "--junit", help="Write JUnit XML here."),
          summary: Optional[Path] = typer.Option(None, "--summary", help="Also write the markdown summary here "
                                                 "(e.g. $GITHUB_STEP_SUMMARY)."),
          seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
          fmt: Optional[str] = FormatOpt, as_json: bool = JsonOpt) -> None:
    """Exit 1 when a metric regresses beyond its tolerance and beyond noise (Holm-adjusted), loses coverage
    (samples with a value in the baseline and none in the run), or a baselined run is missing; exit 2 for an
    unpaired comparison or a malformed baseline."""
    from ibench.gate.check import check_run
    from ibench.gate.output import markdown_summary

    from .checks import junit_many, match_baselines, print_checks

    shown = choose_format(fmt, as_json)
    pairs, unmatched, unbaselined = match_baselines(runs, baseline_file)
    results = [check_run(run, base, tolerance or [], seed=seed, alpha=alpha) for run, base in pairs]
    notes = [f"no run for baseline {name} (task {b.run.task}, model {b.run.label or b.run.model})"
             for name, b in unmatched] + [f"no baseline for run {r.run_id} ({r.task}, {r.label})" for r in unbaselined]
    text = "\n".join(markdown_summary(r) for r in results) + "".join(f"\n- {n}" for n in notes) + ("\n" if notes else "")
    if shown == "json":
        print_json({"passed": not any(r.failed for r in results) and not unmatched,
                    "runs": [r.as_dict() for r in results], "notes": notes})
    elif shown == "md":
        typer.echo(text)
    else:
        print_checks(results, notes)
    if summary is not None:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(text)
    if junit is not None:
        junit_many(results, junit)
    if any(r.exit_code for r in results) or unmatched:
        raise typer.Exit(1)


def compare(run_a: Path = typer.Argument(..., help="A: a run or a folder of runs."),
            run_b: Path = typer.Argument(..., help="B: a run or a folder of runs."),
            csv: Optional[Path] = typer.Option(None, "--csv", help="Also write the table as CSV."),
            seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
            fmt: Optional[str] = FormatOpt, as_json: bool = JsonOpt) -> None:
    """Per task and metric: B − A with a paired 95% bootstrap CI over the instances both have (and how many
    each side dropped)."""
    from ibench.gate.compare import compare_markdown, compare_runs
    from ibench.report.format import records

    from .checks import print_compare

    shown = choose_format(fmt, as_json)
    df = compare_runs([run_a], [run_b], seed=seed)
    if shown == "json":
        print_json(records(df))
    elif shown == "md":
        typer.echo(compare_markdown(df))
    else:
        print_compare(df)
    if csv is not None:
        df.to_csv(csv, index=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("baseline")(baseline)
    app.command("check")(check)
    app.command("compare")(compare)
