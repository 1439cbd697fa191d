"""Judge–human agreement (``ibench judge agreement``, ``ibench report --study``): every figure against an
independent computation with pandas, scipy and krippendorff on the raw score files and the raw SQLite rows."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau, spearmanr

from fake_openai import FakeOpenAI, user_text
from human_fixtures import make_study, rate_all
from judge_fixtures import JUDGE_METRICS, api_config, make_synthetic_runs, session_cache
from report_fixtures import raw_ratings

ROOT = Path(__file__).resolve().parents[1]
RESAMPLES = 100


def judged_by_image(body: dict, n: int) -> str:
    """A score that depends on the image under judgement and the question (so it varies across items)."""
    parts = body["messages"][-1]["content"]
    image = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"][-1]
    digest = hashlib.sha256((image + user_text(body)[-400:]).encode()).digest()
    return json.dumps({"score": digest[0] % 11, "reasoning": "seeded"})


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("judge-agreement")
    cache = base / "verdicts"
    runs = make_synthetic_runs(base, session_cache(tmp_path_factory), models=("tiny", "references"), limit=3, samples=2)
    with pytest.MonkeyPatch.context() as mp, FakeOpenAI(judged_by_image) as server:
        mp.setenv("IBENCH_CACHE_DIR", str(cache))
        from ibench.evaluators.options import ScoreOptions
        from ibench.evaluators.score import score_run

        for run in runs:
            score_run(run, ScoreOptions(metrics=JUDGE_METRICS, kinds={"judge": {"config": api_config(server.url)}}))
    db = base / "ratings.db"
    rate_all(db, make_study(db, runs, raters=4, k=3, name="pilot"), seed=5)
    return {"runs": runs, "db": db, "base": base}


# -- the independent computation ------------------------------------------------------------------------
def independent(env: dict) -> dict[str, dict]:
    """Per measure: every statistic, from the score JSONL files and the SQLite rows, with no ibench code."""
    frames = []
    for run in env["runs"]:
        for metric in JUDGE_METRICS:
            df = pd.read_json(run / "scores" / f"{metric}.jsonl", lines=True)
            df["run_id"] = json.loads((run / "manifest.json").read_text())["run_id"]
            frames.append(df)
    judge = pd.concat(frames).groupby(["run_id", "instance_id", "sample", "metric"])["value"].min().unstack("metric")
    ratings = raw_ratings(env["db"])
    ratings["O"] = np.sqrt(ratings["SC"] * ratings["PQ"])
    out = {}
    for measure, metric in (("SC", "judge_sc"), ("PQ", "judge_pq"), ("O", "judge_o")):
        table = ratings.pivot_table(index="rater", columns=["run_id", "instance_id", "sample"], values=measure,
                                    aggfunc="first")
        items = [c for c in table.columns if c in judge.index]
        humans = table[items].to_numpy(float)
        j = judge.loc[items, metric].to_numpy(float)
        out[measure] = {"n": len(items), "humans": humans, "judge": j, "instances": [i[1] for i in items],
                        **stats(humans, j)}
    return out


def ceiling(humans: np.ndarray, corr) -> float:
    values = []
    for r in range(humans.shape[0]):
        others = pd.DataFrame(np.delete(humans, r, axis=0))
        mean_others = others.mean(axis=0, skipna=True)
        both = pd.DataFrame({"x": humans[r], "y": mean_others}).dropna()
        if len(both) >= 3 and both["x"].nunique() > 1 and both["y"].nunique() > 1:
            values.append(corr(both["x"], both["y"]).statistic)
    return float(np.mean(values)) if values else math.nan


def stats(humans: np.ndarray, j: np.ndarray) -> dict:
    mean_h = np.nanmean(humans, axis=0)
    return {"spearman": spearmanr(j, mean_h).statistic, "kendall": kendalltau(j, mean_h).statistic,
            "alpha_judge": krippendorff.alpha(reliability_data=np.vstack([humans, j]), level_of_measurement="interval"),
            "alpha_humans": krippendorff.alpha(reliability_data=humans, level_of_measurement="interval"),
            "ceiling_spearman": ceiling(humans, spearmanr), "ceiling_kendall": ceiling(humans, kendalltau)}


def interval(values: list[float]) -> tuple[float, float]:
    v = np.array([x for x in values if not math.isnan(x)])
    return tuple(np.quantile(v, [0.025, 0.975]))


def instance_draws(instances: list[str], seed: int = 0) -> list[list[int]]:
    """Instances drawn with replacement (resamples x instances from default_rng(seed), over the sorted instance
    ids), each bringing all its images: the cluster bootstrap the module documents."""
    labels = sorted(set(instances))
    members = [[i for i, x in enumerate(instances) if x == label] for label in labels]
    draws = np.random.default_rng(seed).integers(0, len(labels), (RESAMPLES, len(labels)))
    return [[m for c in d for m in members[c]] for d in draws]


def bootstrap_cis(humans: np.ndarray, j: np.ndarray, instances: list[str],
                  seed: int = 0) -> dict[str, tuple[float, float]]:
    names = ("alpha_judge", "alpha_humans", "ceiling_spearman", "ceiling_kendall")
    values: dict[str, list[float]] = {n: [] for n in names}
    for idx in instance_draws(instances, seed):
        h, jj = humans[:, idx], j[idx]
        for name in names[:2]:
            data = np.vstack([h, jj]) if name == "alpha_judge" else h
            try:
                values[name].append(krippendorff.alpha(reliability_data=data, level_of_measurement="interval"))
            except ValueError:  # a draw with a single value: alpha is undefined
                values[name].append(math.nan)
        values["ceiling_spearman"].append(ceiling(h, spearmanr))
        values["ceiling_kendall"].append(ceiling(h, kendalltau))
    return {n: interval(v) for n, v in values.items()}


def pair_ci(x: np.ndarray, y: np.ndarray, corr, instances: list[str], seed: int = 0) -> tuple[float, float]:
    draws = instance_draws(instances, seed)
    return interval([corr(x[i], y[i]).statistic if len(set(x[i])) > 1 and len(set(y[i])) > 1 else math.nan
                     for i in draws])


# -- the tests ------------------------------------------------------------------------------------------
def test_agreement_figures_match_an_independent_computation(env, cli, tmp_path):
    csv = tmp_path / "agreement.csv"
    code, out, err = cli("judge", "agreement", *env["runs"], "--study", env["db"], "--csv", csv,
                         "--resamples", RESAMPLES)
    assert code == 0, err
    assert "| style_subject | SC |" in out
    assert f"ibench judge meta --human study:{env['db']} --judge ibench:" in out  # where per-model figures are
    table = pd.read_csv(csv).set_index("measure")
    expect = independent(env)
    for measure, e in expect.items():
        row = table.loc[measure]
        assert row["n_items"] == e["n"] == 12 and row["n_raters"] == 4
        for name in ("spearman", "kendall", "alpha_judge", "alpha_humans", "ceiling_spearman", "ceiling_kendall"):
            assert row[name] == pytest.approx(e[name], abs=1e-9), (measure, name)
        mean_h = np.nanmean(e["humans"], axis=0)
        assert (row["spearman_ci_low"], row["spearman_ci_high"]) == pytest.approx(
            pair_ci(e["judge"], mean_h, spearmanr, e["instances"]), abs=1e-9)
        assert (row["kendall_ci_low"], row["kendall_ci_high"]) == pytest.approx(
            pair_ci(e["judge"], mean_h, kendalltau, e["instances"]), abs=1e-9)
        for name, (low, high) in bootstrap_cis(e["humans"], e["judge"], e["instances"]).items():
            assert (row[f"{name}_ci_low"], row[f"{name}_ci_high"]) == pytest.approx((low, high), abs=1e-9), name
            assert row[f"{name}_ci_low"] <= row[name] + 1e-9 or math.isnan(row[name])


def test_the_report_shows_agreement_and_failures(env, cli, tmp_path):
    import jsonschema

    code, _, err = cli("report", *env["runs"], "--study", env["db"], "--out", tmp_path / "rep", "--grid", 0)
    assert code == 0, err
    doc = json.loads((tmp_path / "rep" / "results.json").read_text())
    jsonschema.validate(doc, json.loads((ROOT / "docs" / "report-schema.json").read_text()))
    agreement = {r["measure"]: r for r in doc["judge"]["judge_agreement"]}
    expect = independent(env)
    assert set(agreement) == {"SC", "PQ", "O"}
    for measure in agreement:
        assert agreement[measure]["spearman"] == pytest.approx(expect[measure]["spearman"], abs=1e-9)
        assert agreement[measure]["alpha_judge"] == pytest.approx(expect[measure]["alpha_judge"], abs=1e-9)
    failures = doc["judge"]["judge_failures"]
    assert {(r["model"], r["metric"]) for r in failures} == {(m, k) for m in ("tiny", "references") for k in JUDGE_METRICS}
    assert all(r["failed"] == 0 and r["failure_rate"] == 0 for r in failures)
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "### Judge–human agreement" in md and "### Verdicts and failures" in md
    html = (tmp_path / "rep" / "index.html").read_text()
    assert 'id="judge-agreement"' in html and 'id="judge-failures"' in html
    # the metric tables show judge_sc as the per-sample minimum, like results.json
    metrics = {(r["model"], r["metric"]): r for r in doc["metrics"]}
    for run in env["runs"]:
        results = json.loads((run / "results.json").read_text())
        label = results["model"]
        assert metrics[(label, "judge_sc")]["mean"] == pytest.approx(results["metrics"]["judge_sc"]["mean"])


def test_agreement_needs_judge_scores(env, cli, tmp_path):
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(env["runs"][0], bare, ignore=shutil.ignore_patterns("judge"))
    for path in (bare / "scores").glob("judge_*"):
        path.unlink()
    code, _, err = cli("judge", "agreement", bare, "--study", env["db"])
    assert code == 2 and "no judge scores" in err
