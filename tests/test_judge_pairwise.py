"""``ibench judge pairwise``: both orders, preferences named by model, position bias, Bradley–Terry, the report."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml

from fake_openai import FakeOpenAI, user_text
from judge_fixtures import api_config, make_synthetic_runs, session_cache, verdict_cache  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    return make_synthetic_runs(tmp_path_factory.mktemp("judge-pairwise"), session_cache(tmp_path_factory),
                               models=("references", "tiny"), limit=3, samples=1)


def shown(body: dict) -> list[str]:
    """The data URLs of the two candidates, in the order shown (the last two images of the message)."""
    parts = body["messages"][-1]["content"]
    return [p["image_url"]["url"] for p in parts if p["type"] == "image_url"][-2:]


def test_pairwise_both_orders_preferences_ranking_and_report(runs, verdict_cache, tmp_path, cli):
    import jsonschema

    from ibench.core.pairwise import read_preferences
    from ibench.core.rundir import RunStore
    from ibench.evaluators.judge.api import data_url
    from ibench.ranking import bradley_terry, position_bias

    ref_store, tiny_store = RunStore(runs[0]), RunStore(runs[1])
    refs = {data_url(str(runs[0] / g.image), 64) for g in ref_store.generations()}
    instances = sorted(i.id for i in ref_store.instances())
    biased, unreadable = instances[0], instances[2]
    text_of = {i.id: i.instruction.text for i in ref_store.instances()}
    assert len(set(text_of.values())) == len(text_of)  # the fake judge tells instances apart by their text

    def reply(body, n):
        """Prefer the oracle's image; on one instance always say "1" (position bias); on one, be unreadable."""
        text = user_text(body)
        if text_of[unreadable] in text:
            return "no idea"
        if text_of[biased] in text:
            return json.dumps({"winner": "1", "reasoning": "first"})
        return json.dumps({"winner": "1" if shown(body)[0] in refs else "2", "reasoning": "closer"})

    out = tmp_path / "pairwise"
    with FakeOpenAI(reply) as server:
        config = tmp_path / "judge.yaml"
        config.write_text(yaml.safe_dump(api_config(server.url, max_retries=0)))
        code, stdout, _ = cli("judge", "pairwise", *runs, "--judge-config", config, "-o", out)
        assert code == 0, stdout
        assert server.calls == 2 * len(instances)  # one shared sample per instance, asked in both orders
    prefs = read_preferences(out / "pairwise.jsonl")
    assert len(prefs) == 4 and "2 failed verdicts" in stdout
    assert {(p.instance_id, p.order) for p in prefs} == {(i, o) for i in instances[:2] for o in ("ab", "ba")}
    assert {p.model_a for p in prefs} == {"references"} and {p.model_b for p in prefs} == {"tiny"}
    assert {p.run_a for p in prefs} == {ref_store.manifest().run_id}
    by = {(p.instance_id, p.order): p.winner for p in prefs}
    assert by[(instances[1], "ab")] == "a" and by[(instances[1], "ba")] == "a"  # the oracle wins in either place
    assert by[(instances[0], "ab")] == "a" and by[(instances[0], "ba")] == "b"  # "always the first one"
    assert all(p.judge.startswith("judge:fake-judge@unpinned#") and p.aspect == "sc" for p in prefs)
    verdicts = [json.loads(x) for x in (out / "pairwise_verdicts.jsonl").read_text().splitlines()]
    assert Counter(v["status"] for v in verdicts) == {"ok": 4, "failed": 2}
    assert {v["failure"] for v in verdicts if v["status"] == "failed"} == {"parse"}
    # ranking and bias: the table written equals ranking.bradley_terry on the same records
    table = pd.read_csv(out / "bradley_terry.csv")
    expected = bradley_terry(prefs)
    assert list(table["model"]) == list(expected["model"]) == ["references", "tiny"]
    assert table["theta"].to_numpy() == pytest.approx(expected["theta"].to_numpy())
    assert table["wins"].tolist() == [3, 1]
    first_wins = sum(p.first_won for p in prefs) / len(prefs)
    bias = pd.read_csv(out / "position_bias.csv")
    assert bias["first_wins"].iloc[0] == pytest.approx(first_wins) == pytest.approx(position_bias(prefs)["first_wins"])
    assert "the image shown first won 75.0% of 4 decided verdicts" in stdout
    # the report ranks the same records
    for store in (ref_store, tiny_store):
        store.results_path.write_text(json.dumps(_empty_results(store)))
    code, _, err = cli("report", *runs, "--pairwise", out / "pairwise.jsonl", "--out", tmp_path / "report", "--grid", 0)
    assert code == 0, err
    doc = json.loads((tmp_path / "report" / "results.json").read_text())
    jsonschema.validate(doc, json.loads((ROOT / "docs" / "report-schema.json").read_text()))
    assert [r["model"] for r in doc["judge"]["pairwise"]] == ["references", "tiny"]
    assert doc["judge"]["pairwise"][0]["theta"] == pytest.approx(expected["theta"].iloc[0])
    assert doc["judge"]["position_bias"][0]["first_wins"] == pytest.approx(0.75)
    md = (tmp_path / "report" / "report.md").read_text()
    assert "### Pairwise ranking (Bradley–Terry)" in md
    html = (tmp_path / "report" / "index.html").read_text()
    assert 'id="pairwise-ranking"' in html and 'href="#judge"' in html
    assert (tmp_path / "report" / "tables" / "pairwise.csv").is_file()


def _empty_results(store) -> dict:
    """A scored run with no metric rows (the report needs results.json; pairwise needs no scores)."""
    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.score import score_run

    return score_run(store.path, ScoreOptions(metrics=[]))


def test_pairwise_errors_are_one_line(runs, verdict_cache, cli, tmp_path):
    code, _, err = cli("judge", "pairwise", runs[0], "--judge-config", "vllm", "-o", tmp_path)
    assert code == 2 and "at least two runs" in err
    code, _, err = cli("judge", "pairwise", *runs, "--aspect", "beauty", "--judge-config",
                       yaml_file(tmp_path, api_config("http://127.0.0.1:9/v1")), "-o", tmp_path)
    assert code == 2 and "pairwise aspect 'beauty'" in err


def yaml_file(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "judge.yaml"
    path.write_text(yaml.safe_dump(data))
    return path
