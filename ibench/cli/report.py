"""``ibench report``, ``ibench baseline``, ``ibench check`` and ``ibench compare``.

Exit codes: 0 ok; 1 ``check`` found a regression (or a baseline metric the run lacks); 2 a user error
(missing run, bad baseline file, unknown metric, bad option), printed as one ``error:`` line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

RunsArg = typer.Argument(..., help="Run directories, or folders holding run directories.")


def report(runs: list[Path] = RunsArg,
           out: Path = typer.Option(..., "--out", "-o", help="Report folder, e.g. reports/NAME/."),
           study_db: Optional[str] = typer.Option(None, "--study", help="Rating database (file or SQLAlchemy URL)."),
           study: Optional[str] = typer.Option(None, "--study-name", help="One study in the database (default: all)."),
           title: Optional[str] = typer.Option(None, "--title", help="Report title (default: the tasks)."),
           grid: int = typer.Option(4, "--grid", min=0, help="Instances per task in the image grid (0: none)."),
           data_dir: Optional[Path] = typer.Option(None, "--data-dir", "-d",
                                                   help="Data root for reference thumbnails (default: each run's)."),
           seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
           table4_o: str = typer.Option("per-image", "--table4-o",
                                        help="Which O Table 4 shows: per-image (ImagenHub: sqrt(SC*PQ) per image, "
                                             "averaged) or of-means (sqrt(mean SC * mean PQ)).")) -> None:
    """Write report.md, a self-contained index.html, results.json and CSV/parquet tables."""
    from ibench.report import build_report, write_report

    built = build_report(runs, study_db=study_db, study=study, title=title, grid_instances=grid, data_dir=data_dir,
                         seed=seed, table4_o=table4_o)
    written = write_report(built, out)
    typer.echo(f"wrote {out / 'index.html'}, {out / 'report.md'}, {out / 'results.json'} "
               f"and {sum(n.endswith('.csv') for n in written)} tables under {out / 'tables'}")


def baseline(run: Path = typer.Argument(..., help="A scored run directory."),
             out: Path = typer.Option(..., "--out", "-o", help="Baseline JSON file to write.")) -> None:
    """Write a baseline of a run: per metric mean, CI and per-instance means, and the run's identity."""
    from ibench.report.gate import make_baseline, write_baseline
    from ibench.report.runs import open_run

    data = make_baseline(open_run(run))
    write_baseline(data, out)
    typer.echo(f"wrote {out}: {len(data['metrics'])} metrics, {len(data['set_metrics'])} set metrics "
               f"of run {data['run']['run_id']}")


def check(run: Path = typer.Argument(..., help="A scored run directory."),
          baseline_file: Path = typer.Option(..., "--baseline", "-b", help="Baseline JSON (from `ibench baseline`)."),
          tolerance: Optional[list[str]] = typer.Option(
              None, "--tolerance", "-t",
              help="Allowed worsening: 1se (standard errors of the baseline mean; the default), 0.01 (absolute), "
                   "2% (of the baseline mean), or per metric dino=2se / clip_t=0.02 / fid=5% / missing_instances=2 "
                   "(repeatable)."),
          alpha: float = typer.Option(0.05, "--alpha",
                                      help="Family-wise false-alarm level: Holm–Bonferroni over the gated metrics."),
          junit: Optional[Path] = typer.Option(None, "--junit", help="Write JUnit XML here."),
          summary: Optional[Path] = typer.Option(None, "--summary", help="Also write the markdown summary here "
                                                 "(e.g. $GITHUB_STEP_SUMMARY)."),
          seed: int = typer.Option(0, "--seed", help="Bootstrap seed.")) -> None:
    """Exit 1 when a metric (or the failure rate) regresses beyond its tolerance and beyond noise (Holm-adjusted);
    exit 2 for an unpaired comparison. Prints a markdown summary."""
    from ibench.report.gate import check_run, load_baseline
    from ibench.report.gate_output import markdown_summary, write_junit
    from ibench.report.runs import open_run

    base = load_baseline(baseline_file)
    result = check_run(open_run(run), base, tolerance or [], seed=seed, alpha=alpha)
    text = markdown_summary(result)
    typer.echo(text)
    if summary is not None:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(text)
    if junit is not None:
        write_junit(result, junit)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def compare(run_a: Path = typer.Argument(..., help="A: a run or a folder of runs."),
            run_b: Path = typer.Argument(..., help="B: a run or a folder of runs."),
            csv: Optional[Path] = typer.Option(None, "--csv", help="Also write the table as CSV."),
            seed: int = typer.Option(0, "--seed", help="Bootstrap seed.")) -> None:
    """Per task and metric: B − A with a paired 95% bootstrap CI over matched instances."""
    from ibench.report.compare import compare_markdown, compare_runs

    df = compare_runs([run_a], [run_b], seed=seed)
    typer.echo(compare_markdown(df))
    if csv is not None:
        df.to_csv(csv, index=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("baseline")(baseline)
    app.command("check")(check)
    app.command("compare")(compare)
