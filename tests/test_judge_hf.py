"""The ``transformers`` judge backend with a tiny random Qwen2-VL built in code, saved and reloaded through
``AutoModelForImageTextToText`` / ``AutoProcessor``: logprob mode end to end, generate mode's garbage as
counted parse failures, and the weights' one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from judge_fixtures import JUDGE_METRICS, make_synthetic_runs, session_cache, verdict_cache  # noqa: F401 (fixture)

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    from ibench.evaluators.judge.tiny import build_vlm

    base = tmp_path_factory.mktemp("judge-hf")
    return {"vlm": build_vlm(base / "vlm", "tiny", seed=3),
            "runs": make_synthetic_runs(base, session_cache(tmp_path_factory), models=("tiny",), limit=2, samples=1)}


def hf_config(folder: Path, **overrides) -> dict:
    return {"backend": "transformers", "model": str(folder), "mode": "logprob", "device": "cpu", "image_max_side": 56,
            "batch_size": 4, **overrides}


def reference_expectation(folder: Path, query) -> float:
    """The expected score by the documented formula, computed apart: a fresh model, one query, full logits,
    one forward pass for the first digit and one after the digit 1 (no batching, padding or probe trick)."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from ibench.evaluators.judge.backend import load_image

    processor = AutoProcessor.from_pretrained(folder)
    model = AutoModelForImageTextToText.from_pretrained(folder, dtype=torch.float32).eval()
    messages, images = [], []
    for m in query.messages:
        parts = []
        for p in (m["content"] if isinstance(m["content"], list) else [{"type": "text", "text": m["content"]}]):
            if p["type"] == "image":
                images.append(load_image(Path(p["path"]), 56))
                parts.append({"type": "image"})
            else:
                parts.append(p)
        messages.append({"role": m["role"], "content": parts})
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    tok = processor.tokenizer
    digit = {d: tok.convert_tokens_to_ids(str(d)) for d in range(10)}

    def last_probs(suffix: str) -> torch.Tensor:
        inputs = processor(text=[text + suffix], images=[images], return_tensors="pt")
        with torch.no_grad():
            return torch.softmax(model(**inputs).logits[0, -1].float(), dim=-1)

    p0, p1 = last_probs('{"score": '), last_probs('{"score": 1')
    digits_after_1 = sum(float(p1[digit[d]]) for d in range(10))
    raw = {d: float(p0[digit[d]]) for d in range(10)}
    raw[1] = float(p0[digit[1]]) * (1 - digits_after_1)
    raw[10] = float(p0[digit[1]]) * float(p1[digit[0]])
    return sum(k * v for k, v in raw.items()) / sum(raw.values())


def test_logprob_mode_reads_the_expected_score_as_defined(env, verdict_cache):
    from ibench.core.rundir import RunStore
    from ibench.evaluators.judge.cache import NullCache
    from ibench.evaluators.judge.engine import Judge
    from ibench.evaluators.judge.kind import JudgeKind
    from ibench.evaluators.kinds import ScoringContext

    store = RunStore(env["runs"][0])
    ctx = ScoringContext(store=store, manifest=store.manifest(), spec=None, instances={i.id: i for i in store.instances()},
                         ok=store.generations(), root=store.data_root(), config=None, device="cpu", batch_size=1,
                         num_workers=0, progress=False)
    batched = Judge(hf_config(env["vlm"], batch_size=4))
    queries = JudgeKind()._queries(ctx, batched, {"sc", "pq"})
    assert len(queries) == len(ctx.ok) * (3 + 2)
    got = batched.ask(queries)
    single = Judge(hf_config(env["vlm"], batch_size=1), cache=NullCache())
    alone = single.ask(queries[:5])
    for q in queries[:5]:  # batching and left padding change nothing
        assert alone[q.key]["score"] == pytest.approx(got[q.key]["score"], abs=1e-4)
    for q in (queries[0], queries[3]):  # an SC question (references + output) and a PQ one (output only)
        assert got[q.key]["score"] == pytest.approx(reference_expectation(env["vlm"], q), abs=1e-4)
        assert sum(got[q.key]["probs"].values()) == pytest.approx(1, abs=1e-4) and 0 < got[q.key]["mass"] <= 1
    scores = [r["score"] for r in got.values()]
    assert all(0 <= s <= 10 for s in scores) and len(set(np.round(scores, 6))) > 1
    assert all(r["status"] == "ok" and r["calls"][0]["prompt_tokens"] > 100 for r in got.values())
    batched.close()
    single.close()


