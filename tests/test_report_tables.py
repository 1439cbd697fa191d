"""Table 4's Average over shared tasks (constructed, and on ImagenHub's raw ratings) and the metric–human
correlations' cluster bootstrap (per image and per model), each against an independent computation."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau, spearmanr

from ibench.report.tables import shared_tasks, table4
from ibench.stats import corr_ci, group_mean_corr_ci

MEASURES = {"SC": "SC_mean", "PQ": "PQ_mean", "O": "O_mean"}


def _summary(cells: dict[tuple[str, str], float], family: str = "in_domain") -> pd.DataFrame:
    return pd.DataFrame([{"task": t, "model": m, "family": family, "SC_mean": v, "PQ_mean": v, "O_mean": v}
                         for (t, m), v in cells.items()])


def test_average_is_over_the_tasks_every_model_shares():
    """A beats B on both shared tasks; B was also rated on an easy third task. Averaging each model over its
    own tasks ranks B first (0.587 > 0.526); over the shared tasks A stays first."""
    cells = {("t1", "A"): 0.60, ("t2", "A"): 0.452, ("t1", "B"): 0.55, ("t2", "B"): 0.41, ("t3", "B"): 0.80}
    block = table4(_summary(cells), MEASURES)["in_domain"].set_index(["model", "measure"])
    assert shared_tasks(table4(_summary(cells), MEASURES)["in_domain"]) == ["t1", "t2"]
    assert block.at[("A", "O"), "Average"] == pytest.approx((0.60 + 0.452) / 2)
    assert block.at[("B", "O"), "Average"] == pytest.approx((0.55 + 0.41) / 2)
    assert block.at[("A", "O"), "Average"] > block.at[("B", "O"), "Average"]
    own_b = (0.55 + 0.41 + 0.80) / 3
    assert own_b > block.at[("A", "O"), "Average"]  # the reversal the old rule produced
    assert math.isnan(block.at[("A", "O"), "t3"])  # the missing cell stays missing (rendered as —)
    disjoint = table4(_summary({("t1", "A"): 0.5, ("t2", "B"): 0.6}), MEASURES)["in_domain"]
    assert shared_tasks(disjoint) == [] and disjoint["Average"].isna().all()


@pytest.fixture(scope="module")
def imagenhub_db(shared_data, tmp_path_factory):
    """Two ImagenHub tasks imported through `ibench human import-imagenhub` (the existing import path)."""
    from ibench.cli import main

    db = tmp_path_factory.mktemp("ih") / "ih.db"
    for task in ("Subject-Driven_IG", "Multi-Subject_IG"):
        main(["human", "import-imagenhub", str(shared_data / "imagenhub_ratings" / task), "--db", str(db)])
    return db


def _direct(shared_data, task: str) -> dict[str, dict[str, float]]:
    """SC, PQ and per-image O straight from the TSVs: per rater the mean over items, then the mean over raters."""
    tables = [pd.read_csv(f, sep="\t") for f in sorted((shared_data / "imagenhub_ratings" / task).glob("*.tsv"))]
    out = {}
    for model in tables[0].columns[1:]:
        cells = [np.array([json.loads(c) for c in t[model]]) for t in tables]  # raters x items x (SC, PQ)
        out[model] = {"SC": np.mean([c[:, 0].mean() for c in cells]), "PQ": np.mean([c[:, 1].mean() for c in cells]),
                      "O": np.mean([np.sqrt(c[:, 0] * c[:, 1]).mean() for c in cells])}
    return out


def test_table4_on_imagenhub_ratings_averages_shared_tasks_only(imagenhub_db, shared_data):
    """DreamBooth and TextualInversion were rated on both tasks, SuTI on Subject-Driven_IG only: the Average
    is over Subject-Driven_IG (imported as subject_gen) for all three; DreamBooth's Multi-Subject cell is shown,
    SuTI's is missing."""
    from ibench.human_eval.aggregate import study_summary
    from ibench.human_eval.imagenhub import IMAGENHUB_TASKS

    sd, ms = IMAGENHUB_TASKS["Subject-Driven_IG"], IMAGENHUB_TASKS["Multi-Subject_IG"]

    table = study_summary(str(imagenhub_db))
    table = table[table["model"].isin(["DreamBooth", "TextualInversion", "SuTI"])].assign(family="other")
    block = table4(table, MEASURES)["other"]
    assert shared_tasks(block) == [sd]
    cells = block.set_index(["model", "measure"])
    direct = {t: _direct(shared_data, t) for t in ("Subject-Driven_IG", "Multi-Subject_IG")}
    for model in ("DreamBooth", "TextualInversion", "SuTI"):
        for measure in ("SC", "PQ", "O"):
            value = direct["Subject-Driven_IG"][model][measure]
            assert cells.at[(model, measure), sd] == pytest.approx(value, abs=1e-9)
            assert cells.at[(model, measure), "Average"] == pytest.approx(value, abs=1e-9)
    assert cells.at[("DreamBooth", "O"), ms] == pytest.approx(direct["Multi-Subject_IG"]["DreamBooth"]["O"], abs=1e-9)
    assert math.isnan(cells.at[("SuTI", "O"), ms])
    # the other O: sqrt(mean SC * mean PQ) sits above the per-image O on ImagenHub's own ratings
    gaps = table["O_of_means"] - table["O_mean"]
    assert (gaps > 0.02).all() and (gaps < 0.2).all()


