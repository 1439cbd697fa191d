"""The meta-evaluation's arithmetic against references: scipy's correlations, numpy's bootstrap done by hand,
the averages by their formulas, exact ties, the ceiling, the accuracies, the file formats and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau, pearsonr, spearmanr

from ibench.meta import exact
from ibench.meta.evaluate import MetaOptions, meta_table
from ibench.meta.records import human_value, ratings_frame, scores_frame


def study(seed: int = 1, models=("M1", "M2"), items: int = 15, raters=("r1", "r2", "r3")):  # noqa: ANN001, ANN201
    """Random ratings and a judge that partly follows them, in the tidy shapes."""
    rng = np.random.default_rng(seed)
    ratings, scores = [], []
    for task in ("t1", "t2"):
        for model in models:
            for k in range(items):
                truth = rng.random()
                for rater in raters:
                    sc = float(np.clip(np.round(2 * (truth + rng.normal(0, 0.3))) / 2, 0, 1))
                    ratings.append((task, model, f"i{k}", 0, rater, sc, float(rng.choice([0, 0.5, 1]))))
                for measure in ("SC", "PQ", "O"):
                    scores.append(("J", task, model, f"i{k}", 0, measure, float(np.round(10 * truth + rng.normal(0, 2)))))
    return ratings_frame(ratings), scores_frame(scores)


def human_means(ratings: pd.DataFrame, task: str, model: str, measure: str) -> pd.Series:
    r = ratings[(ratings.task == task) & (ratings.model == model)]
    r = r.assign(O=np.sqrt(r.SC * r.PQ))
    return r.groupby("item")[measure].mean()


def test_per_model_correlations_are_scipys_and_aggregates_follow_their_formulas():
    ratings, scores = study()
    table = meta_table(ratings, scores, None, MetaOptions(("spearman", "kendall", "pearson"), "fisher", 0))
    got = {(r.judge, r.task, r.model, r.measure, r.statistic): r for r in table.itertuples()}
    for stat, ref in (("spearman", spearmanr), ("kendall", kendalltau), ("pearson", pearsonr)):
        per_task = []
        for task in ("t1", "t2"):
            rhos = []
            for model in ("M1", "M2"):
                for measure in ("SC", "PQ", "O"):
                    h = human_means(ratings, task, model, measure)
                    j = scores[(scores.task == task) & (scores.model == model) & (scores.measure == measure)]
                    j = j.set_index("item").loc[h.index, "value"]
                    row = got[("J", task, model, measure, stat)]
                    assert row.value == pytest.approx(ref(j, h).statistic, abs=1e-12) and row.n == 15
                    if measure == "O":
                        rhos.append(row.value)
            expect = math.tanh(np.mean(np.arctanh(rhos)))
            assert got[("J", task, "ALL", "O", stat)].value == pytest.approx(expect, abs=1e-12)
            per_task.append(expect)
        assert got[("J", "ALL", "ALL", "O", stat)].value == pytest.approx(math.tanh(np.mean(np.arctanh(per_task))))
        assert got[("J", "ALL", "ALL", "O", stat)].n == 60


@pytest.mark.parametrize("how, combine", [("viescore", lambda r: math.tanh(np.mean(r))), ("mean", np.mean)])
def test_other_averages(how, combine):
    ratings, scores = study()
    table = meta_table(ratings, scores, None, MetaOptions(("spearman",), how, 0)).set_index(["judge", "task", "model",
                                                                                              "measure"])
    rhos = [table.loc[("J", "t1", m, "SC"), "value"] for m in ("M1", "M2")]
    assert table.loc[("J", "t1", "ALL", "SC"), "value"] == pytest.approx(combine(rhos), abs=1e-12)


def test_the_human_ceiling_is_each_rater_against_the_others():
    ratings, scores = study()
    table = meta_table(ratings, scores, None, MetaOptions(("spearman",), "fisher", 0)).set_index(
        ["judge", "task", "model", "measure"])
    r = ratings[(ratings.task == "t2") & (ratings.model == "M1")]
    wide = r.pivot(index="item", columns="rater", values="SC")
    rhos = [spearmanr(wide[x], wide.drop(columns=x).mean(axis=1)).statistic for x in wide.columns]
    assert table.loc[("human", "t2", "M1", "SC"), "value"] == pytest.approx(math.tanh(np.mean(np.arctanh(rhos))))
    assert table.loc[("human", "t2", "M1", "SC"), "n"] == 15


def test_bootstrap_redraws_images_within_each_model_with_the_same_draw_for_every_judge():
    """The interval of a model's figure is the percentile interval of its replicates, each replicate the
    correlation on the images drawn (by index, with numpy) from the generator seeded for that model."""
    import zlib

    ratings, scores = study(items=12)
    table = meta_table(ratings, scores, None, MetaOptions(("spearman",), "fisher", 200, seed=7))
    row = table[(table.judge == "J") & (table.task == "t1") & (table.model == "M2") & (table.measure == "PQ")].iloc[0]
    h = human_means(ratings, "t1", "M2", "PQ")
    j = scores[(scores.task == "t1") & (scores.model == "M2") & (scores.measure == "PQ")].set_index("item")
    items = sorted(h.index)  # the panel's images, sorted by (item, sample)
    x, y = j.loc[items, "value"].to_numpy(), h.loc[items].to_numpy()
    rng = np.random.default_rng([7, zlib.crc32("t1\x1fM2".encode())])
    draws = rng.integers(0, 12, (200, 12))
    reps = [spearmanr(x[d], y[d]).statistic if len(set(x[d])) > 1 and len(set(y[d])) > 1 else np.nan for d in draws]
    reps = np.array([v for v in reps if not np.isnan(v)])
    assert (row.ci_low, row.ci_high) == pytest.approx(tuple(np.quantile(reps, [0.025, 0.975])), abs=1e-12)


def test_ties_are_exact_whatever_the_rater_order():
    """(1 + √½ + ½)/3 summed in different orders can differ in the last bit; ibench's values never do."""
    cells = [(1.0, 1.0), (0.5, 1.0), (0.5, 0.5)]
    values = {human_value("O", list(p)) for p in __import__("itertools").permutations(cells)}
    assert len(values) == 1
    floats = {float(np.mean([math.sqrt(a * b) for a, b in p])) for p in __import__("itertools").permutations(cells)}
    assert values.pop() == pytest.approx(floats.pop())
    assert exact.sqrt(exact.fraction(1) / 10 * exact.fraction(9) / 10) == exact.sqrt(exact.fraction(3) / 10 *
                                                                                     exact.fraction(3) / 10)
    assert math.sqrt(0.1 * 0.9) != math.sqrt(0.3 * 0.3)  # what float arithmetic does with the same tie


