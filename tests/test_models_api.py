"""The api adapter against loopback fake servers speaking the OpenAI Images and Gemini wire formats."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from fake_api import FakeAPI
from ibench.core.paths import DataRoot
from ibench.core.registry import get_task
from ibench.errors import IbenchError
from ibench.models import get_model
from ibench.models.api.render import png
from ibench.run import GenerateOptions, generate
from ibench.run.runner import identity

KEY = "sk-fake-9f2c1e7a55d0b3"


@pytest.fixture
def api(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    with FakeAPI() as server:
        yield server


def _settings(api, tmp_path, provider="openai", **more) -> dict:
    return {"provider": provider, "base_url": api.url + ("/v1" if provider == "openai" else ""),
            "cache_dir": str(tmp_path / "api-cache"), "backoff": 0.01, "concurrency": 2, **more}


def _run(task, api, tmp_path, shared_data, samples=2, limit=2, **more):
    model = get_model("api", **_settings(api, tmp_path, **more))
    return generate(get_task(task), model, DataRoot(shared_data, derived_dir=tmp_path / "d"),
                    GenerateOptions(out=tmp_path / "runs", limit=limit, samples=samples, batch_size=4, progress=False))


def test_openai_edits_send_every_reference_in_marker_order(api, tmp_path, shared_data):
    store, counts = _run("style_subject_control", api, tmp_path, shared_data, samples=1, limit=1)
    assert counts["generated"] == 1
    (req,) = api.requests
    assert req["path"] == "/v1/images/edits" and req["body"]["model"] == "gpt-image-2"
    inst = store.instances()[0]
    root = store.data_root()
    expected = []
    for ref in sorted(inst.instruction.references, key=lambda r: inst.instruction.text.index(f"[{r.marker}]")):
        with Image.open(root.resolve(ref.images[0])) as im:
            expected.append(png(im, 1024))  # what the adapter sends
    assert [name for name, _, _ in req["images"]] == ["image[]"] * 3
    assert [data for _, _, data in req["images"]] == expected
    (gen,) = store.generations()
    assert gen.meta["endpoint"] == "images.edit" and gen.meta["revised_prompt"].startswith("revised: ")
    assert gen.meta["seed_honoured"] is False and "image 1" in req["body"]["prompt"]


def test_text_only_tasks_use_generations(api, tmp_path, shared_data):
    _, counts = _run("txt2img", api, tmp_path, shared_data, samples=1)
    assert counts["generated"] == 2
    assert {r["path"] for r in api.requests} == {"/v1/images/generations"}
    assert all(r["images"] == [] for r in api.requests)


def test_429_then_success_honours_retry_after(api, tmp_path, shared_data):
    api.script.append((429, {"Retry-After": "0.2"}, {"error": {"message": "slow down", "type": "rate_limit",
                                                                "param": None, "code": "rate_limit_exceeded"}}))
    store, counts = _run("txt2img", api, tmp_path, shared_data, samples=1, limit=1, backoff=30.0)
    assert counts["generated"] == 1 and len(api.requests) == 2
    (gen,) = store.generations()
    assert gen.meta["attempts"] == 2 and gen.seconds < 10, "waited Retry-After (0.2 s), not the 30 s backoff"


def test_refusal_recorded_others_fine_and_rerun_makes_no_request(api, tmp_path, shared_data):
    api.refuse = "sneaker"  # the first txt2img instance asks for a red sneaker
    store, counts = _run("txt2img", api, tmp_path, shared_data, samples=2, limit=3)
    refused = [g for g in store.generations() if g.error]
    assert counts == {"generated": 4, "failed": 2, "skipped": 0}
    assert all("refused by openai: moderation_blocked" in g.error for g in refused)
    sent = len(api.requests)
    store2, counts2 = _run("txt2img", api, tmp_path, shared_data, samples=2, limit=3)
    assert store2.path == store.path and len(api.requests) == sent, "a rerun is served from the cache"
    assert counts2 == {"generated": 0, "failed": 2, "skipped": 4}
    files = [p for p in list(store.path.rglob("*")) + list((tmp_path / "api-cache").rglob("*")) if p.is_file()]
    assert len(files) > 10 and not [p for p in files if KEY.encode() in p.read_bytes()], "the key is in no file"


def test_budget_stops_cleanly_and_resumes(api, tmp_path, shared_data):
    with pytest.raises(IbenchError, match="call budget is spent .*max_calls=3.*rerun the same command to resume"):
        _run("txt2img", api, tmp_path, shared_data, samples=2, limit=3, max_calls=3)
    store_path = next((tmp_path / "runs").iterdir())
    from ibench.core.rundir import RunStore

    assert len([g for g in RunStore(store_path).generations() if g.ok]) == 3 and len(api.requests) == 3
    _, counts = _run("txt2img", api, tmp_path, shared_data, samples=2, limit=3)
    assert counts == {"generated": 3, "failed": 0, "skipped": 3} and len(api.requests) == 6


def test_cost_budget_is_calls_at_a_price(api, tmp_path, shared_data):
    with pytest.raises(IbenchError, match="max_calls=2"):
        _run("txt2img", api, tmp_path, shared_data, samples=2, limit=2, max_cost=0.25, cost_per_call=0.1)
    assert len(api.requests) == 2
    with pytest.raises(IbenchError, match="`max_cost` needs `cost_per_call`"):
        get_model("api", **_settings(api, tmp_path, max_cost=1.0))


def test_gemini_interleaves_text_and_images_and_records_blocks(api, tmp_path, shared_data):
    store, counts = _run("style_subject", api, tmp_path, shared_data, provider="gemini", samples=1, limit=1,
                         model="gemini-test-image", aspect_ratio="1:1")
    assert counts["generated"] == 1
    (req,) = api.requests
    assert req["path"].endswith("/models/gemini-test-image:generateContent")
    assert req["headers"].get("x-goog-api-key") == KEY
    parts = req["body"]["contents"][0]["parts"]
    text = store.instances()[0].instruction.text
    assert [("text" if "text" in p else "image") for p in parts] == ["text", "image", "text", "image", "text"]
    assert "".join(p.get("text", "[ref]") for p in parts) == text.replace("[ref#1]", "[ref]").replace("[ref#2]", "[ref]")
    config = req["body"]["generationConfig"]
    (gen,) = store.generations()
    assert config["responseModalities"] == ["IMAGE"] and config["seed"] == gen.seed and gen.meta["seed_sent"] is True
    api.refuse = "sneaker"
    store, counts = _run("txt2img", api, tmp_path, shared_data, provider="gemini", samples=1, limit=2)
    assert counts["failed"] == 1 and counts["generated"] == 1
    assert "PROHIBITED_CONTENT: The prompt was blocked." in next(g.error for g in store.generations() if g.error)


def test_server_errors_exhausted_fail_the_sample_and_are_not_cached(api, tmp_path, shared_data):
    api.script.extend([(503, {}, {"error": {"message": "overloaded", "type": "server_error", "param": None,
                                            "code": None}})] * 2)
    store, counts = _run("txt2img", api, tmp_path, shared_data, samples=1, limit=1, max_retries=1)
    assert counts["failed"] == 1 and "503" in store.generations()[0].error and "gave up after 2 attempts" in store.generations()[0].error
    _, counts = _run("txt2img", api, tmp_path, shared_data, samples=1, limit=1, max_retries=1)
    assert counts["generated"] == 1 and len(api.requests) == 3


def test_bad_key_stops_the_run_in_one_line(api, tmp_path, shared_data):
    api.script.append((401, {}, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                           "param": None, "code": "invalid_api_key"}}))
    with pytest.raises(IbenchError, match="401 Incorrect API key provided"):
        _run("txt2img", api, tmp_path, shared_data, samples=1, limit=1, concurrency=1)


def test_run_id_covers_provider_model_and_output_settings_only(api, tmp_path, shared_data):
    spec, root = get_task("txt2img"), DataRoot(shared_data)

    def run_id(**more):
        return identity(spec, get_model("api", **_settings(api, tmp_path, **more)), 0, root).run_id()

    base = run_id()
    assert run_id(concurrency=8, max_calls=5, max_retries=0, timeout=10.0) == base
    assert len({base, run_id(provider="gemini"), run_id(model="gpt-image-2.6-sunburst"), run_id(size="1536x1024"),
                run_id(quality="high")}) == 5


def test_missing_key_is_one_line(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(IbenchError, match="set the environment variable OPENAI_API_KEY"):
        get_model("api")
    with pytest.raises(IbenchError, match="unknown setting 'api_key'"):
        get_model("api", api_key="sk-nope")


def test_cached_image_is_the_served_image(api, tmp_path, shared_data):
    store, _ = _run("txt2img", api, tmp_path, shared_data, samples=1, limit=1)
    (gen,) = store.generations()
    cached = next((tmp_path / "api-cache").rglob("*.png")).read_bytes()
    with Image.open(io.BytesIO(cached)) as a, Image.open(store.path / gen.image) as b:
        assert a.convert("RGB").tobytes() == b.convert("RGB").tobytes()


def test_missing_sdk_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setitem(sys.modules, "openai", None)  # as if not installed
    with pytest.raises(IbenchError, match=r"needs the 'openai' package: pip install 'ibench\[api\]'"):
        get_model("api")
