"""The regression gate's outputs, then baseline, check and compare on real scored runs: an identical rerun
passes; a planted regression, failed generations and missing instances fail (coverage); an unpaired
comparison is refused. The rule itself on hand-made values: tests/test_gate_rule.py; lost scores and judge
failures end to end, malformed baselines: tests/test_coverage.py."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
from report_fixtures import cli_main, raw_scores, report_inputs, score  # noqa: F401 (fixture)

from ibench.gate.check import CheckResult
from ibench.gate.output import junit_xml, markdown_summary
from ibench.gate.rule import MetricCheck


def _result() -> CheckResult:
    checks = [MetricCheck("clip_t", True, 0.3, 0.25, -0.05, -0.06, -0.04, 10, "paired", "1%", "regression", "worse"),
              MetricCheck("dino", True, 0.5, 0.5, 0.0, 0.0, 0.0, 10, "paired", "1%", "pass"),
              MetricCheck("fid", False, 10.0, 11.0, 1.0, float("nan"), float("nan"), 6, "set", "", "not-gated", "x")]
    run = {"run_id": "r1", "task": "style_subject", "model": "tiny", "label": "tiny"}
    return CheckResult(run, {"run_id": "r0", "task": "style_subject"}, checks, ["model differs"])


def test_junit_xml_has_a_failing_testcase_per_regression():
    root = ET.fromstring(junit_xml(_result()))
    suite = root.find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "1" and suite.get("skipped") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["clip_t"].find("failure") is not None and cases["dino"].find("failure") is None
    assert cases["fid"].find("skipped") is not None
    assert "-0.05" in cases["clip_t"].find("failure").text


def test_markdown_summary_states_the_verdict():
    text = markdown_summary(_result())
    assert "**FAIL**" in text and "clip_t" in text.split("**FAIL**")[1].splitlines()[0]
    row = next(line for line in text.splitlines() if line.startswith("| clip_t"))
    assert "-0.0500 [-0.0600, -0.0400]" in row and "REGRESSION" in row
    assert "model differs" in text


# -- on real scored runs: baseline, check (pass on an identical rerun, fail on a planted regression), compare --
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_run(report_inputs) -> Path:
    return next(r for r in report_inputs.runs if "-tiny-" in r.name)


@pytest.fixture(scope="module")
def baseline_file(tiny_run, tmp_path_factory) -> Path:
    from ibench.gate.baseline import make_baseline, write_baseline
    from ibench.report.runs import open_run

    path = tmp_path_factory.mktemp("baseline") / "tiny.json"
    write_baseline(make_baseline(open_run(tiny_run)), path)
    return path


def test_baseline_validates_and_holds_per_instance_means(tiny_run, baseline_file, tmp_path, capsys):
    data = json.loads(baseline_file.read_text())
    jsonschema.validate(data, json.loads((ROOT / "docs" / "baseline-schema.json").read_text()))
    per_instance = raw_scores(tiny_run).groupby(["metric", "instance_id"])["value"].mean()
    for (metric, iid), value in per_instance.items():
        assert data["metrics"][metric]["per_instance"][iid] == pytest.approx(value)
    assert data["run"]["run_id"] == tiny_run.name and data["run"]["model"] == "tiny"
    code, out, _ = cli_main(["baseline", tiny_run, "--out", tmp_path / "b.json"], capsys)
    assert code == 0 and json.loads((tmp_path / "b.json").read_text())["metrics"] == data["metrics"]


def test_check_passes_on_an_identical_rerun(report_inputs, baseline_file, tmp_path, capsys):
    """Generate the same run again from scratch (another folder) and score it: the check passes."""
    from ibench.models import get_model
    from ibench.core.paths import DataRoot
    from ibench.core.registry import get_task
    from ibench.run import GenerateOptions, generate

    with pytest.MonkeyPatch.context() as mp:  # the session's cache: the tiny model is not rebuilt
        mp.setenv("IBENCH_CACHE_DIR", str(report_inputs.tmp / "cache"))
        store, counts = generate(get_task("style_subject"), get_model("tiny"),
                                 DataRoot(report_inputs.data, derived_dir=tmp_path / "derived"), GenerateOptions(out=tmp_path / "runs",
                                 limit=3, samples=2, progress=False))
    rerun = store.path
    assert counts["generated"] == 6 and rerun.name in {r.name for r in report_inputs.runs}  # same identity, new dir
    score(rerun, report_inputs.extractors, report_inputs.data, tmp_path)
    junit = tmp_path / "junit.xml"
    code, out, err = cli_main(["check", rerun, "--baseline", baseline_file, "--tolerance", "0", "--junit", junit],
                              capsys)
    assert code == 0, out + err
    assert "**PASS**" in out and "REGRESSION" not in out
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("failures") == "0" and int(suite.get("tests")) == 5  # a testcase per metric


def _planted(run: Path, dest: Path, metric: str, shift: float) -> Path:
    copy = dest / run.name
    shutil.copytree(run, copy)
    path = copy / "scores" / f"{metric}.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps({**r, "value": r["value"] + shift}) + "\n" for r in rows))
    return copy


def test_check_fails_on_a_planted_regression(tiny_run, baseline_file, tmp_path, capsys):
    bad = _planted(tiny_run, tmp_path, "dino", -0.05)
    junit, summary = tmp_path / "junit.xml", tmp_path / "summary.md"
    code, out, _ = cli_main(["check", bad, "--baseline", baseline_file, "--junit", junit, "--summary", summary],
                            capsys)
    assert code == 1
    assert "**FAIL**" in out and "dino" in out.split("**FAIL**")[1].splitlines()[0]
    row = next(line for line in out.splitlines() if line.startswith("| dino"))
    assert "REGRESSION" in row and "paired (n=3)" in row and "-0.0500 [-0.0500, -0.0500]" in row
    assert summary.read_text() == out.rstrip("\n") + "\n"
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert cases["dino"].find("failure") is not None
    assert all(cases[m].find("failure") is None for m in cases if m != "dino")
    # the same drop inside a generous tolerance passes; an improvement never fails
    assert cli_main(["check", bad, "--baseline", baseline_file, "--tolerance", "dino=0.06"], capsys)[0] == 0
    good = _planted(tiny_run, tmp_path / "up", "clip_t", +0.05)
    code, out, _ = cli_main(["check", good, "--baseline", baseline_file], capsys)
    assert code == 0 and "improved" in out


def test_missing_metric_and_set_metric_gating(tiny_run, baseline_file, tmp_path, capsys):
    copy = tmp_path / tiny_run.name
    shutil.copytree(tiny_run, copy)
    (copy / "scores" / "clip_i.jsonl").unlink()
    code, out, _ = cli_main(["check", copy, "--baseline", baseline_file], capsys)
    assert code == 1 and "MISSING" in next(line for line in out.splitlines() if line.startswith("| clip_i"))
    # set metrics: gated only when a tolerance names them
    base = json.loads(baseline_file.read_text())
    base["set_metrics"] = {"fid": {"value": 10.0, "n": 6, "higher_is_better": False}}
    (tmp_path / "b.json").write_text(json.dumps(base))
    results = json.loads((tiny_run / "results.json").read_text())
    results["set_metrics"] = {"fid": {"metric": "fid", "value": 14.0, "n": 6, "higher_is_better": False}}
    run2 = tmp_path / "r2" / tiny_run.name
    shutil.copytree(tiny_run, run2)
    (run2 / "results.json").write_text(json.dumps(results))
    code, out, _ = cli_main(["check", run2, "--baseline", tmp_path / "b.json"], capsys)
    assert code == 0 and "not gated" in out
    assert cli_main(["check", run2, "--baseline", tmp_path / "b.json", "--tolerance", "fid=5"], capsys)[0] == 0
    code, out, _ = cli_main(["check", run2, "--baseline", tmp_path / "b.json", "--tolerance", "fid=3"], capsys)
    assert code == 1 and "REGRESSION" in next(line for line in out.splitlines() if line.startswith("| fid"))


def test_a_run_where_every_generation_failed_regresses_rather_than_erroring(report_inputs, tiny_run,
                                                                             baseline_file, tmp_path, capsys):
    """Scored, but no image: `check` fails (exit 1, every metric MISSING, a gated FID without a value too),
    `report` and `compare` still work, `baseline` refuses; was exit 2 "run `ibench score` first"."""
    from ibench.core.rundir import RunLayout

    GENERATIONS = RunLayout.GENERATIONS

    failed = tmp_path / tiny_run.name
    shutil.copytree(tiny_run, failed)
    shutil.rmtree(failed / "scores")
    gens = [json.loads(line) for line in (failed / GENERATIONS).read_text().splitlines()]
    (failed / GENERATIONS).write_text("".join(json.dumps({"instance_id": g["instance_id"], "sample": g["sample"],
                                                          "seed": g["seed"], "error": "RuntimeError: boom"}) + "\n"
                                              for g in gens))
    score(failed, report_inputs.extractors, report_inputs.data, tmp_path)
    results = json.loads((failed / "results.json").read_text())
    results["set_metrics"] = {"fid": {"metric": "fid", "value": None, "n": 0, "higher_is_better": False,
                                      "note": "needs at least 2 images"}}
    (failed / "results.json").write_text(json.dumps(results))
    base = json.loads(baseline_file.read_text())
    base["set_metrics"] = {"fid": {"value": 10.0, "n": 6, "higher_is_better": False}}
    (tmp_path / "b.json").write_text(json.dumps(base))
    code, out, err = cli_main(["check", failed, "--baseline", tmp_path / "b.json", "--tolerance", "fid=5"], capsys)
    assert code == 1, err
    rows = [line for line in out.splitlines() if line.startswith("| ") and "MISSING" in line]
    assert len(rows) == len(base["metrics"]) + 1 and any(r.startswith("| fid") for r in rows)
    code, _, err = cli_main(["baseline", failed, "--out", tmp_path / "none.json"], capsys)
    assert code == 2 and "every generation fail" in err
    code, out, _ = cli_main(["compare", failed, tiny_run], capsys)
    assert code == 0 and "No metric has scores in both" in out
    code, _, err = cli_main(["report", failed, "--out", tmp_path / "rep", "--grid", "0"], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert doc["metrics"] == [] and doc["runs"][0]["n_images"] == 0


def test_user_errors_exit_2(tiny_run, baseline_file, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    cases = [
        (["check", tmp_path / "nope", "--baseline", baseline_file], "does not exist"),
        (["check", tiny_run, "--baseline", tmp_path / "none.json"], "does not exist"),
        (["check", tiny_run, "--baseline", bad], "invalid JSON"),
        (["check", tiny_run, "--baseline", baseline_file, "--tolerance", "clip_z=0.1"], "clip_z"),
        (["check", tiny_run, "--baseline", baseline_file, "--tolerance", "lots"], "--tolerance"),
    ]
    bad.write_text("{not json")
    for args, message in cases:
        code, out, err = cli_main(args, capsys)
        assert code == 2 and err.startswith("error: ") and message in err and err.count("\n") == 1, (args, err)
    other = json.loads(baseline_file.read_text())
    other["run"]["task"] = "subject_gen"
    bad.write_text(json.dumps(other))
    code, _, err = cli_main(["check", tiny_run, "--baseline", bad], capsys)
    assert code == 2 and "subject_gen" in err
    bad.write_text(json.dumps({**other, "schema": "ibench.baseline/0"}))
    assert cli_main(["check", tiny_run, "--baseline", bad], capsys)[0] == 2


def test_compare_paired_deltas_equal_an_independent_bootstrap(report_inputs, capsys, tmp_path):
    from ibench.stats import paired_delta_ci

    tiny, refs = sorted(report_inputs.runs, key=lambda r: "-tiny-" not in r.name)
    code, out, _ = cli_main(["compare", tiny, refs, "--csv", tmp_path / "d.csv"], capsys)
    assert code == 0 and "### style_subject: B `references` − A `tiny`" in out
    df = pd.read_csv(tmp_path / "d.csv").set_index("metric")
    a = raw_scores(tiny).groupby(["metric", "instance_id"])["value"].mean()
    b = raw_scores(refs).groupby(["metric", "instance_id"])["value"].mean()
    for metric in df.index:
        ids = sorted(a[metric].index)
        assert sorted(b[metric].index) == ids  # same task, seed and data: the same instances
        est = paired_delta_ci(a[metric][ids].to_numpy(), b[metric][ids].to_numpy())
        row = df.loc[metric]
        assert row["pairing"] == "paired" and row["n"] == 3
        assert row["delta"] == pytest.approx(b[metric].mean() - a[metric].mean())
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((est.ci_low, est.ci_high))
        expected = ("no clear difference" if est.ci_low <= 0 <= est.ci_high
                    else "B better" if est.ci_low > 0 else "B worse")  # every metric here: higher is better
        assert row["higher_is_better"] and row["verdict"] == expected


def test_committed_ci_baseline_is_valid():
    """reports/baselines/tiny.json, which reports/ci_check.sh checks against, matches its schema and run."""
    data = json.loads((ROOT / "reports" / "baselines" / "tiny.json").read_text())
    jsonschema.validate(data, json.loads((ROOT / "docs" / "baseline-schema.json").read_text()))
    assert data["run"]["task"] == "style_subject" and data["run"]["model"] == "tiny" and data["run"]["seed"] == 0
    assert set(data["metrics"]) == {"clip_t", "dino", "clip_i", "style_clip", "style_gram"}
    assert all(m["n"] == 3 for m in data["metrics"].values())


def _rewrite_jsonl(path: Path, fn) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(r) + "\n" for r in fn(rows)))


def test_failed_generations_fail_coverage_naming_the_reason(report_inputs, tiny_run, baseline_file, tmp_path, capsys):
    """A third of the generations failed (2 of 6 samples; re-scored): every metric loses 2 samples -> exit 1."""
    from ibench.core.rundir import RunLayout

    copy = tmp_path / tiny_run.name
    shutil.copytree(tiny_run, copy)
    gens = [json.loads(line) for line in (copy / RunLayout.GENERATIONS).read_text().splitlines()]
    broken = {(g["instance_id"], g["sample"]) for g in gens[::3]}
    assert len(broken) == 2 and len(gens) == 6
    _rewrite_jsonl(copy / RunLayout.GENERATIONS, lambda rows: [
        {**r, "error": "RuntimeError: boom", "image": None, "sha256": None}
        if (r["instance_id"], r["sample"]) in broken else r for r in rows])
    score(copy, report_inputs.extractors, report_inputs.data, tmp_path)
    code, out, _ = cli_main(["check", copy, "--baseline", baseline_file], capsys)
    assert code == 1 and "lost coverage" in out
    row = next(line for line in out.splitlines() if line.startswith("| dino"))
    assert "COVERAGE" in row and "4/6 vs 6/6 (−2)" in row
    assert "generation failed 2" in out
    assert cli_main(["check", copy, "--baseline", baseline_file, "--tolerance", "coverage=2"], capsys)[0] == 0


def test_missing_instances_fail_coverage_and_a_tolerance_can_allow_them(tiny_run, baseline_file, tmp_path, capsys):
    from ibench.core.rundir import RunLayout

    copy = tmp_path / tiny_run.name
    shutil.copytree(tiny_run, copy)
    gone = json.loads((copy / RunLayout.GENERATIONS).read_text().splitlines()[0])["instance_id"]
    _rewrite_jsonl(copy / RunLayout.GENERATIONS, lambda rows: [r for r in rows if r["instance_id"] != gone])
    for rows in (copy / "scores").glob("*.jsonl"):
        _rewrite_jsonl(rows, lambda rows: [r for r in rows if r["instance_id"] != gone])
    code, out, _ = cli_main(["check", copy, "--baseline", baseline_file], capsys)
    row = next(line for line in out.splitlines() if line.startswith("| clip_t"))
    assert code == 1 and "COVERAGE" in row and "2 of the baseline's 6 samples" in out
    code, out, _ = cli_main(["check", copy, "--baseline", baseline_file, "--tolerance", "coverage=2"], capsys)
    assert code == 0, out


def test_an_unpaired_comparison_is_refused_in_one_line(tiny_run, baseline_file, tmp_path, capsys):
    """Other instance ids (another seed or data): a DINO drop would hide as 'within CI' unpaired; refused, exit 2."""
    from ibench.core.rundir import RunLayout

    copy = tmp_path / tiny_run.name
    shutil.copytree(tiny_run, copy)
    def rename(rows: list) -> list:
        return [{**r, "instance_id": "x" + r["instance_id"],
                 **({"image": r["image"].replace("images/", "images/x", 1)} if r.get("image") else {})} for r in rows]

    for folder in list((copy / "images").iterdir()):
        folder.rename(folder.with_name("x" + folder.name))
    for path in [copy / RunLayout.GENERATIONS, *(copy / "scores").glob("*.jsonl")]:
        _rewrite_jsonl(path, rename)
    _rewrite_jsonl(copy / "instances.jsonl", lambda rows: [{**r, "id": "x" + r["id"]} for r in rows])
    code, _, err = cli_main(["check", copy, "--baseline", baseline_file], capsys)
    assert code == 2 and err.count("\n") == 1 and "shares 0 of 3 instance ids" in err and "unpaired" in err


def test_older_baselines_are_still_read_with_coverage_per_instance(tiny_run, baseline_file, tmp_path, capsys):
    new = json.loads(baseline_file.read_text())
    metrics = {k: {f: v for f, v in m.items() if f not in ("coverage", "seed_noise")} for k, m in new["metrics"].items()}
    old = {**{k: v for k, v in new.items() if k not in ("instances", "samples")}, "metrics": metrics,
           "schema": "ibench.baseline/1"}
    (tmp_path / "v1.json").write_text(json.dumps(old))
    code, out, _ = cli_main(["check", tiny_run, "--baseline", tmp_path / "v1.json"], capsys)
    assert code == 0 and "records coverage per instance only" in out and "no seed noise recorded" in out
    row = next(line for line in out.splitlines() if line.startswith("| dino"))
    assert "3/3 vs 3/3" in row  # instances as the unit
    v2 = {**old, "schema": "ibench.baseline/2", "instances": new["instances"],
          "failures": {"mean": 0.0, "ci_low": 0.0, "ci_high": 0.0, "n": 3, "per_instance": dict.fromkeys(new["instances"], 0.0)}}
    (tmp_path / "v2.json").write_text(json.dumps(v2))
    assert cli_main(["check", tiny_run, "--baseline", tmp_path / "v2.json"], capsys)[0] == 0


def test_alpha_is_an_option_and_is_checked(tiny_run, baseline_file, capsys):
    code, out, _ = cli_main(["check", tiny_run, "--baseline", baseline_file, "--alpha", "0.01"], capsys)
    assert code == 0 and "is below 0.01" in out
    code, _, err = cli_main(["check", tiny_run, "--baseline", baseline_file, "--alpha", "2"], capsys)
    assert code == 2 and "--alpha" in err
