"""The pieces under a pack's judging: the anchors' image preprocessing and encoding, the engine asking in a
benchmark's own reply format (re-asked as it was, failures counted, never a number), cache keys per repeat,
the judge configs (official and open), the stratified bootstrap, and the one pack registry."""

from __future__ import annotations

import base64
import io
import json
import math

import numpy as np
import pytest
from PIL import Image

from ibench.errors import IbenchError
from ibench.packs import get_pack, judges, registry
from ibench.packs.scoring import bootstrap


def picture(tmp_path, name: str, size: tuple[int, int], color=(200, 30, 30)) -> str:
    path = tmp_path / name
    Image.new("RGB", size, color).save(path)
    return str(path)


def test_the_anchors_image_preprocessing(tmp_path):
    from ibench.evaluators.judge.backend import prepare_image

    wide, small = picture(tmp_path, "wide.png", (2000, 1000)), picture(tmp_path, "small.png", (100, 50))
    part = {"path": wide, "preprocess": {"max_area": 1024 * 1024, "multiple": 16}}
    # test_omnicontext_score.py:25-36: scaled to 1024^2 pixels (int of each side), then floored to multiples of 16
    side = math.sqrt(1024 * 1024 / 2e6)
    assert prepare_image(part, 4096).size == (int(2000 * side) // 16 * 16, int(1000 * side) // 16 * 16) == (1440, 720)
    assert prepare_image({"path": small, "preprocess": {"max_area": 1024 * 1024, "multiple": 16}}, 4096).size == (96, 48)
    assert prepare_image({"path": wide, "preprocess": {"resize": [512, 512]}}, 4096).size == (512, 512)
    assert prepare_image({"path": wide, "preprocess": {"resize_like": small}}, 4096).size == (100, 50)
    both = prepare_image({"path": wide, "preprocess": {"concat": [wide, small], "resize": [512, 512]}}, 4096)
    assert both.size == (1024, 512) and both.getpixel((700, 10)) == (200, 30, 30)
    assert prepare_image({"path": wide, "preprocess": {"resize": [512, 512]}}, 256).size == (256, 256)  # then the cap


def test_an_anchor_image_is_sent_as_the_anchor_sends_it(tmp_path):
    from ibench.evaluators.judge.api import image_part

    path = picture(tmp_path, "out.png", (300, 200))
    plain = image_part({"path": path, "sha256": "x"}, 768)
    assert plain["image_url"]["url"].startswith("data:image/png;base64,") and "detail" not in plain["image_url"]
    sent = image_part({"path": path, "preprocess": {"resize": [512, 512]}, "format": "jpeg", "detail": "high"}, 2048)
    assert sent["image_url"]["detail"] == "high" and sent["image_url"]["url"].startswith("data:image/jpeg;base64,")
    with Image.open(io.BytesIO(base64.b64decode(sent["image_url"]["url"].split(",", 1)[1]))) as im:
        assert im.format == "JPEG" and im.size == (512, 512)


def _engine(tmp_path, server_url: str, max_retries: int = 2):
    from ibench.evaluators.judge.cache import VerdictCache
    from ibench.evaluators.judge.engine import Judge

    return Judge({"backend": "openai", "model": "gpt-4.1-2025-04-14", "base_url": server_url, "temperature": None,
                  "max_retries": max_retries, "concurrency": 1}, cache=VerdictCache(tmp_path))


def test_the_engine_asks_in_a_benchmarks_reply_format_and_never_guesses(tmp_path, monkeypatch):
    import functools

    from fake_openai import FakeOpenAI
    from ibench.evaluators.judge.prompts import Query
    from ibench.packs import protocol

    monkeypatch.setenv("IBENCH_CACHE_DIR", str(tmp_path))
    replies = {"a": ["no score here", "still none", '{"score": [7, 5], "reasoning": "ok"}'], "b": ["nothing"] * 3}

    def answer(body, n):
        text = body["messages"][0]["content"]
        return replies[text].pop(0)

    parse = protocol.parse_json_score_list
    with FakeOpenAI(answer) as server:
        judge = _engine(tmp_path, server.url)
        asked = [Query([{"role": "user", "content": t}], "score", f"key-{t}", "sc", parse=parse, retry="repeat", seed=5)
                 for t in ("a", "b")]
        got = judge.ask(asked)
        judge.close()
        bodies = [r["body"] for r in server.requests]
    assert got["key-a"]["status"] == "ok" and got["key-a"]["score"] == [7, 5] and got["key-a"]["attempts"] == 3
    assert got["key-b"]["status"] == "failed" and got["key-b"]["failure"] == "parse" and got["key-b"]["score"] is None
    a = [b for b in bodies if b["messages"][0]["content"] == "a"]
    assert all(b["messages"] == a[0]["messages"] for b in a)  # asked again as it was, as the anchors do
    assert [b["seed"] for b in a] == [5, 1005, 2005] and all("temperature" not in b for b in bodies)


def test_repeats_have_their_own_cache_keys_and_seeds(tmp_path):
    from ibench.core.paths import DataRoot
    from ibench.packs.judging import Asker

    pack = get_pack("dreambench_plus")
    asker = Asker(pack, "judge-1", DataRoot(tmp_path), {}, seed=10)
    image = picture(tmp_path, "x.png", (8, 8))
    messages = [{"role": "user", "content": [{"type": "image", "path": image, "preprocess": {"resize": [512, 512]}}]}]
    done = asker._finish(messages, "high")
    keys = {asker.key(done, r) for r in range(3)}
    assert len(keys) == 3 and asker.key(done, 0) == asker.key(asker._finish(messages, "high"), 0)
    other = asker._finish([{"role": "user", "content": [{"type": "image", "path": image, "preprocess": {}}]}], "high")
    assert asker.key(other, 0) not in keys  # how an image is prepared is part of what was asked
    assert done[0]["content"][0]["format"] == "jpeg" and len(done[0]["content"][0]["sha256"]) == 64


def test_the_official_judge_configs(monkeypatch):
    from ibench.core import deprecations

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setattr(deprecations, "today", lambda: __import__("datetime").date(2026, 6, 1))
    gedit, official = judges.judge_config(get_pack("gedit_bench"), "anchor")
    assert official and gedit.model == "gpt-4.1-2025-04-14" and gedit.temperature is None
    assert gedit.max_new_tokens == 1400 and gedit.settings.base_url == "https://api.openai.com/v1"
    dbp, _ = judges.judge_config(get_pack("dreambench_plus"), "anchor")
    assert dbp.model == "gpt-4o-2024-05-13" and dbp.temperature == 1.0 and dbp.max_new_tokens == 4096
    assert judges.comparable_with(get_pack("gedit_bench"), "gpt-4.1-2025-04-14") == ["gpt-4.1"]
    assert judges.comparable_with(get_pack("gedit_bench"), "Qwen/Qwen2.5-VL-72B-Instruct-AWQ") == ["Qwen2.5-VL-72B-AWQ"]
    assert judges.comparable_with(get_pack("gedit_bench"), "Qwen/Qwen2.5-VL-72B-Instruct") == []  # not its checkpoint
    assert judges.comparable_with(get_pack("imagenhub"), "gpt-4o-2024-05-13") == []  # only Gemini rows are published


def test_an_open_judge_asks_as_the_anchor_asks():
    qwen, official = judges.judge_config(get_pack("gedit_bench"), "qwen2.5-vl-7b")
    assert not official and qwen.mode == "generate" and qwen.max_new_tokens == judges.IN_PROCESS_MAX_TOKENS
    assert qwen.temperature == 0.0 and qwen.max_retries == 0  # greedy: asking again would answer the same
    sampled, _ = judges.judge_config(get_pack("dreambench_plus"), "qwen2.5-vl-7b")
    assert sampled.temperature == 1.0 and sampled.max_retries == 3  # DreamBench++'s three runs need sampling


def test_a_shut_down_official_judge_is_refused_naming_what_to_do():
    with pytest.raises(IbenchError, match=r"gpt-4o-2024-05-13 was shut down by openai on 2026-10-23.*--judge-config"):
        judges.judge_config(get_pack("imagenhub"), "anchor")


def test_the_bootstrap_redraws_within_the_anchors_groups():
    """Two task types, each a constant: any redraw within types keeps OmniContext's mean of type means, so the
    interval is that point; redrawn across types it would move."""
    pack = get_pack("omnicontext")
    recs = [{"instance_id": f"{t}{k}", "key": f"{t}{k}", "task_type": t, "language": "en", "pf": v, "sc": v}
            for t, v in (("single", 2), ("scene", 8)) for k in range(5 if t == "single" else 2)]
    ci = bootstrap(pack, recs, ["en/o"], resamples=300)
    assert ci["en/o"] == (pytest.approx(5.0), pytest.approx(5.0))


def test_one_group_bootstrap_agrees_with_scipys_percentile_interval():
    from scipy.stats import bootstrap as scipy_bootstrap

    pack = get_pack("imagenhub")
    rng = np.random.default_rng(1)
    sc, pq = rng.integers(0, 11, 60), rng.integers(0, 11, 60)
    recs = [{"instance_id": str(k), "uid": str(k), "subset": "text_guided_ie", "sc": [int(a), 10], "pq": [int(b), 10]}
            for k, (a, b) in enumerate(zip(sc, pq))]
    low, high = bootstrap(pack, recs, ["text_guided_ie/o"], resamples=2000)["text_guided_ie/o"]
    o = np.sqrt(sc / 10 * pq / 10)
    ref = scipy_bootstrap((o,), np.mean, n_resamples=2000, method="percentile", rng=np.random.default_rng(7))
    assert low == pytest.approx(ref.confidence_interval.low, abs=0.015)
    assert high == pytest.approx(ref.confidence_interval.high, abs=0.015)


def test_one_registry_lists_every_pack_once_and_names_them_all(cli):
    names = [e.name for e in registry.entries()]
    assert len(names) == len(set(names)) == 7
    assert {e.name for e in registry.entries() if e.kind == registry.BENCHMARK} == set(registry.PACKS)
    with pytest.raises(IbenchError, match="did you mean 'gedit_bench'"):
        registry.lookup("gedit-bench")
    with pytest.raises(IbenchError, match="is a judge-data pack"):
        get_pack("viescore")
    code, out, _ = cli("list", "packs", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and rows["gedit_bench"]["licence"] == "MIT" and "58159f3de668" in rows["gedit_bench"]["revision"]
    assert all(rows[n]["source"] and rows[n]["size"] and rows[n]["judge"] for n in registry.PACKS)
    assert rows["dreambench_plus"]["judge"].startswith("gpt-4o-2024-05-13, temperature 1, 3 runs")
    assert rows["viescore"]["kind"] == "judge-data" and rows["viescore"]["size"].startswith("950 files")
