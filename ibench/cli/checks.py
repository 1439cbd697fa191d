"""``ibench check`` over folders (runs matched to baselines by task and model label) and the rich
tables ``check`` and ``compare`` print on a terminal."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ibench.errors import IbenchError

from .output import print_rich, rich_table

STATUS_STYLE = {"regression": "bold red", "missing": "bold red", "improved": "green", "new": "cyan",
                "not-gated": "dim", "within-noise": "yellow"}


def match_baselines(run_paths: list[Path], baseline: Path):
    """(pairs of run and baseline, baselines with no run, runs with no baseline).

    One run and one baseline file are paired as given; otherwise a baseline goes with the run of its
    task and model label, or with the only run of its task when the label changed."""
    from ibench.report.gate import load_baseline
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
            hits = [k for k, (_, b) in free.items() if b["run"].get("task") == run.task
                    and (not exact or b["run"].get("label", b["run"].get("model")) == run.label)]
            rivals = [r for r in runs if r.task == run.task and r.run_id not in paired]
            if hits and (exact or (len(hits) == 1 and len(rivals) == 1)):
                paired[run.run_id] = free.pop(hits[0])[1]
    pairs = [(r, paired[r.run_id]) for r in runs if r.run_id in paired]
    return pairs, list(free.values()), [r for r in runs if r.run_id not in paired]


def junit_many(results: list, path: Path) -> None:
    """One JUnit file, a testsuite per checked run."""
    from ibench.report.gate_output import junit_xml

    root = ET.Element("testsuites", name="ibench check")
    for r in results:
        root.extend(list(ET.fromstring(junit_xml(r).split("\n", 1)[1])))
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n")


def print_checks(results: list, notes: list[str]) -> None:
    """Each check as a verdict line and a rich table (what the markdown summary says, for a terminal)."""
    from rich.text import Text

    from ibench.report.format import fmt, fmt_delta
    from ibench.report.gate_output import STATUS_MARK, pairing_text, tolerance_text

    out = []
    for r in results:
        failed = r.failed
        verdict = (Text(f"FAIL: {len(failed)} metric(s) regressed or missing: "
                        f"{', '.join(c.metric for c in failed)}", style="bold red") if failed
                   else Text(f"PASS: no metric regressed ({len(r.checks)} checked)", style="bold green"))
        rows = [[c.metric, "↑" if c.higher_is_better else "↓", fmt(c.baseline, 4), fmt(c.current, 4),
                 fmt_delta(c.delta, c.ci_low, c.ci_high, 4), tolerance_text(c), fmt(c.p_adjusted, 3),
                 pairing_text(c), STATUS_MARK[c.status].replace("*", "")] for c in r.checks]
        title = f"ibench check: {r.run['run_id']} ({r.run.get('label', '')}) vs baseline {r.baseline_run.get('run_id')}"
        out += [rich_table(title, ["metric", "better", "baseline", "run", "Δ run − baseline [95% CI]", "tolerance",
                                   "p (Holm)", "pairing", "status"], rows, ["l", "c", "r", "r", "r", "r", "r", "l", "l"],
                           [STATUS_STYLE.get(c.status) for c in r.checks]), verdict]
        out += [f"  {c.metric}: {c.message}" for c in r.checks if c.message]
        out += [f"  identity differs: {n}" for n in r.notes] + [""]
    out += [f"- {n}" for n in notes]
    print_rich(*out)


def print_compare(df) -> None:  # noqa: ANN001 - the compare table
    from ibench.report.format import fmt, fmt_delta

    if df.empty:
        print_rich("No metric has scores in both A and B (did every generation of one side fail?).")
        return
    style = {"B better": "green", "B worse": "red"}
    out = []
    for task, g in df.groupby("task", sort=True):
        first = g.iloc[0]
        rows = [[r.metric, "↑" if r.higher_is_better else "↓", fmt(r.mean_a, 4), fmt(r.mean_b, 4),
                 fmt_delta(r.delta, r.ci_low, r.ci_high, 4), f"{r.pairing} (n={r.n})", r.verdict]
                for r in g.itertuples()]
        out.append(rich_table(f"{task}: B {first['model_b']} − A {first['model_a']}",
                              ["metric", "better", "A", "B", "Δ B − A [95% CI]", "pairing", "verdict"], rows,
                              ["l", "c", "r", "r", "r", "l", "l"], [style.get(r.verdict) for r in g.itertuples()]))
    print_rich(*out)
