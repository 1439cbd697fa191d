"""`ibench human stats` on ImagenHub's raw ratings, checked against an independent computation;
aggregation of a study; agreement edge cases; ImagenHub export/import round trip."""

from __future__ import annotations

import json
import math

import human_fixtures
import krippendorff
import numpy as np
import pandas as pd
import pytest
from human_fixtures import rate_all
from ibench.human_eval import ratings
from ibench.human_eval.aggregate import item_scores, study_summary
from ibench.human_eval.agreement import fleiss, kripp_alpha
from ibench.human_eval.imagenhub import read_imagenhub, to_tsvs
from ibench.human_eval.store import RatingHistory, find_study, get_engine, reading
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from ibench.errors import IbenchError

human_runs, study = human_fixtures.human_runs, human_fixtures.study  # pytest fixtures


@pytest.fixture(scope="module")
def t2i(shared_data):
    return shared_data / "imagenhub_ratings" / "Text-To-Image"


def independent(folder) -> dict[str, dict[str, float]]:
    """ImagenHub's protocol written out directly with pandas, statsmodels and krippendorff."""
    tables = {f.stem.split("_")[-1]: pd.read_csv(f, sep="\t") for f in sorted(folder.glob("*.tsv"))}
    models = list(next(iter(tables.values())).columns[1:])
    out = {}
    for model in models:
        cells = {r: t[model].map(json.loads) for r, t in tables.items()}
        sc = np.array([[c[0] for c in cells[r]] for r in tables])  # raters x items
        pq = np.array([[c[1] for c in cells[r]] for r in tables])
        o = np.sqrt(sc * pq)
        res = {}
        for name, m in (("SC", sc), ("PQ", pq), ("O", o)):
            per_rater = m.mean(axis=1)
            res[f"{name}_mean"], res[f"{name}_std"] = per_rater.mean(), np.std(per_rater)
            res[f"kappa_{name}"] = fleiss_kappa(aggregate_raters(m.T)[0], method="fleiss")
            res[f"alpha_{name}"] = krippendorff.alpha(reliability_data=m, level_of_measurement="ordinal")
        res["O_of_means"] = math.sqrt(res["SC_mean"] * res["PQ_mean"])
        res["n_items"] = sc.shape[1]
        out[model] = res
    return out


def test_stats_on_imagenhub_text_to_image_match_an_independent_computation(cli, t2i):
    code, out, err = cli("human", "stats", "--imagenhub", t2i)
    assert code == 0, err
    expected = independent(t2i)
    assert set(expected) == {"DALLE", "DeepFloydIF", "OpenJourney", "SD", "SDXL", "Midjourney", "DALLE3"}
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.split() and ln.split()[0] in expected}
    assert set(lines) == set(expected)
    for model, exp in expected.items():
        nums = [float(x) for x in lines[model].replace("±", " ").split()[1:]]
        items, raters, sc, sc_sd, pq, pq_sd, o, o_sd, o_means, k_sc, k_pq, k_o, a_sc, a_pq, a_o = nums
        assert (items, raters) == (exp["n_items"], 3)
        got = dict(SC_mean=sc, SC_std=sc_sd, PQ_mean=pq, PQ_std=pq_sd, O_mean=o, O_std=o_sd, O_of_means=o_means,
                   kappa_SC=k_sc, kappa_PQ=k_pq, kappa_O=k_o, alpha_SC=a_sc, alpha_PQ=a_pq, alpha_O=a_o)
        for key, value in got.items():
            assert value == pytest.approx(exp[key], abs=6e-4), (model, key)
        if model in PUBLISHED:  # ImagenHub's own notebook, printed with two decimals
            for key, value in PUBLISHED[model].items():
                assert got[key] == pytest.approx(value, abs=0.0051), (model, key)


# eval/human_ratings/AnalyzeHumanEval.ipynb in TIGER-AI-Lab/ImagenHub (Text-To-Image; its 'PR' is PQ,
# its 'HumanEval' is O): kappa / alpha per rating, and the mean / std over raters
PUBLISHED = {
    "DALLE": dict(kappa_SC=0.37, alpha_SC=0.47, kappa_PQ=0.39, alpha_PQ=0.42, kappa_O=0.27, alpha_O=0.40,
                  SC_mean=0.58, PQ_mean=0.62, O_mean=0.54, SC_std=0.04, PQ_std=0.06, O_std=0.04),
    "SDXL": dict(kappa_SC=0.49, alpha_SC=0.59, kappa_PQ=0.36, alpha_PQ=0.43, kappa_O=0.37, alpha_O=0.61,
                 SC_mean=0.62, PQ_mean=0.64, O_mean=0.59, SC_std=0.03, PQ_std=0.05, O_std=0.03),
    "Midjourney": dict(kappa_SC=0.44, alpha_SC=0.57, kappa_PQ=0.05, alpha_PQ=0.06, kappa_O=0.34, alpha_O=0.51,
                       SC_mean=0.67, PQ_mean=0.92, O_mean=0.73, SC_std=0.06, PQ_std=0.06, O_std=0.07),
}


def test_stats_errors_are_one_line(cli, tmp_path):
    (tmp_path / "T").mkdir()
    (tmp_path / "T" / "T_rater1.tsv").write_text("uid\tM\ns1\t[1,0.7]\n")
    code, _, err = cli("human", "stats", "--imagenhub", tmp_path / "T")
    assert code == 2 and err.startswith("error: ") and "outside 0, 0.5, 1" in err and err.count("\n") == 1
    with pytest.raises(IbenchError, match="not a folder"):
        read_imagenhub(tmp_path / "missing")
    with pytest.raises(IbenchError, match="no .tsv files"):
        (tmp_path / "empty").mkdir()
        read_imagenhub(tmp_path / "empty")


