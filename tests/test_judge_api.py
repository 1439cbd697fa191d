"""The judge through the ``openai`` backend against a fake OpenAI-compatible server on 127.0.0.1: values from
canned replies, malformed replies counted, 429/5xx retried, timeouts, refusals, the cache, the key's secrecy."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from fake_openai import Canned, FakeOpenAI, user_text
from judge_fixtures import JUDGE_METRICS, api_config, make_synthetic_runs, session_cache, verdict_cache  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
SCORES = {"The subject is the same as": 4, "The image is in the style of": 9, "The image shows": 7,
          "Naturalness.": 8, "Artifacts.": 6}


def canned(body: dict, n: int) -> str:
    """A score that depends only on the question asked (the first phrase of SCORES found in the last user turn)."""
    text = user_text(body)
    for phrase, score in SCORES.items():
        if phrase in text.split("Semantic consistency.")[-1]:
            return json.dumps({"score": score, "reasoning": f"because {phrase}"})
    raise AssertionError(f"unexpected question: {text[-300:]}")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    return make_synthetic_runs(tmp_path_factory.mktemp("judge-api"), session_cache(tmp_path_factory), models=("tiny",))


def score(run: Path, config: dict, metrics=JUDGE_METRICS, **options) -> dict:
    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.score import score_run

    return score_run(run, ScoreOptions(metrics=metrics, kinds={"judge": {"config": config, **options}}))


def rows(run: Path, metric: str) -> list[dict]:
    return [json.loads(line) for line in (run / "scores" / f"{metric}.jsonl").read_text().splitlines()]


def test_canned_replies_give_the_values_and_a_rerun_makes_no_calls(runs, verdict_cache):
    import jsonschema

    from ibench.core.rundir import RunStore

    run = runs[0]
    n_samples = len(RunStore(run).generations())
    with FakeOpenAI(canned) as server:
        results = score(run, api_config(server.url))
        questions = n_samples * (3 + 2)
        assert server.calls == questions
        body = server.requests[0]["body"]
        assert body["model"] == "fake-judge" and body["temperature"] == 0 and body["seed"] == 0
        assert body["messages"][0]["role"] == "system"
        sc_request = next(r["body"] for r in server.requests if "The subject is the same as" in user_text(r["body"]))
        parts = sc_request["messages"][1]["content"]
        texts = [p["text"] for p in parts if p["type"] == "text"]
        assert any(t.startswith("[ref#1] is a subject reference (") for t in texts)
        assert any(t.startswith("[ref#2] is a style reference") for t in texts)
        assert any("generated image under judgement" in t for t in texts)
        images = [p for p in parts if p["type"] == "image_url"]
        assert all(p["image_url"]["url"].startswith("data:image/png;base64,") for p in images)
        inst = RunStore(run).instances()[0]
        assert len(images) == sum(len(r.images) for r in inst.instruction.references) + 1
        again = score(run, api_config(server.url))
        assert server.calls == questions  # every verdict came from the cache
    jsonschema.validate(results, json.loads((ROOT / "docs" / "results-schema.json").read_text()))
    sc, pq, o = (results["metrics"][m] for m in JUDGE_METRICS)
    assert sc["mean"] == pytest.approx(0.4) and pq["mean"] == pytest.approx(0.6)
    assert o["mean"] == pytest.approx(math.sqrt(0.4 * 0.6))
    assert {c: v["mean"] for c, v in sc["conditions"].items()} == pytest.approx(
        {"checklist:1": 0.7, "checklist:2": 0.4, "checklist:3": 0.9})
    assert sc["checklist"]["checklist:2"] == "The subject is the same as [ref#1]"
    assert sc["verdicts"]["ok"] == 3 * n_samples and sc["verdicts"]["failed"] == 0
    assert sc["judge"]["served_models"] == ["fake-judge-2026-01-01"] and sc["judge"]["fingerprints"] == ["fp_fake"]
    assert sc["judge"]["identity"]["prompts"]["version"] == "v1"
    assert len(sc["judge"]["identity"]["prompts"]["sha256"]) == 64
    assert again["metrics"]["judge_o"]["verdicts"]["cached"] == questions
    assert again["metrics"]["judge_o"]["verdicts"]["calls"] == 0
    assert again["metrics"]["judge_sc"]["mean"] == sc["mean"]
    got = rows(run, "judge_sc")
    assert len(got) == 3 * n_samples and sorted({round(r["value"], 9) for r in got}) == [0.4, 0.7, 0.9]
    log = [json.loads(x) for x in (run / "judge" / "sc.jsonl").read_text().splitlines()]
    assert {r["score"] for r in log} == {4.0, 7.0, 9.0}
    assert all(r["reasoning"].startswith("because") and r["calls"][0]["prompt_tokens"] > 0 for r in log)


def test_a_second_run_sharing_images_makes_no_new_calls(runs, verdict_cache, tmp_path):
    """Another run directory with the same images and instructions: every verdict comes from the cache."""
    import shutil

    other = tmp_path / "other-run"
    shutil.copytree(runs[0], other, ignore=shutil.ignore_patterns("scores", "judge", "results.json"))
    with FakeOpenAI(canned) as server:
        score(runs[0], api_config(server.url))
        first = server.calls
        result = score(other, api_config(server.url))
        assert server.calls == first
    assert result["metrics"]["judge_o"]["verdicts"]["cached"] == first
    assert result["metrics"]["judge_o"]["mean"] == pytest.approx(math.sqrt(0.4 * 0.6))


def test_malformed_replies_are_counted_failures_never_numbers(runs, verdict_cache):
    from ibench.core.rundir import RunStore

    def reply(body, n):
        text = user_text(body)
        if "Artifacts." in text:
            return "The image looks fine, I'd say 7/10."  # no JSON: unparseable
        if "Naturalness." in text:
            return '{"score": 7.5, "reasoning": "not an integer"}'
        return canned(body, n)

    n = len(RunStore(runs[0]).generations())
    with FakeOpenAI(reply) as server:
        results = score(runs[0], api_config(server.url, max_retries=1))
        retried = [r["body"] for r in server.requests if r["body"]["messages"][-1]["role"] == "user"
                   and len(r["body"]["messages"]) == 4]
    pq, sc, o = results["metrics"]["judge_pq"], results["metrics"]["judge_sc"], results["metrics"]["judge_o"]
    assert pq["n_rows"] == 0 and pq["mean"] is None and "no sample has all its verdicts" in pq["skipped"]
    assert pq["verdicts"]["failed"] == 2 * n and pq["verdicts"]["failures"] == {"parse": 2 * n}
    assert pq["verdicts"]["failure_rate"] == 1.0 and pq["samples"]["failed"] == n
    assert pq["verdicts"]["calls"] == 2 * n * 2  # each question asked twice (max_retries 1)
    assert o["n_rows"] == 0 and sc["n_rows"] == 3 * n and sc["verdicts"]["failed"] == 0
    assert len(retried) == 2 * n  # the retry shows the judge its reply and asks again
    assert retried[0]["messages"][2]["role"] == "assistant"
    assert "could not be read" in retried[0]["messages"][3]["content"]
    log = [json.loads(x) for x in (runs[0] / "judge" / "pq.jsonl").read_text().splitlines()]
    assert all(r["status"] == "failed" and r["score"] is None for r in log)
    assert {r["detail"] for r in log} == {"no JSON object with a 'score' field", "score 7.5 is not an integer from 0 to 10"}
    assert not (runs[0] / "scores" / "judge_pq.jsonl").read_text().strip()


def test_rate_limits_and_server_errors_are_retried_with_backoff(runs, verdict_cache):
    seen: set[str] = set()

    def reply(body, n):
        key = json.dumps(body["messages"])
        if key not in seen:
            seen.add(key)
            if n % 2:
                return Canned(status=429, headers={"Retry-After": "0.01"},
                              error={"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"})
            return Canned(status=503, headers={"retry-after-ms": "10"}, error={"message": "overloaded", "type": "server_error"})
        return canned(body, n)

    with FakeOpenAI(reply) as server:
        results = score(runs[0], api_config(server.url, concurrency=2), metrics=["judge_o"])
        asked = len(seen)
        assert server.calls == 2 * asked
        assert server.max_inflight <= 2
    o = results["metrics"]["judge_o"]
    assert o["verdicts"]["failed"] == 0 and o["mean"] == pytest.approx(math.sqrt(0.4 * 0.6))
    assert o["verdicts"]["calls"] == asked  # the SDK's retries of one request are one call


def test_timeouts_fail_the_verdict_and_are_asked_again_next_time(runs, verdict_cache):
    def slow(body, n):
        return Canned(content=canned(body, n), delay=2.0) if "Naturalness." in user_text(body) else canned(body, n)

    with FakeOpenAI(slow) as server:
        results = score(runs[0], api_config(server.url, timeout_s=0.2, max_retries=0, concurrency=8))
    pq = results["metrics"]["judge_pq"]
    assert pq["verdicts"]["failures"] == {"timeout": pq["samples"]["total"]} and pq["n_rows"] == 0
    with FakeOpenAI(canned) as server:  # the timeouts were not cached: only they are asked again
        again = score(runs[0], api_config(server.url))
        assert server.calls == pq["samples"]["total"]
    assert again["metrics"]["judge_pq"]["mean"] == pytest.approx(0.6)


def test_refusals_and_content_filters_are_recorded_and_cached(runs, verdict_cache):
    def reply(body, n):
        text = user_text(body)
        if "The image is in the style of" in text:
            return Canned(status=400, error={"message": "Your request was rejected by the safety system.",
                                             "type": "invalid_request_error", "code": "content_policy_violation"})
        if "Artifacts." in text:
            return Canned(content=None, refusal="I can't help with that.")
        return canned(body, n)

    with FakeOpenAI(reply) as server:
        results = score(runs[0], api_config(server.url))
        first = server.calls
        score(runs[0], api_config(server.url))
        assert server.calls == first  # definitive failures are cached too
    sc, pq = results["metrics"]["judge_sc"], results["metrics"]["judge_pq"]
    n = sc["samples"]["total"]
    assert sc["verdicts"]["failures"] == {"content_filter": n} and sc["n_rows"] == 0
    assert pq["verdicts"]["failures"] == {"refusal": n} and pq["verdicts"]["failure_rate"] == pytest.approx(0.5)


def test_the_api_key_is_sent_but_written_nowhere(runs, verdict_cache, monkeypatch, tmp_path):
    key = "sk-test-SECRET-4242-do-not-store"
    monkeypatch.setenv("IBENCH_TEST_JUDGE_KEY", key)

    def reply(body, n):
        if "Artifacts." in user_text(body):  # an error body that echoes the key
            return Canned(status=500, error={"message": f"internal error for key {key}", "type": "server_error"})
        return canned(body, n)

    config_file = tmp_path / "judge.yaml"
    with FakeOpenAI(reply) as server:
        config_file.write_text(yaml.safe_dump(api_config(server.url, api_key_env="IBENCH_TEST_JUDGE_KEY",
                                                         max_retries=0)))
        results = score(runs[0], str(config_file))
        assert {r["headers"]["authorization"] for r in server.requests} == {f"Bearer {key}"}
    pq = results["metrics"]["judge_pq"]
    assert pq["verdicts"]["failures"] == {"http_500": pq["samples"]["total"]}
    log = (runs[0] / "judge" / "pq.jsonl").read_text()
    assert "internal error for key ***" in log
    for folder in (runs[0], verdict_cache):
        for path in folder.rglob("*"):
            if path.is_file():
                assert key.encode() not in path.read_bytes(), path
                assert b"SECRET-4242" not in path.read_bytes(), path


def test_judge_config_and_endpoint_errors_are_one_line(runs, verdict_cache, monkeypatch, tmp_path, cli):
    from ibench.errors import IbenchError

    monkeypatch.delenv("IBENCH_MISSING_KEY", raising=False)
    with pytest.raises(IbenchError, match="api_key_env IBENCH_MISSING_KEY is not set"):
        score(runs[0], api_config("http://127.0.0.1:9/v1", api_key_env="IBENCH_MISSING_KEY"))
    with pytest.raises(IbenchError, match="cannot reach the judge at http://127.0.0.1:9/v1"):
        score(runs[0], api_config("http://127.0.0.1:9/v1", max_retries=0))
    monkeypatch.setenv("IBENCH_TEST_JUDGE_KEY", "sk-wrong")
    unauthorized = Canned(status=401, error={"message": "Incorrect API key provided: sk-wrong", "type": "invalid_request_error",
                                             "code": "invalid_api_key"})
    with FakeOpenAI(lambda body, n: unauthorized) as server:
        bad = tmp_path / "bad.yaml"
        bad.write_text(yaml.safe_dump(api_config(server.url, api_key_env="IBENCH_TEST_JUDGE_KEY")))
        code, _, err = cli("score", runs[0], "--metrics", "judge_sc", "--judge-config", bad)
    last = err.strip().splitlines()[-1]  # above it: the progress bar
    assert code == 2 and last.startswith("error: judge endpoint") and "refused the API key from $IBENCH_TEST_JUDGE_KEY" in last
    assert "sk-wrong" not in err
    typo = tmp_path / "typo.yaml"
    typo.write_text(yaml.safe_dump({**api_config("http://127.0.0.1:9/v1"), "concurency": 3}))
    code, _, err = cli("score", runs[0], "--metrics", "judge_sc", "--judge-config", typo)
    assert code == 2 and f"{typo}: key 'concurency': unknown key" in err
    code, _, err = cli("score", runs[0], "--metrics", "judge_sc", "--judge-config", "vlm")
    assert code == 2 and "unknown judge config 'vlm'; did you mean 'vllm'?" in err


def test_max_calls_stops_cleanly_and_a_rerun_finishes(runs, verdict_cache, tmp_path, cli):
    from ibench.core.rundir import RunStore

    n = len(RunStore(runs[0]).generations())
    with FakeOpenAI(canned) as server:
        config = tmp_path / "judge.yaml"
        config.write_text(yaml.safe_dump(api_config(server.url, concurrency=2)))
        code, out, _ = cli("score", runs[0], "--metrics", ",".join(JUDGE_METRICS), "--judge-config", config,
                           "--judge-max-calls", 7)
        assert code == 0 and server.calls == 7
        assert "not asked (--judge-max-calls reached): rerun to continue" in out
        partial = json.loads((runs[0] / "results.json").read_text())["metrics"]["judge_o"]
        assert partial["complete"] is False and partial["stopped_by_budget"] is True
        assert partial["verdicts"]["pending"] == 5 * n - 7 and partial["verdicts"]["failed"] == 0
        assert partial["samples"]["scored"] < n
        code, out, _ = cli("score", runs[0], "--metrics", ",".join(JUDGE_METRICS), "--judge-config", config)
        assert code == 0 and server.calls == 5 * n
    done = json.loads((runs[0] / "results.json").read_text())["metrics"]["judge_o"]
    assert done["complete"] is True and done["samples"]["scored"] == n and done["verdicts"]["calls"] == 5 * n - 7
