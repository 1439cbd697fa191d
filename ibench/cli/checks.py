"""``ibench check`` over folders (runs matched to baselines by task and model label) and the rich
tables ``check`` and ``compare`` print on a terminal."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ibench.errors import IbenchError

from .output import print_rich, rich_table

STATUS_STYLE = {"regression": "bold red", "coverage": "bold red", "missing": "bold red", "improved": "green",
                "new": "cyan", "not-gated": "dim", "within-noise": "yellow"}


def match_baselines(run_paths: list[Path], baseline: Path):
    """(pairs of run and baseline, baselines with no run, runs with no baseline).

    One run and one baseline file are paired as given; otherwise a baseline goes with the run of its
    task and model label, or with the only run of its task when the label changed."""
    from ibench.gate.baseline import load_baseline
    from ibench.report.runs import discover_runs

    runs = discover_runs(run_paths)
    if baseline.is_dir():
        files = sorted(baseline.glob("*.json"))
        if not files:
            raise IbenchError(f"--baseline {baseline}: the folder holds no baseline (*.json) file")
    else:
        files = [baseline]
    bases = [(f.name, load_baseline(f)) for f in files]
    if len(runs) == 1 and len(bases) == 1:
        return [(runs[0], bases[0][1])], [], []
    free = dict(enumerate(bases))
    paired: dict[str, dict] = {}
    for exact in (True, False):
        for run in runs:
            if run.run_id in paired:
                continue
            hits = [k for k, (_, b) in free.items() if b.run.task == run.task
                    and (not exact or (b.run.label or b.run.model) == run.label)]
            rivals = [r for r in runs if r.task == run.task and r.run_id not in paired]
            if hits and (exact or (len(hits) == 1 and len(rivals) == 1)):
                paired[run.run_id] = free.pop(hits[0])[1]
    pairs = [(r, paired[r.run_id]) for r in runs if r.run_id in paired]
    return pairs, list(free.values()), [r for r in runs if r.run_id not in paired]


def junit_many(results: list, path: Path) -> None:
    """One JUnit file, a testsuite per checked run."""
    from ibench.gate.output import junit_xml

    root = ET.Element("testsuites", name="ibench check")
    for r in results:
        root.extend(list(ET.fromstring(junit_xml(r).split("\n", 1)[1])))
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n")


def print_checks(results: list, notes: list[str]) -> None:
    """Each check as a verdict line and a rich table (what the markdown summary says, for a terminal)."""
    from rich.text import Text

    from ibench.gate.output import ALIGN, HEADERS, check_row, failed_list

    out = []
    for r in results:
        failed = r.failed
        verdict = (Text(f"FAIL: {len(failed)} metric(s) regressed, lost coverage or missing: {failed_list(failed)}",
                        style="bold red") if failed
                   else Text(f"PASS: no metric regressed or lost coverage ({len(r.checks)} checked)", style="bold green"))
        rows = [[*check_row(c)[:-1], check_row(c)[-1].replace("*", "")] for c in r.checks]
        title = f"ibench check: {r.run['run_id']} ({r.run.get('label', '')}) vs baseline {r.baseline_run.get('run_id')}"
        out += [rich_table(title, HEADERS, rows, ALIGN, [STATUS_STYLE.get(c.status) for c in r.checks]), verdict]
        out += [f"  {c.metric}: {c.message}" for c in r.checks if c.message]
        out += [f"  note: {n}" for n in r.notes] + [""]
    out += [f"- {n}" for n in notes]
    print_rich(*out)


def print_compare(df) -> None:  # noqa: ANN001 - the compare table
    from ibench.gate.compare import over_text
    from ibench.report.format import fmt, fmt_delta

    if df.empty:
        print_rich("No metric has scores in both A and B (did every generation of one side fail?).")
        return
    style = {"B better": "green", "B worse": "red"}
    out = []
    for task, g in df.groupby("task", sort=True):
        first = g.iloc[0]
        rows = [[r.metric, "↑" if r.higher_is_better else "↓", fmt(r.mean_a, 4), fmt(r.mean_b, 4),
                 fmt_delta(r.delta, r.ci_low, r.ci_high, 4), over_text(r), r.verdict]
                for r in g.itertuples()]
        out.append(rich_table(f"{task}: B {first['model_b']} − A {first['model_a']}",
                              ["metric", "better", "A", "B", "Δ B − A [95% CI]", "compared over", "verdict"], rows,
                              ["l", "c", "r", "r", "r", "l", "l"], [style.get(r.verdict) for r in g.itertuples()]))
    print_rich(*out)