def test_agreement_edge_cases():
    perfect = pd.DataFrame([[0, 0.5, 1, 1], [0, 0.5, 1, 1], [0, 0.5, 1, 1]])
    assert fleiss(perfect) == pytest.approx(1.0) and kripp_alpha(perfect) == pytest.approx(1.0)
    constant = pd.DataFrame([[1, 1, 1], [1, 1, 1]])
    assert math.isnan(fleiss(constant)) and math.isnan(kripp_alpha(constant))
    one_rater = pd.DataFrame([[0, 1, 0.5]])
    assert math.isnan(fleiss(one_rater)) and math.isnan(kripp_alpha(one_rater))
    # raters x items with gaps: alpha uses them, kappa keeps items with the full count
    gaps = pd.DataFrame([[0, 1, np.nan, 0.5], [0, 1, 1, np.nan], [0, 0.5, 1, 0.5]])
    assert kripp_alpha(gaps) == pytest.approx(krippendorff.alpha(reliability_data=gaps.to_numpy(),
                                                                 level_of_measurement="ordinal"))
    full = np.array([[0, 0, 0], [1, 1, 0.5]])
    assert fleiss(gaps) == pytest.approx(fleiss_kappa(aggregate_raters(full)[0]))


def test_study_summary_and_item_scores(study):
    db, tokens = study
    assert study_summary(str(db)).empty
    n = rate_all(db, tokens)
    engine = get_engine(str(db))
    me = ratings.sign_in(engine, tokens.raters["rater01"])
    first = ratings.queue(engine, me.rater_id)[0].assignment_id
    ratings.skip(engine, me.rater_id, first)  # a skip replaces a rating and no longer counts
    scores = item_scores(str(db))
    assert len(scores) == n - 1 and list(scores.columns) == ["task", "model", "run_id", "instance_id", "sample",
                                                             "rater", "SC", "PQ", "O"]
    assert np.allclose(scores["O"], np.sqrt(scores["SC"] * scores["PQ"]))
    table = study_summary(str(db), "test-study")
    assert list(table["model"]) == ["references", "tiny"] and set(table["task"]) == {"style_subject"}
    for row in table.itertuples():
        mine = scores[scores["model"] == row.model]
        per_rater = mine.groupby("rater")[["SC", "PQ", "O"]].mean()
        assert row.n_items == 3 and row.n_raters == per_rater.shape[0]
        assert row.SC_mean == pytest.approx(per_rater["SC"].mean())
        assert row.O_std == pytest.approx(np.std(per_rater["O"]))
        assert row.O_of_means == pytest.approx(math.sqrt(row.SC_mean * row.PQ_mean))
        assert row.fleiss_kappa == row.fleiss_kappa_O and row.kripp_alpha == row.kripp_alpha_O
        assert not math.isnan(row.kripp_alpha_SC)
    with reading(engine) as s, pytest.raises(IbenchError, match="no study 'nope'"):
        find_study(s, "nope")


def test_import_imagenhub_matches_direct_reading_and_round_trips(t2i, tmp_path, cli):
    db = tmp_path / "ih.db"
    code, out, err = cli("human", "import-imagenhub", t2i, "--db", db)
    assert code == 0, err
    assert "imported 4137 ratings into study 'imagenhub:Text-To-Image' (0 unchanged)" in out
    from_db = study_summary(str(db)).set_index("model")
    direct = independent(t2i)
    for model, exp in direct.items():
        assert from_db.loc[model, "SC_mean"] == pytest.approx(exp["SC_mean"])
        assert from_db.loc[model, "kripp_alpha_PQ"] == pytest.approx(exp["alpha_PQ"])
    # export as ImagenHub TSVs: the same cells come back
    out = tmp_path / "export"
    assert cli("human", "export", "--db", db, "--out", out)[0] == 0
    back = read_imagenhub(out / "imagenhub").sort_values(["model", "uid", "rater"]).reset_index(drop=True)
    orig = read_imagenhub(t2i).sort_values(["model", "uid", "rater"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(back, orig)
    csv = pd.read_csv(out / "ratings.csv")
    assert len(csv) == 4137 and {"rater", "status", "SC", "PQ", "O", "reason", "updated"} <= set(csv.columns)
    # re-importing an edited file updates the rating and keeps its history
    text = (t2i / "Text-To-Image_rater1.tsv").read_text().replace("sample_0.jpg\t[1,1]", "sample_0.jpg\t[0,0]", 1)
    edited = tmp_path / "edit" / "Text-To-Image"
    edited.mkdir(parents=True)
    (edited / "Text-To-Image_rater1.tsv").write_text(text)
    code, out, _ = cli("human", "import-imagenhub", edited, "--db", db, "--study", "imagenhub:Text-To-Image")
    assert code == 0 and "imported 1 ratings" in out and f"({197 * 7 - 1} unchanged)" in out
    row = item_scores(str(db)).query("model == 'DALLE' and instance_id == 'sample_0.jpg' and rater == 'rater1'")
    assert (row["SC"].item(), row["PQ"].item()) == (0.0, 0.0)
    with reading(get_engine(str(db))) as s:
        assert s.query(RatingHistory).count() == 4137 + 1  # unchanged cells add no version


def test_to_tsvs_leaves_unrated_cells_empty():
    frame = pd.DataFrame([("t", "A", "u1", "r1", 1.0, 0.5), ("t", "B", "u2", "r1", 0.0, 1.0)],
                         columns=["task", "model", "uid", "rater", "SC", "PQ"])
    assert to_tsvs(frame) == {"t/t_r1.tsv": "uid\tA\tB\nu1\t[1,0.5]\t\nu2\t\t[0,1]\n"}
