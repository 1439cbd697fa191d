"""Coverage end to end: scores that never appeared and judge verdicts that failed on the hardest instances fail
`ibench check` naming coverage; the report states coverage beside the mean and compares models over the same
instances; identical and zero-mean-noise reruns still pass. The counting itself (evaluators/coverage.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from report_fixtures import cli_main, raw_scores, report_inputs, score  # noqa: F401 (fixture)

from ibench.evaluators.coverage import GENERATION_FAILED, NOT_GENERATED, ROW_MISSING, Coverage, combined, measure


def test_every_planned_sample_is_scored_failed_or_missing_with_its_reason():
    planned = {"a": 2, "b": 2, "c": 2, "d": 2}
    made = {("a", 0): True, ("a", 1): True, ("b", 0): False, ("b", 1): True, ("c", 0): True, ("c", 1): True}
    cov = measure(planned, made, scored={("a", 0), ("a", 1), ("c", 0)},
                  failed={("b", 1): "judge: refusal", ("a", 1): "no face detected in the output"},
                  missing={("c", 1): "judge: not asked (--judge-max-calls)"})
    assert cov.samples.model_dump() == {"planned": 8, "scored": 3, "failed": 2, "missing": 3}
    assert cov.instances.model_dump() == {"planned": 4, "scored": 2, "failed": 1, "missing": 1}
    assert cov.reasons == {GENERATION_FAILED: 1, "judge: refusal": 1, "judge: not asked (--judge-max-calls)": 1,
                           NOT_GENERATED: 2}
    assert cov.partial == 1 and cov.unscored["b"] == {"0": GENERATION_FAILED, "1": "judge: refusal"}
    assert not cov.complete and cov.text().startswith("coverage 2/4 instances, 3/8 samples (not generated 2")
    whole = measure({"a": 1}, {("a", 0): True}, {("a", 0)}, {}, {})
    assert whole.complete and whole.text() == "" and whole.samples.share == 1.0
    assert measure({"a": 1}, {("a", 0): True}, set(), {}, {}).reasons == {ROW_MISSING: 1}
    both = combined([cov, whole])
    assert both.samples.planned == 9 and both.samples.scored == 4 and both.reasons[NOT_GENERATED] == 2
    with pytest.raises(ValueError, match="is not planned"):
        Coverage.model_validate({**cov.model_dump(), "samples": {"planned": 8, "scored": 8, "failed": 1, "missing": 0}})


# -- on real scored runs ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runs(report_inputs):
    tiny = next(r for r in report_inputs.runs if "-tiny-" in r.name)
    refs = next(r for r in report_inputs.runs if "-references-" in r.name)
    return tiny, refs


@pytest.fixture(scope="module")
def baseline_file(runs, tmp_path_factory) -> Path:
    from ibench.gate.baseline import make_baseline, write_baseline
    from ibench.report.runs import open_run

    path = tmp_path_factory.mktemp("coverage-baseline") / "tiny.json"
    write_baseline(make_baseline(open_run(runs[0])), path)
    return path


def _lowest(run: Path, metric: str) -> str:
    means = raw_scores(run).query("metric == @metric").groupby("instance_id")["value"].mean()
    return str(means.idxmin())


def test_lost_score_rows_fail_the_gate_and_the_report_says_what_the_mean_is_over(report_inputs, runs, baseline_file,
                                                                                  tmp_path, capsys, monkeypatch):
    """The audit's case at this size: the lowest-DINO instance (of 3) gets no DINO rows although its generations
    succeeded, the others are 0.001 worse (within this run's seed noise: the audit's 0.003 is beyond it here and
    would regress on its own). Was: exit 0 and a DINO mean that rose."""
    from ibench.evaluators.similarity import SimilarityKind

    tiny, refs = runs
    lowest = _lowest(tiny, "dino")
    scored = SimilarityKind.score

    def losing(self, ctx, metrics):  # noqa: ANN001 - a kind that loses rows (a bug, a filter)
        out = scored(self, ctx, metrics)
        if "dino" in out.rows:
            out.rows["dino"] = [{**r, "value": r["value"] - 0.001} for r in out.rows["dino"]
                                if r["instance_id"] != lowest]
        return out

    monkeypatch.setattr(SimilarityKind, "score", losing)
    lost = tmp_path / "lost" / tiny.name
    shutil.copytree(tiny, lost)
    score(lost, report_inputs.extractors, report_inputs.data, tmp_path)
    results = json.loads((lost / "results.json").read_text())
    assert results["metrics"]["dino"]["coverage"]["reasons"] == {ROW_MISSING: 2}
    code, out, _ = cli_main(["check", lost, "--baseline", baseline_file], capsys)
    row = next(line for line in out.splitlines() if line.startswith("| dino"))
    assert code == 1 and "COVERAGE" in row and "4/6 vs 6/6 (−2)" in row
    assert "dino (coverage)" in out and "score row missing 2" in out
    assert all("COVERAGE" not in line for line in out.splitlines() if line.startswith(("| clip_t", "| clip_i")))
    # the report of the lost-scores run states its coverage beside DINO ...
    code, _, err = cli_main(["report", lost, "--out", tmp_path / "alone", "--grid", "0", "--no-viewer"], capsys)
    assert code == 0, err
    md = (tmp_path / "alone" / "report.md").read_text()
    assert "(2/3)" in md and "coverage 2/3 instances, 4/6 samples (score row missing 2)" in md
    # ... and beside another model both are over the instances both have: no mean rose because one vanished
    code, _, err = cli_main(["report", lost, refs, "--out", tmp_path / "both", "--grid", "0", "--no-viewer"], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "both" / "results.json").read_text())
    rows = {(m["model"], m["metric"]): m for m in doc["metrics"]}
    kept = sorted(set(raw_scores(refs)["instance_id"]) - {lowest})
    ref_dino = raw_scores(refs).query("metric == 'dino' and instance_id in @kept").groupby("instance_id")["value"]
    assert rows[("references", "dino")]["mean"] == pytest.approx(ref_dino.mean().mean())
    assert rows[("references", "dino")]["n"] == 2 and rows[("references", "dino")]["dropped"] == 1
    assert "1 dropped" in rows[("references", "dino")]["coverage_short"]
    assert rows[("tiny", "dino")]["coverage_short"] == "2/3" and rows[("tiny", "clip_t")]["coverage"] == ""
    html = (tmp_path / "both" / "index.html").read_text()
    assert 'class="coverage"' in html and "score row missing 2" in html
    # compare says how many instances each side lost to the pairing
    code, out, _ = cli_main(["compare", tiny, lost, "--format", "md"], capsys)
    dino = next(line for line in out.splitlines() if line.startswith("| dino"))
    assert code == 0 and "paired (n=2; dropped A 1, B 0)" in dino and "B coverage 2/3 instances" in dino


def test_a_zero_mean_noise_rerun_passes(runs, baseline_file, tmp_path, capsys):
    """Every instance's DINO moved by ±0.001 (the moves cancel): within the seed noise, and nothing lost."""
    tiny, _ = runs
    noisy = tmp_path / tiny.name
    shutil.copytree(tiny, noisy)
    path = noisy / "scores" / "dino.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    ids = sorted({r["instance_id"] for r in rows})
    shift = dict(zip(ids, np.linspace(-0.001, 0.001, len(ids))))
    path.write_text("".join(json.dumps({**r, "value": r["value"] + shift[r["instance_id"]]}) + "\n" for r in rows))
    code, out, _ = cli_main(["check", noisy, "--baseline", baseline_file], capsys)
    assert code == 0, out
    assert "REGRESSION" not in out and "COVERAGE" not in out


