"""The model-aware join (issue 20, item 1): ratings, verdicts and metric scores meet on (task, image model,
item, sample), so a study holding several models never lends one model another's ratings.

The study is an ImagenHub import of three models (one run id per import, as ImagenHub's TSVs carry no
run); the runs are the same three models' images brought in with the ``folder`` adapter (instance ids =
ImagenHub uids) and judged by a fake OpenAI-compatible judge. Every figure is recomputed here from the
TSVs and the score files with scipy; a model-blind join of the same files gives a different number.
"""

from __future__ import annotations

from dataclasses import replace

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.stats import spearmanr

from fake_openai import FakeOpenAI, user_text
from judge_fixtures import JUDGE_METRICS, api_config

MODELS = ("SDXL", "DALLE2", "SD")
UIDS = [f"sample_{k}.jpg" for k in range(12)]
RATERS = ("rater1", "rater2", "rater3")


def judged(body: dict, n: int) -> str:
    """A 0-10 score that depends on the image and the question."""
    parts = body["messages"][-1]["content"]
    image = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"][-1]
    digest = hashlib.sha256((image + user_text(body)[-300:]).encode()).digest()
    return json.dumps({"score": digest[0] % 11, "reasoning": "seeded"})


def ratings_table() -> pd.DataFrame:
    """Long ratings: each model's raters see different images, so the models' ratings differ."""
    rng = np.random.default_rng(20)
    rows = []
    for model in MODELS:
        for uid in UIDS:
            for rater in RATERS:
                sc, pq = rng.choice([0.0, 0.5, 1.0], 2)
                rows.append({"task": "Text-To-Image", "model": model, "uid": uid, "rater": rater, "SC": sc, "PQ": pq})
    return pd.DataFrame(rows)


def write_tsvs(frame: pd.DataFrame, folder: Path) -> Path:
    task = folder / "Text-To-Image"
    task.mkdir(parents=True)
    for rater, part in frame.groupby("rater"):
        wide = part.assign(cell=[f"[{sc:g},{pq:g}]" for sc, pq in zip(part.SC, part.PQ)]).pivot(
            index="uid", columns="model", values="cell")
        wide.reset_index().to_csv(task / f"Text-To-Image_{rater}.tsv", sep="\t", index=False)
    return folder


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> dict:
    from conftest import SHARED_DATA
    from ibench.cli import main

    def cli_code(*args) -> int:
        try:
            return main([str(a) for a in args]) or 0
        except SystemExit as exc:
            return int(exc.code or 0)

    base = tmp_path_factory.mktemp("meta-join")
    ratings = ratings_table()
    tsvs = write_tsvs(ratings, base / "imagenhub")
    instances = base / "instances.jsonl"
    instances.write_text("".join(json.dumps({"id": uid, "instruction": {"text": f"a photo number {k}",
                                                                         "target_prompt": f"a photo number {k}"}}) + "\n"
                                 for k, uid in enumerate(UIDS)))
    runs = []
    for m, model in enumerate(MODELS):
        images = base / "images" / model
        for k, uid in enumerate(UIDS):
            (images / uid).mkdir(parents=True)
            Image.new("RGB", (32, 32), (20 * k, 80 * m, 7 * k + m)).save(images / uid / "0.png")
        assert cli_code("generate", "-t", "txt2img", "-m", "folder", "-a", f"dir={images}", "-a", f"label={model}",
                        "--instances", instances, "-d", SHARED_DATA, "-k", "1", "-o", base / "runs") == 0
    runs = sorted(p for p in (base / "runs").iterdir() if p.is_dir())
    assert len(runs) == 3
    with pytest.MonkeyPatch.context() as mp, FakeOpenAI(judged) as server:
        mp.setenv("IBENCH_CACHE_DIR", str(base / "cache"))
        from ibench.evaluators.options import ScoreOptions
        from ibench.evaluators.score import score_run

        for run in runs:
            score_run(run, ScoreOptions(metrics=JUDGE_METRICS, kinds={"judge": {"config": api_config(server.url)}}))
    db = base / "ratings.db"
    assert cli_code("human", "import-imagenhub", tsvs, "--db", db) == 0
    return {"base": base, "runs": runs, "db": db, "ratings": ratings}


def judge_values(runs: list[Path], metric: str) -> pd.DataFrame:
    """Per image: the run's model label and the judge's value (min over conditions), from the raw files."""
    frames = []
    for run in runs:
        label = json.loads((run / "manifest.json").read_text())["identity"]["model_settings"]["label"]
        scores = pd.read_json(run / "scores" / f"{metric}.jsonl", lines=True)
        per = scores.groupby(["instance_id", "sample"], as_index=False)["value"].min()
        frames.append(per.assign(model=label))
    return pd.concat(frames, ignore_index=True)


def human_means(ratings: pd.DataFrame, measure: str) -> pd.DataFrame:
    r = ratings.assign(O=np.sqrt(ratings.SC * ratings.PQ))
    return r.groupby(["model", "uid"], as_index=False)[measure].mean()


