"""What ``ibench check`` prints and writes: a markdown summary and JUnit XML (one testcase per metric)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ibench.report.format import fmt, fmt_delta, md_table

from .check import CheckResult
from .rule import MetricCheck

STATUS_MARK = {"pass": "ok", "within-noise": "ok (within noise)", "improved": "improved",
               "regression": "**REGRESSION**", "coverage": "**COVERAGE**", "missing": "**MISSING**", "new": "new",
               "not-gated": "not gated"}
HEADERS = ["metric", "better", "baseline", "run", "Δ run − baseline [95% CI]", "tolerance", "p (adjusted)", "pairing",
           "coverage (run vs baseline)", "status"]
ALIGN = ["l", "c", "r", "r", "r", "r", "r", "l", "r", "l"]


def check_row(c: MetricCheck) -> list[str]:
    """One metric's row of the summary (markdown and the terminal table alike)."""
    return [c.metric, "↑" if c.higher_is_better else "↓", fmt(c.baseline, 4), fmt(c.current, 4),
            fmt_delta(c.delta, c.ci_low, c.ci_high, 4), tolerance_text(c), fmt(c.p_adjusted, 3), pairing_text(c),
            c.coverage_text(), STATUS_MARK[c.status]]
PROCEDURES = {"holm": "Holm–Bonferroni"}


def markdown_summary(result: CheckResult) -> str:
    """The check as markdown: verdict line, one row per metric, then notes."""
    run, base = result.run, result.baseline_run
    failed = result.failed
    verdict = (f"**FAIL**: {len(failed)} metric(s) regressed, lost coverage or missing: {failed_list(failed)}"
               if failed else f"**PASS**: no metric regressed or lost coverage ({len(result.checks)} checked)")
    lines = [f"## ibench check: `{run['run_id']}` vs baseline `{base.get('run_id', '?')}`", "", verdict, "",
             md_table(HEADERS, [check_row(c) for c in result.checks], ALIGN)]
    details = [f"- `{c.metric}`: {c.message}" for c in result.checks if c.message]
    if details:
        lines += ["", *details]
    if result.notes:
        lines += ["", "Notes (run identity, baseline):", *[f"- {n}" for n in result.notes]]
    lines += ["", f"A metric regresses when it is worse than the baseline by more than its tolerance and its one-sided "
                  f"p-value of \"not worse\" (paired t-test), adjusted over the {len(_family(result))} gated metrics by "
                  f"{PROCEDURES.get(result.procedure, result.procedure)}, is below {result.alpha:g}: an unchanged model "
                  f"fails on any metric with probability at most {result.alpha:g}. Differences are paired over matched "
                  f"instances. Coverage counts the baseline's samples with a value that the run lost (a failed "
                  f"generation, a failed judge verdict, a missing score row, an instance not generated): more than "
                  f"the coverage tolerance fails the metric."]
    return "\n".join(lines) + "\n"


def failed_list(failed: list[MetricCheck]) -> str:
    return ", ".join(f"{c.metric} (coverage)" if c.status == "coverage" else c.metric for c in failed)


def pairing_text(c: MetricCheck) -> str:
    if c.pairing == "paired":
        return f"{c.pairing} (n={c.n})"
    return c.pairing


def tolerance_text(c: MetricCheck) -> str:
    if not c.tolerance:
        return "—"
    relative = c.tolerance.endswith(("noise", "%")) and c.allowed == c.allowed
    return f"{c.tolerance} = {fmt(c.allowed, 4)}" if relative else c.tolerance


def _family(result: CheckResult) -> list[MetricCheck]:
    return [c for c in result.checks if c.p_adjusted == c.p_adjusted]  # the metrics Holm adjusted (not NaN)


def junit_xml(result: CheckResult) -> str:
    """JUnit XML: a testsuite per run, a testcase per metric; regressions and missing metrics fail."""
    run = result.run
    suites = ET.Element("testsuites", name="ibench check")
    suite = ET.SubElement(suites, "testsuite", name=f"ibench.check.{run['task']}", tests=str(len(result.checks)),
                          failures=str(len(result.failed)), errors="0",
                          skipped=str(sum(c.status in ("new", "not-gated") for c in result.checks)), time="0")
    props = ET.SubElement(suite, "properties")
    for key, value in (("run_id", run["run_id"]), ("baseline_run_id", result.baseline_run.get("run_id", "")),
                       ("model", run.get("label", run.get("model", "")))):
        ET.SubElement(props, "property", name=key, value=str(value))
    for c in result.checks:
        case = ET.SubElement(suite, "testcase", classname=f"ibench.{run['task']}.{run.get('model', '')}",
                             name=c.metric, time="0")
        text = (f"baseline {fmt(c.baseline, 4)}, run {fmt(c.current, 4)}, delta "
                f"{fmt_delta(c.delta, c.ci_low, c.ci_high, 4)}, tolerance {tolerance_text(c)}, adjusted p "
                f"{fmt(c.p_adjusted, 3)}, {c.pairing}, coverage {c.coverage_text()} {c.unit}")
        if c.failed:
            failure = ET.SubElement(case, "failure", message=f"{c.metric}: {c.status}: {c.message}",
                                    type=c.status)
            failure.text = text
        elif c.status in ("new", "not-gated"):
            ET.SubElement(case, "skipped", message=c.message)
        else:
            ET.SubElement(case, "system-out").text = text + (f"; {c.message}" if c.message else "")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"