def test_logprob_mode_scores_a_run_end_to_end(env, verdict_cache, cli):
    import jsonschema

    from ibench.evaluators.results import load_scores
    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.score import score_run

    run = env["runs"][0]
    results = score_run(run, ScoreOptions(metrics=JUDGE_METRICS, kinds={"judge": {"config": hf_config(env["vlm"])}}))
    jsonschema.validate(results, json.loads((ROOT / "docs" / "results-schema.json").read_text()))
    n = results["counts"]["scored"]
    for m in JUDGE_METRICS:
        entry = results["metrics"][m]
        assert entry["verdicts"]["failed"] == 0 and entry["samples"]["scored"] == n and 0 <= entry["mean"] <= 1
    identity = results["metrics"]["judge_sc"]["judge"]["identity"]
    assert identity["model"] == "vlm" and identity["revision"].startswith("local:") and identity["mode"] == "logprob"
    df = load_scores(run)  # SC and PQ as one value per sample: the minimum over conditions
    sc = df[df["metric"] == "judge_sc"].set_index(["instance_id", "sample"])["value"]
    pq = df[df["metric"] == "judge_pq"].set_index(["instance_id", "sample"])["value"]
    o = df[df["metric"] == "judge_o"].set_index(["instance_id", "sample"])["value"]
    raw = load_scores(run, combine=False)
    per_cond = raw[raw["metric"] == "judge_sc"].groupby(["instance_id", "sample"])["value"].min()
    assert np.allclose(sc.sort_index(), per_cond.sort_index()) and len(sc) == n
    assert np.allclose(o.sort_index(), np.sqrt(sc.sort_index() * pq.sort_index()))
    assert results["metrics"]["judge_sc"]["mean"] == pytest.approx(sc.groupby(level=0).mean().mean())
    code, out, _ = cli("score", run, "--metrics", "judge_o", "--judge-config", "tiny")  # the offline preset
    assert code == 0 and "judge_o: " in out and "0 failed" in out


def test_generate_mode_garbage_lands_as_counted_parse_failures(env, verdict_cache):
    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.score import score_run

    run = env["runs"][0]
    config = hf_config(env["vlm"], mode="generate", max_new_tokens=8, max_retries=1)
    results = score_run(run, ScoreOptions(metrics=JUDGE_METRICS, kinds={"judge": {"config": config}}))
    n = results["counts"]["scored"]
    for m in JUDGE_METRICS:
        entry = results["metrics"][m]
        assert entry["n_rows"] == 0 and entry["mean"] is None and "no sample has all its verdicts" in entry["skipped"]
        assert entry["verdicts"]["ok"] == 0 and entry["verdicts"]["failure_rate"] == 1.0
        assert set(entry["verdicts"]["failures"]) == {"parse"}
    assert results["metrics"]["judge_o"]["verdicts"]["failed"] == 5 * n
    assert results["metrics"]["judge_o"]["verdicts"]["calls"] == 2 * 5 * n  # asked again once each
    log = [json.loads(x) for x in (run / "judge" / "sc.jsonl").read_text().splitlines()]
    assert all(r["score"] is None and r["failure"] == "parse" and r["attempts"] == 2 for r in log)
    assert all("(reply cut at max_new_tokens)" in r["detail"] for r in log)
    assert all(r["calls"][0]["completion_tokens"] == 8 for r in log)


def test_missing_judge_weights_are_one_line(tmp_path, monkeypatch):
    from ibench.errors import IbenchError
    from ibench.evaluators.judge.engine import Judge

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(IbenchError) as err:
        Judge({"backend": "transformers", "model": "Qwen/Qwen2.5-VL-7B-Instruct", "revision": "abc123"})
    assert "`hf download Qwen/Qwen2.5-VL-7B-Instruct --revision abc123`" in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(IbenchError, match="judge model folder .*nowhere not found"):
        Judge({"backend": "transformers", "model": str(tmp_path / "nowhere")})
    with pytest.raises(IbenchError, match="mode logprob: backend openai offers generate only"):
        Judge({"backend": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1", "mode": "logprob"})


def test_the_identity_pins_the_weights_not_the_folder(env, tmp_path):
    import shutil

    from ibench.evaluators.judge.engine import Judge
    from ibench.evaluators.judge.tiny import build_vlm

    copy = tmp_path / "elsewhere" / "vlm"
    shutil.copytree(env["vlm"], copy)
    a, b = Judge(hf_config(env["vlm"])), Judge(hf_config(copy, batch_size=1))
    assert a.id == b.id  # where the folder is and how it is batched are no part of the verdicts
    other = Judge(hf_config(build_vlm(tmp_path / "other" / "vlm", "tiny", seed=4)))  # same shapes, other weights
    assert other.identity["revision"] != a.identity["revision"] and other.id != a.id
    assert Judge(hf_config(env["vlm"], image_max_side=64)).id != a.id
    for j in (a, b, other):
        j.close()