def _by_image(body: dict) -> int:
    """A judge score from the output image alone (the last image of the request): the same image, the same score."""
    import hashlib

    images = [p["image_url"]["url"] for m in body["messages"] if isinstance(m["content"], list)
              for p in m["content"] if p.get("type") == "image_url"]
    return int(hashlib.sha256(images[-1].encode()).hexdigest(), 16) % 9 + 1


def test_judge_verdicts_failing_on_the_lowest_instances_fail_the_gate(tmp_path_factory, tmp_path, capsys, monkeypatch):
    """judge_o verdicts refused on the 2 lowest of 8 instances (a content filter that refuses the hardest prompts):
    the judge's mean rises, and `ibench check` fails naming coverage and `judge: refusal`."""
    from fake_openai import Canned, FakeOpenAI
    from judge_fixtures import JUDGE_METRICS, api_config, make_synthetic_runs, session_cache

    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.score import score_run

    run = make_synthetic_runs(tmp_path / "gen", session_cache(tmp_path_factory), models=("tiny",), limit=8, samples=1)[0]

    def answer(body, n):  # noqa: ANN001
        return json.dumps({"score": _by_image(body), "reasoning": "by image"})

    monkeypatch.setenv("IBENCH_CACHE_DIR", str(tmp_path / "cache1"))
    with FakeOpenAI(answer) as server:
        score_run(run, ScoreOptions(metrics=JUDGE_METRICS, kinds={"judge": {"config": api_config(server.url)}}))
    assert cli_main(["baseline", run, "--out", tmp_path / "b.json"], capsys)[0] == 0
    values = sorted(raw_scores(run).query("metric == 'judge_o'")["value"])
    cut = values[1] * 10  # the two lowest instances' score

    def refusing(body, n):  # noqa: ANN001
        if _by_image(body) <= cut:
            return Canned(content=None, refusal="I can't help with that.")
        return answer(body, n)

    rerun = tmp_path / "rerun" / run.name
    shutil.copytree(run, rerun)
    monkeypatch.setenv("IBENCH_CACHE_DIR", str(tmp_path / "cache2"))  # no cached verdicts
    with FakeOpenAI(refusing) as server:
        score_run(rerun, ScoreOptions(metrics=JUDGE_METRICS, kinds={"judge": {"config": api_config(server.url)}}))
    results = json.loads((rerun / "results.json").read_text())
    cov = results["metrics"]["judge_o"]["coverage"]
    assert cov["samples"]["failed"] >= 2 and set(cov["reasons"]) == {"judge: refusal"}
    assert results["metrics"]["judge_o"]["mean"] > np.mean(values)  # the survivors' mean rose
    code, out, _ = cli_main(["check", rerun, "--baseline", tmp_path / "b.json"], capsys)
    row = next(line for line in out.splitlines() if line.startswith("| judge_o"))
    assert code == 1 and "COVERAGE" in row and f"judge: refusal {cov['samples']['failed']}" in out


def test_a_fid_far_below_its_noise_floor_names_copies_and_the_copy_rate():
    """The audit's case: 25 of 120 outputs copy a reference and FID lands far below its floor; the note says
    copies can do that (small-sample bias cannot) and how many copy_rate found."""
    from ibench.evaluators.kinds import KindOutput
    from ibench.evaluators.score import copies_note
    from ibench.evaluators.setmetrics import Floor, stability

    stable, note = stability("fid", 40.0, 120, 500, Floor(mean=80.0, sd=3.0, n=120, splits=5))
    assert not stable and note.startswith("below its noise floor") and "copy_rate" in note
    assert "small-sample bias makes up" in stability("fid", 120.0, 120, 500, Floor(80.0, 3.0, 120, 5))[1]
    out = KindOutput(sets={"fid": {"value": 40.0, "note": note}},
                     rows={"copy_rate": [{"value": float(k < 25)} for k in range(120)]})
    copies_note(out)
    assert out.sets["fid"]["note"].endswith("(copy_rate: 25 of 120 outputs are near copies of a reference)")
