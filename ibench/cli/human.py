"""``ibench human ...``: make a rating study, serve the rating app, print statistics, export, import."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import typer

from ibench.errors import IbenchError

from .output import JsonOpt, print_json

human_app = typer.Typer(help="Human evaluation: studies, the rating app, statistics, export/import.",
                        no_args_is_help=True)
DbOpt = typer.Option(None, "--db", envvar="IBENCH_HUMAN_DB",
                     help="SQLAlchemy URL (e.g. postgresql+psycopg://...) or SQLite file. Default: ibench-human.db.")
StudyOpt = typer.Option(None, "--study", "-s", help="Study name (default: every study / the latest one).")


def register(app: typer.Typer) -> None:
    app.add_typer(human_app, name="human")


@human_app.callback()
def _needs_human_extra() -> None:
    """Every ``ibench human`` command needs the human extra: one line naming it when it is missing."""
    from ibench.extras import require

    require("human", "ibench human")


@human_app.command("create-study")
def create_study(runs: list[Path] = typer.Argument(..., help="Run directories (one per model; same tasks)."),
                 raters_per_item: int = typer.Option(3, "--raters-per-item", min=1,
                                                     help="Distinct raters per item."),
                 raters: Optional[int] = typer.Option(None, "--raters", min=1, help="Number of raters (rater01, ...)."),
                 rater: Optional[list[str]] = typer.Option(None, "--rater", help="A rater's name (repeatable)."),
                 db: Optional[str] = DbOpt,
                 name: Optional[str] = typer.Option(None, "--name", help="Study name (default: study-<time>)."),
                 seed: int = typer.Option(0, "--seed", help="Seed of the assignment and order shuffles."),
                 kind: str = typer.Option("absolute", "--kind", help="absolute (SC and PQ per output, ImagenHub) or "
                                                                     "pairwise (two outputs side by side: which is "
                                                                     "better)."),
                 items: Optional[int] = typer.Option(None, "--items", min=1,
                                                     help="Rate a stratified subset of about N items (even over "
                                                          "tasks; every model's output of a drawn instance)."),
                 gold: Optional[Path] = typer.Option(None, "--gold", help="JSONL/YAML of outputs with known answers "
                                                                           "(see docs/human_eval.md)."),
                 practice: int = typer.Option(0, "--practice", min=0,
                                              help="Practice items first (the first gold items, with feedback)."),
                 attention: int = typer.Option(0, "--attention", min=0, help="Attention checks per rater."),
                 instructions: Optional[Path] = typer.Option(None, "--instructions",
                                                             help="Markdown shown to raters before they consent."),
                 url: Optional[str] = typer.Option(None, "--url", help="Where the app is served (e.g. "
                                                                       "http://host:8501): also print sign-in links."),
                 tokens_out: Optional[Path] = typer.Option(
                     None, "--tokens-out", help="Write the tokens to this file instead of printing.")) -> None:
    """Make items (instance x model output, or pairs) and assignments; print rater tokens and the admin token."""
    from ibench.human_eval.assignment import create_study as make

    if (raters is None) == (not rater):
        raise IbenchError("give either --raters N or --rater NAME (repeatable), not both")
    if tokens_out is not None and tokens_out.exists():
        raise IbenchError(f"--tokens-out {tokens_out} exists; tokens are written once (choose a new file)")
    text = None
    if instructions is not None:
        if not instructions.is_file():
            raise IbenchError(f"--instructions {instructions} does not exist")
        text = instructions.read_text(encoding="utf-8")
    result = make(db, runs, raters if raters is not None else rater, raters_per_item, name, seed, kind=kind,
                  items=items, gold=gold, practice=practice, attention=attention, instructions=text)
    if tokens_out is None:
        typer.echo(result.text(url), nl=False)
    else:
        tokens_out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tokens_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(result.text(url))
        typer.echo(f"study {result.study}: {result.items} items, {result.assignments} assignments; "
                   f"tokens written to {tokens_out}")


@human_app.command()
def serve(db: Optional[str] = DbOpt, port: int = typer.Option(8501, "--port", help="Port to serve on."),
          address: str = typer.Option("localhost", "--address", help="Address to bind (0.0.0.0: every interface).")
          ) -> None:
    """Serve the rating app (Streamlit) on the given port."""
    import ibench.human_eval as pkg

    from ibench.human_eval.store import db_url, get_engine

    url = db_url(db)
    get_engine(url, create=False)  # fail here, in one line, if the database is missing or cannot be opened
    app_file = Path(pkg.__file__).resolve().parent / "app.py"
    cmd = [sys.executable, "-m", "streamlit", "run", str(app_file), "--server.port", str(port),
           "--server.address", address, "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--client.toolbarMode", "minimal",
           "--", "--db", url]
    env = {**os.environ, "IBENCH_HUMAN_DB": url}
    typer.echo(f"serving {app_file} on http://{address}:{port} (database {url})", err=True)
    sys.stderr.flush()
    if os.name == "posix":  # become the server: signals (Ctrl-C, SIGTERM) reach Streamlit itself
        os.execve(sys.executable, cmd, env)
    raise typer.Exit(subprocess.call(cmd, env=env))


def _f(x: float, width: int = 6) -> str:
    return f"{'nan':>{width}}" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:{width}.3f}"


def format_summary(table) -> str:  # noqa: ANN001 - a pandas DataFrame
    """The stats table as text: one block per task, one line per model."""
    lines = ["SC, PQ, O: mean ± std over raters (per sample O = sqrt(SC*PQ), mean per rater); O(means) = "
             "sqrt(mean SC * mean PQ).",
             "kappa = Fleiss' kappa, alpha = Krippendorff's alpha (ordinal); each on SC, on PQ and on O."]
    for task, rows in table.groupby("task", sort=True):
        lines += ["", f"task {task}",
                  f"{'model':24s} {'items':>5s} {'raters':>6s}  {'SC':^13s}  {'PQ':^13s}  {'O':^13s}  "
                  f"{'O(means)':>8s}  {'kappa_SC':>8s} {'kappa_PQ':>8s} {'kappa_O':>8s}  "
                  f"{'alpha_SC':>8s} {'alpha_PQ':>8s} {'alpha_O':>8s}"]
        for r in rows.itertuples():
            lines.append(f"{r.model:24s} {r.n_items:5d} {r.n_raters:6d}  "
                         f"{_f(r.SC_mean)} ± {_f(r.SC_std, 5)}  {_f(r.PQ_mean)} ± {_f(r.PQ_std, 5)}  "
                         f"{_f(r.O_mean)} ± {_f(r.O_std, 5)}  {_f(r.O_of_means, 8)}  "
                         f"{_f(r.fleiss_kappa_SC, 8)} {_f(r.fleiss_kappa_PQ, 8)} {_f(r.fleiss_kappa_O, 8)}  "
                         f"{_f(r.kripp_alpha_SC, 8)} {_f(r.kripp_alpha_PQ, 8)} {_f(r.kripp_alpha_O, 8)}")
    return "\n".join(lines)


def format_ranking(table) -> str:  # noqa: ANN001 - a pandas DataFrame
    """Pairwise rankings as text: one block per task and question."""
    lines = ["Bradley-Terry theta per task and question (ties count half), 95% CIs resampling instances; "
             "left wins: share of decided verdicts won by the output shown on the left (0.5: no position bias)."]
    for (task, aspect), rows in table.groupby(["task", "aspect"], sort=True):
        first = rows.iloc[0]
        left = "nan" if first["first_wins"] is None or first["first_wins"] != first["first_wins"] else \
            f"{first['first_wins']:.2f}"
        lines += ["", f"task {task} · {aspect} (left wins {left} of {first['decided']} decided)",
                  f"{'rank':>4s}  {'model':24s} {'theta':>7s}  {'95% CI':^17s}  {'wins':>4s} {'losses':>6s} "
                  f"{'ties':>4s}"]
        for r in rows.itertuples():
            lines.append(f"{r.rank:4d}  {r.model:24s} {r.theta:7.3f}  [{r.ci_low:6.3f}, {r.ci_high:6.3f}]  "
                         f"{r.wins:4d} {r.losses:6d} {r.ties:4d}")
    return "\n".join(lines)


@human_app.command()
def stats(db: Optional[str] = DbOpt, study: Optional[str] = StudyOpt,
          imagenhub: Optional[Path] = typer.Option(
              None, "--imagenhub", help="A folder of ImagenHub rating TSVs (read instead of the database)."),
          csv: Optional[Path] = typer.Option(None, "--csv", help="Also write the table as CSV."),
          as_json: bool = JsonOpt) -> None:
    """Per task and model: SC, PQ, O (mean ± std over raters), Fleiss' kappa and Krippendorff's alpha;
    for pairwise studies the Bradley-Terry ranking with CIs and the position bias."""
    from ibench.human_eval.aggregate import study_summary, summary_table

    ranking = None
    if imagenhub is not None:
        from ibench.human_eval.imagenhub import read_imagenhub

        table = summary_table(read_imagenhub(imagenhub))
    else:
        from ibench.human_eval.pairwise import preferences, rankings

        table = study_summary(db, study)
        prefs = preferences(db, study)
        ranking = rankings(prefs) if prefs else None
    if table.empty and ranking is None:
        raise IbenchError("no ratings yet (skips and flags do not count)")
    if as_json:
        from ibench.report.format import records

        print_json({"summary": records(table), "pairwise": records(ranking)})
    else:
        typer.echo("\n\n".join(t for t in (format_summary(table) if not table.empty else "",
                                           format_ranking(ranking) if ranking is not None else "") if t))
    if csv is not None:
        (table if not table.empty else ranking).to_csv(csv, index=False)


@human_app.command()
def export(db: Optional[str] = DbOpt, study: Optional[str] = StudyOpt,
           out: Path = typer.Option(..., "--out", "-o", help="Folder to write into."),
           fmt: str = typer.Option("both", "--format", help="csv, imagenhub, both, or pairwise (the verdicts of a "
                                                           "pairwise study as pairwise.jsonl).")) -> None:
    """Write the ratings as CSV (every rating, skips and flags too) and/or ImagenHub TSVs, or pairwise verdicts."""
    from ibench.human_eval.export import export_study

    if fmt not in ("csv", "imagenhub", "both", "pairwise"):
        raise IbenchError(f"--format {fmt!r}: choose csv, imagenhub, both or pairwise")
    if fmt == "pairwise":
        from ibench.core.pairwise import PAIRWISE_FILE
        from ibench.human_eval.pairwise import export_preferences

        out.mkdir(parents=True, exist_ok=True)
        n = export_preferences(db, out / PAIRWISE_FILE, study)
        typer.echo(f"wrote {n} verdicts to {out / PAIRWISE_FILE}")
        return
    written = export_study(db, out, study, fmt)
    typer.echo(f"wrote {len(written)} file(s) under {out}")


@human_app.command("import-imagenhub")
def import_imagenhub(path: Path = typer.Argument(..., help="A task folder of <Task>_<rater>.tsv files, or a folder "
                                                           "of task folders."),
                     db: Optional[str] = DbOpt,
                     study: Optional[str] = typer.Option(None, "--study", "-s",
                                                         help="Existing study to import into (default: a study "
                                                              "named imagenhub:<folder>).")) -> None:
    """Import ImagenHub raw rating TSVs into the database (re-importing updates, with history)."""
    from ibench.human_eval.imagenhub import import_imagenhub as run_import

    name, n, same = run_import(db, path, study)
    typer.echo(f"imported {n} ratings into study {name!r} ({same} unchanged)")
