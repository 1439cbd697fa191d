"""``ibench report`` on two real scored runs and a rated study: every table against an independent
pandas / sqlite3 / scipy computation, results.json against its JSON Schema."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau, spearmanr

from report_fixtures import cli_main, raw_ratings, raw_scores, report_inputs  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def report_dir(report_inputs, tmp_path_factory) -> Path:
    from ibench.report import build_report, write_report

    out = tmp_path_factory.mktemp("report") / "pilot"
    write_report(build_report(report_inputs.runs, study_db=report_inputs.db, study="pilot", title="pilot"), out)
    return out


@pytest.fixture(scope="module")
def doc(report_dir) -> dict:
    return json.loads((report_dir / "results.json").read_text())


def test_writes_every_file(report_dir):
    for name in ("index.html", "report.md", "results.json"):
        assert (report_dir / name).stat().st_size > 0
    for table in ("runs", "metrics", "items", "human", "table4", "agreement", "correlations"):
        csv, parquet = pd.read_csv(report_dir / "tables" / f"{table}.csv"), pd.read_parquet(
            report_dir / "tables" / f"{table}.parquet")
        assert len(csv) == len(parquet) > 0 and list(csv.columns) == list(parquet.columns)


def test_results_json_validates_against_its_schema(doc):
    schema = json.loads((ROOT / "docs" / "report-schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(doc, schema)
    assert doc["schema"] == "ibench.report/1" and doc["human"]["study"] == "pilot"
    broken = {**doc, "metrics": [{**doc["metrics"][0], "mean": "high"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_metric_table_equals_an_independent_computation(report_inputs, doc, report_dir):
    got = pd.DataFrame(doc["metrics"])
    assert set(got["model"]) == {"tiny", "references"} and set(got["family"]) == {"zero_shot"}
    for run in report_inputs.runs:
        rows = raw_scores(run)
        per_instance = rows.groupby(["metric", "instance_id"])["value"].mean()
        evaluators = json.loads((run / "results.json").read_text())["metrics"]  # the evaluators' own aggregates
        mine = got[got["run_id"] == run.name].set_index("metric")
        assert sorted(mine.index) == sorted(rows["metric"].unique())
        for metric, values in per_instance.groupby(level="metric"):
            assert mine.at[metric, "mean"] == pytest.approx(values.mean(), abs=1e-12)
            assert mine.at[metric, "n"] == values.size == 3
            assert mine.at[metric, "ci_low"] == pytest.approx(evaluators[metric]["ci_low"])
            assert mine.at[metric, "ci_high"] == pytest.approx(evaluators[metric]["ci_high"])
            assert mine.at[metric, "ci_low"] <= mine.at[metric, "mean"] <= mine.at[metric, "ci_high"]
    csv = pd.read_csv(report_dir / "tables" / "metrics.csv")
    np.testing.assert_allclose(csv["mean"], got["mean"])


def _independent_human(db: Path) -> pd.DataFrame:
    r = raw_ratings(db)
    r["O"] = np.sqrt(r["SC"] * r["PQ"])
    per_rater = r.groupby(["task", "model", "rater"])[["SC", "PQ", "O"]].mean()
    out = per_rater.groupby(level=["task", "model"]).agg(["mean", lambda s: s.std(ddof=0)])
    out.columns = [f"{a}_{'mean' if b == 'mean' else 'std'}" for a, b in out.columns]
    out["O_of_means"] = np.sqrt(out["SC_mean"] * out["PQ_mean"])
    return out.reset_index()


def test_human_tables_equal_an_independent_computation(report_inputs, doc):
    expected = _independent_human(report_inputs.db)
    run_model = {"tiny": "tiny", "references": "references"}  # the study's model names are the runs' labels
    summary = pd.DataFrame(doc["human"]["summary"]).set_index("model")
    for row in expected.itertuples():
        got = summary.loc[run_model[row.model]]
        for col in ("SC_mean", "SC_std", "PQ_mean", "PQ_std", "O_mean", "O_std", "O_of_means"):
            assert got[col] == pytest.approx(getattr(row, col), abs=1e-12), col
    # Table 4: a zero-shot block; rows model x (SC, PQ, O per image); the Average over the block's one shared task
    t4 = pd.DataFrame(doc["human"]["table4"])
    assert set(t4["family"]) == {"zero_shot"} and set(t4["task"]) == {"style_subject", "Average"}
    assert doc["human"]["table4_o"] == "per-image" and doc["human"]["table4_measures"]["O"] == "O_mean"
    assert doc["human"]["table4_shared_tasks"] == {"zero_shot": ["style_subject"]}
    for row in expected.itertuples():
        for measure, col in (("SC", "SC_mean"), ("PQ", "PQ_mean"), ("O", "O_mean")):
            cells = t4[(t4["model"] == run_model[row.model]) & (t4["measure"] == measure)].set_index("task")["value"]
            assert cells["style_subject"] == pytest.approx(getattr(row, col))
            assert cells["Average"] == pytest.approx(getattr(row, col))


def test_table4_offers_the_other_o(report_inputs):
    from ibench.report import build_report
    from ibench.report.render import render_markdown

    expected = _independent_human(report_inputs.db).set_index("model")
    report = build_report(report_inputs.runs, study_db=report_inputs.db, study="pilot", grid_instances=0,
                          table4_o="of-means")
    block = report.table4["zero_shot"].set_index(["model", "measure"])
    for model in expected.index:
        assert block.at[(model, "O"), "style_subject"] == pytest.approx(expected.at[model, "O_of_means"])
    md = render_markdown(report)
    assert "this table's O = √(mean SC · mean PQ)" in md and "--table4-o per-image" in md


def test_correlations_equal_scipy_on_independently_joined_images(report_inputs, doc):
    ratings = raw_ratings(report_inputs.db)
    ratings["O"] = np.sqrt(ratings["SC"] * ratings["PQ"])
    human = ratings.groupby(["run_id", "instance_id", "sample"])[["SC", "PQ", "O"]].mean().reset_index()
    frames = []
    for run in report_inputs.runs:
        s = raw_scores(run).groupby(["instance_id", "sample", "metric"])["value"].mean().reset_index()
        s["run_id"] = run.name
        frames.append(s)
    joined = pd.concat(frames).merge(human, on=["run_id", "instance_id", "sample"])
    got = pd.DataFrame(doc["correlations"]).set_index(["metric", "human"])
    assert len(got) == joined["metric"].nunique() * 3
    for (metric, measure), row in got.iterrows():
        g = joined[joined["metric"] == metric]
        assert row["n"] == len(g) == 12  # 2 models x 3 instances x 2 samples, all rated
        sp, kd = spearmanr(g["value"], g[measure]), kendalltau(g["value"], g[measure])
        for name, ref in (("spearman", sp), ("kendall", kd)):
            if math.isnan(ref.statistic):
                assert row[name] is None or math.isnan(row[name])
            else:
                assert row[name] == pytest.approx(ref.statistic) and row[f"{name}_p"] == pytest.approx(ref.pvalue)
                assert row[f"{name}_ci_low"] <= row[name] <= row[f"{name}_ci_high"]


def test_agreement_columns_come_from_the_human_eval_aggregation(report_inputs, doc):
    from ibench.human_eval.aggregate import study_summary

    ref = study_summary(str(report_inputs.db), "pilot").set_index("model")
    for row in doc["human"]["agreement"]:
        for col in ("fleiss_kappa", "kripp_alpha", "fleiss_kappa_SC", "kripp_alpha_PQ"):
            expected = ref.at[row["model"], col]
            assert (row[col] is None and math.isnan(expected)) or row[col] == pytest.approx(expected)


def test_markdown_has_the_same_numbers(doc, report_dir):
    md = (report_dir / "report.md").read_text()
    assert "### Zero-shot" in md and "## Metric–human correlation" in md
    for m in doc["metrics"]:
        assert f"{m['mean']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]" in md
    o = next(c for c in doc["human"]["table4"] if c["measure"] == "O" and c["task"] == "Average")
    assert f"| {o['model']} | O | {o['value']:.3f} |" in md


def test_cli_report_and_user_errors(report_inputs, tmp_path, capsys):
    out = tmp_path / "r"
    code, stdout, _ = cli_main(["report", *report_inputs.runs, "--out", out, "--grid", "1"], capsys)
    assert code == 0 and (out / "index.html").is_file() and "tables" in stdout
    assert json.loads((out / "results.json").read_text())["human"] is None
    code, _, err = cli_main(["report", tmp_path / "nope", "--out", out], capsys)
    assert code == 2 and err.count("\n") == 1 and "does not exist" in err
    code, _, err = cli_main(["report", *report_inputs.runs, "--out", out, "--study", tmp_path / "none.db"], capsys)
    assert code == 2 and "rating database" in err and not (tmp_path / "none.db").exists()
    unscored = tmp_path / "unscored" / report_inputs.runs[0].name
    shutil.copytree(report_inputs.runs[0], unscored, ignore=shutil.ignore_patterns("scores", "results.json"))
    code, _, err = cli_main(["report", unscored, "--out", out], capsys)
    assert code == 2 and "no scored run" in err and "ibench score" in err and err.count("\n") == 1
    # beside scored runs, an unscored one is left out with a warning (and said so in the report)
    code, _, err = cli_main(["report", report_inputs.runs[1], unscored, "--out", out], capsys)
    assert code == 0 and err.startswith("warning: left out") and str(unscored) in err and "ibench score" in err
    doc = json.loads((out / "results.json").read_text())
    assert [r["run_id"] for r in doc["runs"]] == [report_inputs.runs[1].name] and len(doc["warnings"]) == 1
    assert "left out" in (out / "index.html").read_text() and "left out" in (out / "report.md").read_text()


def test_models_are_labelled_by_the_settings_that_tell_them_apart(tmp_path):
    from ibench.core.manifest import Identity, Manifest
    from ibench.report.runs import RunInfo, label_runs

    def run(rid, model, task="t", **settings):
        ident = Identity(task=task, task_version=1, spec_hash="h", model=model, model_settings=settings, seed=0,
                         data="d")
        return RunInfo(tmp_path, Manifest(run_id=rid, identity=ident, family="in_domain", created="", data_root=""),
                       label=model)

    runs = label_runs([run("a1", "tiny", size=64, strength=0.9), run("b2", "tiny", size=64, strength=0.5),
                       run("c3", "references"), run("d4", "tiny", task="u", strength=0.5),
                       run("e5-aaaaaa", "sd", task="u"), run("f6-bbbbbb", "sd", task="u")])
    assert [r.label for r in runs] == ["tiny(strength=0.9)", "tiny(strength=0.5)", "references", "tiny",
                                       "sd@aaaaaa", "sd@bbbbbb"]


def test_json_cleaning_turns_every_non_finite_number_into_null():
    from ibench.core.jsonio import json_safe

    doc = json_safe({"a": float("inf"), "b": [np.float64("nan"), np.float32(-np.inf), 1.5], "c": {"d": np.int64(2)}})
    assert json.loads(json.dumps(doc, allow_nan=False)) == {"a": None, "b": [None, None, 1.5], "c": {"d": 2}}
    assert json_safe({"x": float("inf"), "y": float("nan"), "z": 0.5}) == {"x": None, "y": None, "z": 0.5}
