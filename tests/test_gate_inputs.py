"""Nothing vacuous: a baseline that gates nothing or holds a field of the wrong type or range, and a malformed
results.json, are each one line and exit 2 in every command that reads them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from report_fixtures import cli_main, report_inputs  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def tiny(report_inputs) -> Path:
    return next(r for r in report_inputs.runs if "-tiny-" in r.name)


@pytest.fixture(scope="module")
def good(tiny, tmp_path_factory) -> dict:
    from ibench.gate.baseline import make_baseline

    from ibench.report.runs import open_run

    return make_baseline(open_run(tiny))


def _v2(good: dict) -> dict:
    metrics = {k: {f: v for f, v in m.items() if f not in ("coverage", "seed_noise")} for k, m in good["metrics"].items()}
    ids = good["instances"]
    return {**{k: v for k, v in good.items() if k != "samples"}, "schema": "ibench.baseline/2", "metrics": metrics,
            "failures": {"mean": 0.0, "ci_low": 0.0, "ci_high": 0.0, "n": len(ids), "per_instance": dict.fromkeys(ids, 0.0)}}


def _malformed(good: dict) -> dict[str, tuple[dict | str, str]]:
    """name -> (baseline, what the error line must name)."""
    first = good["instances"][0]
    v2 = _v2(good)
    cases: dict[str, tuple[dict | str, str]] = {}
    for label, value in (("list", []), ("zero", 0), ("empty string", ""), ("false", False), ("empty", {})):
        cases[f"metrics {label}"] = ({**good, "metrics": value}, "metrics")
    cases["per_instance a string"] = (
        {**v2, "failures": {**v2["failures"], "per_instance": "lots"}}, "failures.per_instance")
    cases["failure share NaN"] = (
        {**v2, "failures": {**v2["failures"], "per_instance": {first: float("nan")}}}, "failures.per_instance")
    cases["failure share 7.5"] = (
        {**v2, "failures": {**v2["failures"], "per_instance": {first: 7.5}}}, "not a share in [0, 1]")
    dino = good["metrics"]["dino"]
    cases["metric value a string"] = (
        {**good, "metrics": {**good["metrics"], "dino": {**dino, "per_instance": {first: "0.5"}}}}, "per_instance")
    cases["metric mean NaN"] = ({**good, "metrics": {**good["metrics"], "dino": {**dino, "mean": float("nan")}}}, "mean")
    cases["direction a string"] = (
        {**good, "metrics": {**good["metrics"], "dino": {**dino, "higher_is_better": "yes"}}}, "higher_is_better")
    cases["more samples than planned"] = (
        {**good, "metrics": {**good["metrics"], "dino": {**dino, "coverage": {
            **dino["coverage"], "per_instance": {first: 9}}}}}, "count of 0 to 2 samples")
    cases["no coverage in /3"] = (
        {**good, "metrics": {**good["metrics"], "dino": {k: v for k, v in dino.items() if k != "coverage"}}}, "coverage")
    cases["coverage that does not add up"] = (
        {**good, "metrics": {**good["metrics"], "dino": {**dino, "coverage": {
            **dino["coverage"], "samples": {"planned": 6, "scored": 6, "failed": 1, "missing": 0}}}}}, "is not planned")
    cases["unknown instance"] = (
        {**good, "metrics": {**good["metrics"], "dino": {**dino, "per_instance": {"elsewhere-1": 0.5}}}}, "elsewhere-1")
    cases["negative seed noise"] = (
        {**good, "metrics": {**good["metrics"], "dino": {**dino, "seed_noise": -1.0}}}, "seed_noise")
    cases["unknown field"] = ({**good, "surprise": 1}, "surprise")
    cases["set metric value a string"] = ({**good, "set_metrics": {"fid": {"value": "low", "n": 3}}}, "fid")
    cases["not an object"] = ("[1, 2]", "schema")
    return cases


def test_each_malformed_baseline_is_one_line_exit_2(tiny, good, tmp_path, capsys):
    for name, (baseline, named) in _malformed(good).items():
        path = tmp_path / "b.json"
        path.write_text(baseline if isinstance(baseline, str) else json.dumps(baseline))
        code, out, err = cli_main(["check", tiny, "--baseline", path], capsys)
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, (name, out, err)
        assert named in err and str(path) in err, (name, err)
        assert "PASS" not in out


def test_the_well_formed_baseline_and_its_v2_form_pass(tiny, good, tmp_path, capsys):
    for doc in (good, _v2(good)):
        (tmp_path / "b.json").write_text(json.dumps(doc))
        assert cli_main(["check", tiny, "--baseline", tmp_path / "b.json"], capsys)[0] == 0


@pytest.mark.parametrize("change,named", [
    (lambda d: {**d, "metrics": []}, "metrics"),
    (lambda d: {**d, "counts": {**d["counts"], "scored": -1}}, "counts.scored"),
    (lambda d: {**d, "metrics": {**d["metrics"], "dino": {**d["metrics"]["dino"], "higher_is_better": "yes"}}},
     "metrics.dino.higher_is_better"),
    (lambda d: {**d, "metrics": {**d["metrics"], "dino": {**d["metrics"]["dino"], "coverage": None}}},
     "metrics.dino.coverage"),
    (lambda d: {**d, "set_metrics": {"fid": {"metric": "fid", "value": "x", "n": 1, "higher_is_better": False}}},
     "set_metrics.fid.value"),
    (lambda d: {**d, "schema": "ibench.results/0"}, "ibench.results/0"),
    (lambda d: "torn", "invalid JSON"),
])
def test_a_malformed_results_json_is_one_line_exit_2_everywhere(tiny, good, tmp_path, capsys, change, named):
    """Written and read through one model (ibench.evaluators.results.Results): report, check, compare, baseline."""
    run = tmp_path / tiny.name
    shutil.copytree(tiny, run)
    doc = json.loads((run / "results.json").read_text())
    changed = change(doc)
    (run / "results.json").write_text(changed if isinstance(changed, str) else json.dumps(changed))
    (tmp_path / "b.json").write_text(json.dumps(good))
    for args in (["report", run, "--out", tmp_path / "rep", "--grid", "0", "--no-viewer"],
                 ["check", run, "--baseline", tmp_path / "b.json"], ["compare", run, tiny],
                 ["baseline", run, "--out", tmp_path / "new.json"]):
        code, _, err = cli_main(args, capsys)
        assert code == 2 and err.count("\n") == 1 and named in err and "results.json" in err, (args[0], err)


def test_results_json_is_written_through_the_model(tiny):
    from ibench.evaluators.results import Results, load_results

    doc = json.loads((tiny / "results.json").read_text())
    typed = load_results(tiny)
    assert isinstance(typed, Results) and typed.as_json() == doc
    assert typed.metrics["dino"].coverage.complete and typed.counts.scored == 6
