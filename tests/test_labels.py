"""One model label everywhere: the rule (``ibench.core.labels``) on hand-made runs, then one set of real
runs through every output that names models — study, admin, stats, exports, report, compare, check."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from human_fixtures import rate_all
from ibench.core.labels import LabelKey, labels, own_label
from report_fixtures import cli_main, report_inputs, score  # noqa: F401 (fixture)

TINY = {"size": 64, "steps": 2, "strength": 0.9}


def key(rid, model="tiny", task="t", defaults=TINY, seed=0, data="d", **settings):  # noqa: ANN001, ANN201
    return LabelKey(rid, task, model, {**(defaults or {}), **settings}, defaults, seed, data)


def test_the_rule_name_plus_only_what_differs():
    assert own_label(key("a")) == "tiny"  # defaults: the name alone
    assert own_label(key("b", steps=8)) == "tiny(steps=8)"  # one setting changed: only it
    assert own_label(key("c", steps=8, strength=0.5)) == "tiny(steps=8, strength=0.5)"
    assert own_label(key("d", model="folder", defaults={}, label="my-api-model", dir="/x")) == "my-api-model"
    assert own_label(LabelKey("e", "t", "tiny", TINY, None)) == "tiny"  # an old run: defaults unknown
    # the same label for a run whatever the order or the other tasks
    runs = [key("a"), key("b", steps=8), key("x", task="u"), key("y", task="u", steps=8)]
    for order in (runs, runs[::-1], runs[1:] + runs[:1]):
        got = labels(order)
        assert (got["a"], got["b"], got["x"], got["y"]) == ("tiny", "tiny(steps=8)", "tiny", "tiny(steps=8)")
    # still alike on one task: what tells them apart, in order settings, seed, data, run id
    old = [LabelKey("p1", "t", "sd", {"steps": 30}, None), LabelKey("p2", "t", "sd", {"steps": 50}, None)]
    assert labels(old) == {"p1": "sd(steps=30)", "p2": "sd(steps=50)"}
    assert labels([key("s0"), key("s1", seed=1)]) == {"s0": "tiny(seed=0)", "s1": "tiny(seed=1)"}
    assert labels([key("d0", data="aaaaaaaaaaaa"), key("d1", data="bbbbbbbbbbbb")]) == {
        "d0": "tiny(data=aaaaaaaa)", "d1": "tiny(data=bbbbbbbb)"}
    assert labels([key("run-aaaaaa"), key("run-bbbbbb")]) == {"run-aaaaaa": "tiny@aaaaaa", "run-bbbbbb": "tiny@bbbbbb"}
    assert labels([key("x8", steps=8), key("y8", steps=8, seed=2)]) == {"x8": "tiny(steps=8, seed=0)",
                                                                        "y8": "tiny(steps=8, seed=2)"}


@pytest.fixture(scope="module")
def three_runs(report_inputs, tmp_path_factory):
    """The session's scored ``tiny`` and ``references`` runs, and a ``tiny`` run with other steps."""
    from ibench.core.paths import DataRoot
    from ibench.core.registry import get_task
    from ibench.models import get_model
    from ibench.run import GenerateOptions, generate

    tmp = tmp_path_factory.mktemp("labels")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IBENCH_CACHE_DIR", str(report_inputs.tmp / "cache"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        root = DataRoot(report_inputs.data, derived_dir=report_inputs.tmp / "derived")
        store, _ = generate(get_task("style_subject"), get_model("tiny", steps=3), root,
                            GenerateOptions(out=tmp / "runs", limit=3, samples=2, progress=False))
    score(store.path, report_inputs.extractors, report_inputs.data, report_inputs.tmp)
    folder = tmp / "all"
    folder.mkdir()
    for run in [*report_inputs.runs, store.path]:
        (folder / run.name).symlink_to(run)
    return folder, store.path


def test_one_run_has_one_label_in_every_output(three_runs, report_inputs, tmp_path, capsys):
    folder, other = three_runs
    runs = sorted(folder.iterdir())
    expected = {"tiny", "tiny(steps=3)", "references"}
    # study and admin views
    from ibench.human_eval.assignment import create_study
    from ibench.human_eval.monitor import flagged_table
    from ibench.human_eval import ratings

    db = tmp_path / "s.db"
    tokens = create_study(str(db), runs, 3, raters_per_item=2, name="labels")
    rate_all(db, tokens)
    from ibench.human_eval.store import get_engine

    engine = get_engine(str(db))
    me = ratings.sign_in(engine, tokens.raters["rater01"])
    ratings.flag(engine, me.rater_id, ratings.queue(engine, me.rater_id)[0].assignment_id, "check")
    assert set(flagged_table(engine, me.study_id)["model"]) <= expected
    # stats (text and JSON) and exports (CSV and ImagenHub TSV headers)
    code, out, _ = cli_main(["human", "stats", "--db", db, "--json"], capsys)
    assert code == 0 and {r["model"] for r in json.loads(out)["summary"]} == expected
    code, out, _ = cli_main(["human", "stats", "--db", db], capsys)
    assert code == 0 and all(m in out for m in expected)
    code, _, _ = cli_main(["human", "export", "--db", db, "--out", tmp_path / "x"], capsys)
    assert code == 0 and set(pd.read_csv(tmp_path / "x" / "ratings.csv")["model"]) == expected
    tsv = next((tmp_path / "x" / "imagenhub").rglob("*.tsv")).read_text().splitlines()[0].split("\t")
    assert set(tsv[1:]) == expected
    # the report: runs, metrics, human tables, markdown, HTML, viewer
    code, _, _ = cli_main(["report", folder, "--study", db, "--out", tmp_path / "r"], capsys)
    doc = json.loads((tmp_path / "r" / "results.json").read_text())
    assert code == 0 and {r["label"] for r in doc["runs"]} == expected
    assert {m["model"] for m in doc["metrics"]} == expected and {h["model"] for h in doc["human"]["summary"]} == expected
    assert {h["model"] for h in doc["headline"]} == expected
    md, html = (tmp_path / "r" / "report.md").read_text(), (tmp_path / "r" / "index.html").read_text()
    assert all(f"| {m} |" in md for m in expected) and "tiny(steps=3)" in html
    assert "tiny@" not in md + html  # no run-id tails: the settings tell them apart
    # compare and check name the runs the same way
    tiny = next(r for r in report_inputs.runs if "-tiny-" in r.name)
    code, out, _ = cli_main(["compare", tiny, other, "--json"], capsys)
    rows = json.loads(out)
    assert code == 0 and {(r["model_a"], r["model_b"]) for r in rows} == {("tiny", "tiny(steps=3)")}
    code, out, _ = cli_main(["compare", tiny, other, "--format", "md"], capsys)
    assert "B `tiny(steps=3)` − A `tiny`" in out
    code, _, _ = cli_main(["baseline", folder, "--out", tmp_path / "b"], capsys)
    assert code == 0 and sorted(p.name for p in (tmp_path / "b").iterdir()) == [
        "style_subject.references.json", "style_subject.tiny.json", "style_subject.tiny_steps=3_.json"]
    code, out, _ = cli_main(["check", folder, "--baseline", tmp_path / "b", "--json"], capsys)
    checked = json.loads(out)
    assert code == 0 and checked["passed"] and {r["run"]["label"] for r in checked["runs"]} == expected