def test_pairwise_accuracies():
    from ibench.meta.records import votes_frame

    votes = votes_frame([("J", "t", "1", "ab", "A>B", "A>B"), ("J", "t", "2", "ab", "A=B", "tie"),
                         ("J", "t", "3", "ab", "A=B", "both_bad"), ("J", "t", "4", "ab", None, "B>A"),
                         ("J", "t", "5", "ab", "tie", "both_bad"),
                         ("K", "u", "1", "ab", "A>B", "A>B"), ("K", "u", "1", "ba", "B>A", "A>B"),
                         ("K", "u", "2", "ab", "tie", "B>A"), ("K", "u", "2", "ba", None, "B>A")])
    table = meta_table(None, None, votes, MetaOptions(("accuracy_4way", "accuracy_both_orders"), resamples=0))
    got = {(r.judge, r.statistic): (r.value, r.n) for r in table.itertuples()}
    assert got[("J", "accuracy_4way")] == (pytest.approx(3 / 5), 5)  # a bare A=B is right for tie and both bad
    assert ("J", "accuracy_both_orders") not in got  # people who may call a tie: not MMRB2's statistic
    assert got[("K", "accuracy_both_orders")] == (pytest.approx(1 / 3), 3)  # a tie is wrong, a missing one left out


def test_csv_and_json_outputs(tmp_path, cli, shared_data):
    out = tmp_path / "m.csv"
    root = shared_data / "viescore"
    code, stdout, err = cli("judge", "meta", "--human",
                            f"imagenhub:{root / '_human_annotations' / 'ImagenHub_human_eval_results'}",
                            "--judge", f"V={'viescore'}:{root / '_answers' / 'results_gpt4o_0shot'}",
                            "--resamples", 50, "--csv", out, "--json")
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["average"] == "fisher" and doc["resamples"] == 50 and doc["seed"] == 0
    assert {r["judge"] for r in doc["rows"]} == {"human", "V"}
    lines = out.read_text().splitlines()
    assert lines[0].startswith("# aggregates") and "fisher" in lines[0]
    assert lines[1] == "judge,task,model,measure,statistic,value,n"
    table = pd.read_csv(out, skiprows=1)
    overall = table[(table.task == "ALL") & (table.model == "ALL")]
    assert set(overall.judge) == {"human", "V"} and set(overall.measure) == {"SC", "PQ", "O"}
    with_ci = [r for r in doc["rows"] if r["task"] == "ALL"]
    assert all(r["ci_low"] <= r["value"] <= r["ci_high"] for r in with_ci)


@pytest.mark.parametrize("args, message", [
    (["--judge", "viescore"], "expected [LABEL=]FORMAT:PATH"),
    (["--judge", "nope:x"], "FORMAT one of ibench"),
    (["--judge", "=viescore:x"], "label before '=' is empty"),
    (["--judge", "viescore:/no/such/folder"], "no such file or folder"),
    (["--human", "imagenhub:/no/such"], "no such file or folder"),
    ([], "give --judge"),
    (["--judge", "csv:{bad_csv}", "--human", "imagenhub:{tsvs}"], "line 2: measure 'XX'"),
    (["--judge", "viescore:{tmp}"], "no ImagenHub_<Task> folders"),
    (["--judge", "mmrb2:{tmp}/j.json"], "--human mmrb2"),
    (["--judge", "csv:{good_csv}", "--average", "median"], "--average 'median'"),
    (["--judge", "csv:{good_csv}", "--statistic", "r2"], "--statistic 'r2'"),
    (["--judge", "csv:{good_csv}"], "need human ratings"),
])
def test_bad_input_is_one_line(args, message, cli, tmp_path, shared_data):
    (tmp_path / "bad.csv").write_text("item,model,measure,value\nx,M,XX,1\n")
    (tmp_path / "good.csv").write_text("item,model,measure,value\nx,M,SC,1\n")
    (tmp_path / "j.json").write_text("{}")
    fill = {"bad_csv": tmp_path / "bad.csv", "good_csv": tmp_path / "good.csv", "tmp": tmp_path,
            "tsvs": shared_data / "viescore" / "_human_annotations" / "ImagenHub_human_eval_results"}
    code, _, err = cli("judge", "meta", *[a.format(**fill) for a in args], "--resamples", 0)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
