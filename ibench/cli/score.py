"""``ibench score RUN``: per-condition and set-level scores of a run (see docs/evaluators.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from .options import JudgeConfigOpt, JudgeMaxCallsOpt, kind_options

if TYPE_CHECKING:
    from ibench.evaluators.results import Results


def summary(results: "Results") -> list[str]:
    """One line per metric: mean [CI] and its coverage when incomplete (or the set value, or why it was skipped)."""
    lines = []
    c = results.counts
    lines.append(f"{results.run_id}: {c.scored} images scored, {c.failed} failed generations skipped")
    for name, m in results.metrics.items():
        if m.skipped:
            lines.append(f"  {name:14s} {m.skipped}")
            continue
        ci = "" if m.ci_low is None else f" [{m.ci_low:.4f}, {m.ci_high:.4f}]"
        arrow = "↑" if m.higher_is_better else "↓"
        coverage = m.coverage.text()
        lines.append(f"  {name:14s} {arrow} {m.mean:.4f}{ci}  (n={m.n} instances{'; ' + coverage if coverage else ''})")
    for name, s in results.set_metrics.items():
        value = "n/a" if s.value is None else f"{s.value:.4f}"
        flag = "" if s.stable else "  (unstable: see scores/%s.json)" % name
        arrow = "↑" if s.higher_is_better else "↓"
        lines.append(f"  {name:14s} {arrow} {value}  (n={s.n} vs {getattr(s, 'n_reference', '?')} reference){flag}")
    lines.extend(f"  note: {n}" for n in results.notes)
    lines.extend(judge_lines(results))
    return lines


def judge_lines(results: "Results") -> list[str]:
    """Verdict counts of the judge metrics (failures, budget stops), one line each."""
    lines = []
    for name, m in results.metrics.items():
        v = getattr(m, "verdicts", None)
        if not v:
            continue
        fails = ", ".join(f"{k} {n}" for k, n in v["failures"].items())
        rate = "" if v["failure_rate"] is None else f" ({v['failure_rate']:.1%})"
        lines.append(f"  {name}: {v['ok']} verdicts, {v['failed']} failed{rate}{': ' + fails if fails else ''}; "
                     f"{v['cached']} cached, {v['calls']} new calls")
        if v["pending"]:
            lines.append(f"  {name}: {v['pending']} verdicts not asked (--judge-max-calls reached): rerun to continue")
    return lines


def score(run: Path = typer.Argument(..., help="Run directory (runs/<run_id>)."),
          metrics: Optional[str] = typer.Option(None, "--metrics", help="Comma-separated metrics (default: the task's)."),
          device: str = typer.Option("auto", "--device", help="torch device for the extractors: auto (the best here: "
                                                              "CUDA, MPS, else CPU), cpu, cuda, cuda:N, mps."),
          batch_size: int = typer.Option(32, "--batch-size", "-b", min=1, help="Images per forward pass."),
          workers: int = typer.Option(2, "--workers", "-w", min=0, help="DataLoader workers that decode images."),
          extractor_config: Optional[str] = typer.Option(
              None, "--extractor-config",
              help="YAML file of extractor weights, or `tiny` for the offline tiny random extractors."),
          data_dir: Optional[Path] = typer.Option(None, "--data-dir", "-d",
                                                  help="Data root of the references (default: the run's)."),
          judge_config: Optional[str] = JudgeConfigOpt, judge_max_calls: Optional[int] = JudgeMaxCallsOpt) -> None:
    """Score a run: CLIP-T, DINO, CLIP-I, style, control fidelity, FID/KID, VLM judge; writes scores/ and results.json.

    A run of a benchmark pack (`ibench run --pack`) is judged the benchmark's own way instead: --judge-config
    anchor (its official API judge) or any judge config; each judge's table is added to the run's pack.json
    (docs/packs.md). --metrics scores it with ibench's metrics too."""
    from ibench.extras import require

    from .packs import is_pack_run, score_pack

    if metrics is None and is_pack_run(run):
        score_pack(run, judge_config, judge_max_calls)
        return

    require("eval", "ibench score")
    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.results import load_results
    from ibench.evaluators.score import score_run

    score_run(run, ScoreOptions(metrics=metrics, device=device, batch_size=batch_size, num_workers=workers,
                                extractors=extractor_config, data_root=data_dir, progress=True,
                                kinds=kind_options(judge_config, judge_max_calls)))
    for line in summary(load_results(run)):
        typer.echo(line)


def register(app: typer.Typer) -> None:
    app.command()(score)