def _clustered(seed: int = 0, clusters: int = 15, per: int = 8):
    """Images in clusters (instances) that share an instance effect on both sides, as rated images do."""
    rng = np.random.default_rng(seed)
    effect = rng.normal(size=clusters)
    labels = np.repeat([f"inst{c:02d}" for c in range(clusters)], per)
    x = np.repeat(effect, per) + rng.normal(scale=0.5, size=clusters * per)
    y = np.round(np.clip(0.5 + 0.3 * np.repeat(effect, per) + rng.normal(scale=0.3, size=clusters * per), 0, 1) * 2) / 2
    return x, y, labels


@pytest.mark.parametrize("method,ref", [("spearman", spearmanr), ("kendall", kendalltau)])
def test_cluster_bootstrap_equals_resampling_instances_by_hand(method, ref):
    x, y, labels = _clustered()
    est = corr_ci(x, y, method, seed=3, clusters=labels, resamples=400)
    names = np.unique(labels)
    draws = np.random.default_rng(3).integers(0, names.size, (400, names.size))
    reps = []
    for d in draws:  # the drawn instances, each with all its images, repeats kept
        idx = np.concatenate([np.flatnonzero(labels == names[c]) for c in d])
        reps.append(ref(x[idx], y[idx]).statistic)
    reps = np.array(reps)
    reps = reps[~np.isnan(reps)]
    assert est.value == pytest.approx(ref(x, y).statistic) and est.n == 120 and est.n_clusters == 15
    assert (est.ci_low, est.ci_high) == pytest.approx(tuple(np.quantile(reps, [0.025, 0.975])), abs=1e-9)


def test_cluster_intervals_are_wider_than_resampling_images():
    x, y, labels = _clustered(seed=1)
    clustered, pooled = corr_ci(x, y, clusters=labels), corr_ci(x, y)
    assert clustered.value == pooled.value and pooled.n_clusters == 120
    assert (clustered.ci_high - clustered.ci_low) > 1.3 * (pooled.ci_high - pooled.ci_low)


def test_kendall_on_many_images_takes_the_expanded_path_and_agrees():
    from ibench.stats import _kendall_weighted

    rng = np.random.default_rng(2)
    x, y = rng.normal(size=320), rng.integers(0, 3, 320) / 2
    w = rng.integers(0, 3, (3, 320)).astype(float)
    got = _kendall_weighted(x, y, w)
    expected = [kendalltau(np.repeat(x, c.astype(int)), np.repeat(y, c.astype(int))).statistic for c in w]
    np.testing.assert_allclose(got, expected)
    small = _kendall_weighted(x[:40], y[:40], w[:, :40])  # the pairwise path on the same definition
    np.testing.assert_allclose(small, [kendalltau(np.repeat(x[:40], c[:40].astype(int)),
                                                  np.repeat(y[:40], c[:40].astype(int))).statistic for c in w])


def test_model_level_correlation_equals_instance_resampling_by_hand():
    """4 models x 12 instances: the ranking of model means (metric vs rating), CI by resampling instances."""
    rng = np.random.default_rng(4)
    quality = np.array([0.2, 0.4, 0.5, 0.9])
    a = quality[:, None] + rng.normal(scale=0.3, size=(4, 12))
    b = quality[:, None] + rng.normal(scale=0.4, size=(4, 12))
    a[1, 3] = b[1, 3] = np.nan  # one model lacks one instance
    est = group_mean_corr_ci(a, b, "spearman", seed=5, resamples=300)
    assert est.value == pytest.approx(spearmanr(np.nanmean(a, 1), np.nanmean(b, 1)).statistic)
    assert est.n == 4 and est.n_clusters == 12
    reps = []
    for d in np.random.default_rng(5).integers(0, 12, (300, 12)):
        ma, mb = np.nanmean(a[:, d], axis=1), np.nanmean(b[:, d], axis=1)
        reps.append(spearmanr(ma, mb).statistic if np.ptp(ma) and np.ptp(mb) else np.nan)
    reps = np.array(reps)
    assert (est.ci_low, est.ci_high) == pytest.approx(tuple(np.nanquantile(reps, [0.025, 0.975])), abs=1e-9)
    assert math.isnan(group_mean_corr_ci(a[:2], b[:2]).value)  # two models: no ranking to correlate


def test_model_correlation_table_ranks_models_on_their_rated_images():
    from ibench.report.tables import correlation_table, model_correlation_table

    rng = np.random.default_rng(6)
    rows = []
    for m, quality in enumerate((0.2, 0.5, 0.6, 0.9)):
        for i in range(10):
            for sample in range(2):
                rows.append({"task": "t", "family": "in_domain", "model": f"M{m}", "run_id": f"r{m}",
                             "instance_id": f"i{i}", "sample": sample, "metric": "clip_t",
                             "value": quality + rng.normal(0, 0.2), "SC": quality + rng.normal(0, 0.3),
                             "PQ": rng.normal(), "O": quality})
    joined = pd.DataFrame(rows)
    table = model_correlation_table(joined).set_index("human")
    for measure in ("SC", "PQ"):
        per_instance = joined.groupby(["model", "instance_id"])[["value", measure]].mean()
        means = per_instance.groupby(level="model").mean()
        expected = spearmanr(means["value"], means[measure]).statistic
        assert table.at[measure, "spearman"] == pytest.approx(expected)
        assert table.at[measure, "n_models"] == 4 and table.at[measure, "n_instances"] == 10
    assert table.at["SC", "spearman_ci_low"] <= table.at["SC", "spearman"] <= table.at["SC", "spearman_ci_high"]
    pooled = correlation_table(joined).set_index("human")
    assert pooled.at["SC", "n"] == 80 and pooled.at["SC", "n_instances"] == 10