def expected(study: dict, measure: str, metric: str) -> tuple[float, float, int]:
    """(model-aware rho, model-blind rho, images) over the three models' images pooled."""
    judge = judge_values(study["runs"], metric)
    human = human_means(study["ratings"], measure)
    aware = judge.merge(human, left_on=["model", "instance_id"], right_on=["model", "uid"])
    first = human[human.model == MODELS[0]].drop(columns="model")  # a blind join: one model's ratings for every image
    blind = judge.merge(first, left_on="instance_id", right_on="uid")
    return (spearmanr(aware.value, aware[measure]).statistic, spearmanr(blind.value, blind[measure]).statistic,
            len(aware))


def test_judge_agreement_never_lends_a_model_another_models_ratings(study, cli, tmp_path):
    out = tmp_path / "agreement.csv"
    code, _, err = cli("judge", "agreement", *study["runs"], "--study", study["db"], "--csv", out, "--resamples", 10)
    assert code == 0, err
    table = pd.read_csv(out).set_index("measure")
    for measure, metric in (("SC", "judge_sc"), ("PQ", "judge_pq"), ("O", "judge_o")):
        aware, blind, n = expected(study, measure, metric)
        assert table.loc[measure, "n_items"] == n == len(MODELS) * len(UIDS)
        assert table.loc[measure, "spearman"] == pytest.approx(aware, abs=1e-12), measure
        assert abs(aware - blind) > 0.05, f"{measure}: this study must tell a model-blind join apart"


def test_report_study_shows_each_models_own_ratings_and_joins_by_model(study, cli, tmp_path):
    code, _, err = cli("report", *study["runs"], "--study", study["db"], "--out", tmp_path / "rep", "--grid", 0,
                       "--no-viewer")
    assert code == 0, err
    doc = json.loads((tmp_path / "rep" / "results.json").read_text())
    summary = {row["model"]: row for row in doc["human"]["summary"]}
    assert set(summary) == set(MODELS)
    ratings = study["ratings"]
    for model in MODELS:
        per_rater = ratings[ratings.model == model].groupby("rater")[["SC", "PQ"]].mean()
        assert summary[model]["SC_mean"] == pytest.approx(per_rater.SC.mean(), abs=1e-12)
        assert summary[model]["PQ_mean"] == pytest.approx(per_rater.PQ.mean(), abs=1e-12)
    corr = {(r["metric"], r["human"]): r for r in doc["correlations"]}
    aware, blind, n = expected(study, "SC", "judge_sc")
    row = corr[("judge_sc", "SC")]
    assert row["n"] == n and row["spearman"] == pytest.approx(aware, abs=1e-12)
    by_model = {(r["metric"], r["human"]): r for r in doc["model_correlations"]}
    assert by_model[("judge_sc", "SC")]["n_models"] == len(MODELS)


def test_a_shared_run_id_never_merges_models(study):
    """Ratings imported before the fix carry one run id for every model; a run with that id (a hand-made
    run dir) must not take all models' ratings as its own."""
    from ibench.human_eval.aggregate import item_scores
    from ibench.report.human import model_labels
    from ibench.report.runs import open_run

    scores = item_scores(str(study["db"])).assign(run_id="imagenhub")
    first = open_run(study["runs"][0])
    run = replace(first, manifest=first.manifest.model_copy(update={"run_id": "imagenhub"}), label="SDXL")
    named = model_labels(scores, [run])
    assert sorted(set(named)) == sorted(MODELS)
    assert list(named) == list(scores["model"])


def test_judge_meta_on_runs_and_a_study_is_per_model_and_feeds_the_report_leaderboard(study, cli, tmp_path):
    """``judge meta --human study:DB --judge ibench:RUNS``: per model, each model's verdicts against its own
    ratings; ``report --meta`` shows the leaderboard of the same figures."""
    out = tmp_path / "meta.csv"
    code, _, err = cli("judge", "meta", "--human", f"study:{study['db']}", "--judge", f"ibench:{study['base'] / 'runs'}",
                       "--resamples", 0, "--csv", out, "--format", "md")
    assert code == 0, err
    table = pd.read_csv(out, skiprows=1)
    judge = next(j for j in table.judge.unique() if j.startswith("judge:"))
    judged = judge_values(study["runs"], "judge_sc")
    human = human_means(study["ratings"], "SC")
    for model in MODELS:
        mine = judged[judged.model == model].merge(human[human.model == model], left_on="instance_id", right_on="uid")
        row = table[(table.judge == judge) & (table.model == model) & (table.measure == "SC")]
        assert row["value"].iloc[0] == pytest.approx(spearmanr(mine.value, mine.SC).statistic, abs=1e-12)
        assert row["n"].iloc[0] == len(UIDS)
    code, _, err = cli("report", *study["runs"], "--meta", out, "--out", tmp_path / "rep", "--grid", 0, "--no-viewer")
    assert code == 0, err
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "## Which judge to trust" in md and "ceiling" in md and judge in md
    doc = json.loads((tmp_path / "rep" / "results.json").read_text())
    board = [r for r in doc["leaderboard"] if r["measure"] == "O"]
    overall = table[(table.task == "ALL") & (table.model == "ALL") & (table.measure == "O")].set_index("judge")
    assert [r["judge"] for r in board][0] == "human"
    assert {r["judge"]: r["value"] for r in board} == pytest.approx(overall["value"].to_dict())
    assert 'id="leaderboard"' in (tmp_path / "rep" / "index.html").read_text()
