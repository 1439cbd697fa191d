"""Weights on a user's first day: the hub is asked once whether it answers (a loopback fake hub, and a
closed port, never a real address); offline without HF_HUB_OFFLINE every missing weight of the
scorer and of the model is named in one line; online, the first `ibench score` downloads the
extractors (never stats a hub id as a path) and the second reuses them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from crash_checks import ROOT
from fake_hub import FakeHub
from ibench import weights


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def hub_env(monkeypatch):
    monkeypatch.setenv(weights.UNREACHABLE_ENV, "")
    monkeypatch.delenv(weights.UNREACHABLE_ENV)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    weights._probe.cache_clear()
    yield monkeypatch
    weights._probe.cache_clear()


def test_the_hub_is_asked_once_whether_it_answers(hub_env, tmp_path):
    with FakeHub({}) as hub:
        hub_env.setenv("HF_ENDPOINT", hub.url)
        assert weights.hub_unavailable() is None and weights.hub_unavailable() is None
        assert hub.requests == [("HEAD", "/")]
    url = closed_port()
    hub_env.setenv("HF_ENDPOINT", url)
    reason = weights.hub_unavailable()
    assert reason.startswith(f"the hub at {url} cannot be reached")
    assert weights.offline() and weights.hub_unavailable() == reason  # the libraries are told: no more waiting
    hub_env.delenv(weights.UNREACHABLE_ENV)
    assert weights.hub_unavailable() == "HF_HUB_OFFLINE is set"


def test_missing_weights_are_listed_together(hub_env, tmp_path):
    hub_env.setenv("HF_ENDPOINT", closed_port())
    hub_env.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(weights.MissingWeights) as caught:
        weights.gather([lambda: weights.locate("ibench-test/a", "DINO model", "dino.model"),
                        lambda: weights.locate(str(tmp_path / "nope"), "style CNN", "style.model"),
                        lambda: weights.locate("ibench-test/b", "depth model", "--depth-model")])
    text = str(caught.value)
    assert "\n" not in text and text.startswith("3 weights are not on this machine and the hub at ")
    assert "`hf download ibench-test/a`, `hf download ibench-test/b`" in text and "nope" in text


def child_env(tmp_path, endpoint: str) -> dict:
    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf-home"),
           "IBENCH_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("HF_HUB_OFFLINE", None)
    return env


def ibench(args: list, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ibench", *map(str, args)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)


def one_error(result: subprocess.CompletedProcess) -> str:
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert result.returncode == 2 and "Traceback" not in result.stderr and len(lines) == 1, result.stderr[-3000:]
    return lines[0]


def test_offline_without_hf_hub_offline_names_every_missing_weight_in_one_line(tmp_path):
    env = child_env(tmp_path, closed_port())
    run = ["run", "-t", "style_subject", "-m", "sd-composite", "-a", "model=ibench-test/missing-sd",
           "-a", "ip_adapter=ibench-test/missing-ip", "-d", "synthetic", "-n", "1", "-o", tmp_path / "runs"]
    line = one_error(ibench(run, env))
    for name in ("ibench-test/missing-sd", "ibench-test/missing-ip", "lllyasviel/control_v11p_sd15_canny",
                 "facebook/dino-vits16", "timm/vgg19.tv_in1k", "timm/vit_base_patch32_clip_224.openai",
                 "inception-2015-12-05.pt"):
        assert name in line, (name, line)
    assert "cannot be reached" in line and "--no-score" in line and not (tmp_path / "runs").exists()


@pytest.fixture(scope="module")
def scorable(tmp_path_factory):
    """A generated (unscored) tiny run, and tiny DINO/VGG-like extractors saved as hub repos."""
    from ibench.cli import main
    from ibench.evaluators.tiny import save_tiny_dino, save_tiny_gram

    tmp = tmp_path_factory.mktemp("online")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IBENCH_CACHE_DIR", str(tmp / "cache"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        try:
            main(["generate", "-t", "style_subject", "-d", "synthetic", "-n", "2", "-k", "1", "-o", str(tmp / "runs")])
        except SystemExit as exc:
            assert not exc.code
    return tmp, next((tmp / "runs").iterdir()), {"ibench-test/tiny-dino": save_tiny_dino(tmp / "dino"),
                                                  "ibench-test/tiny-gram": save_tiny_gram(tmp / "gram")}


def test_the_first_score_online_downloads_the_extractors_and_the_second_reuses_them(scorable):
    tmp, run, repos = scorable
    config = tmp / "extractors.yaml"
    config.write_text("dino: {model: ibench-test/tiny-dino}\nstyle: {model: ibench-test/tiny-gram, layers: 3}\n")
    score = ["score", run, "--metrics", "dino,style_gram", "--extractor-config", config, "--workers", "0"]
    with FakeHub(repos) as hub:
        env = child_env(tmp, hub.url)
        first = ibench(score, env)
        assert first.returncode == 0, first.stderr[-3000:]
        downloads = sorted(p for m, p in hub.requests if m == "GET" and "/resolve/" in p)
        assert any(p.endswith("model.safetensors") for p in downloads) and len(downloads) == 4
        ids = json.loads((run / "results.json").read_text())["extractors"]
        del hub.requests[:]
        second = ibench(score, env)
        assert second.returncode == 0, second.stderr[-3000:]
        assert not [p for m, p in hub.requests if "/resolve/" in p]  # from the cache now
    assert json.loads((run / "results.json").read_text())["extractors"] == ids  # same weights, same cache key
    assert all(":hub" not in e["id"] and "snapshots" not in e["id"] for e in ids.values())
    missing = ibench(["score", run, "--metrics", "dino", "--extractor-config", config], child_env(tmp, closed_port()))
    assert missing.returncode == 0  # cached: an unreachable hub no longer matters


def test_an_unknown_hub_id_online_is_one_line(scorable):
    tmp, run, repos = scorable
    config = tmp / "unknown.yaml"
    config.write_text("dino: {model: ibench-test/no-such-dino}\n")
    with FakeHub(repos) as hub:
        line = one_error(ibench(["score", run, "--metrics", "dino", "--extractor-config", config],
                                child_env(tmp / "other", hub.url)))
    assert "ibench-test/no-such-dino" in line and "RepositoryNotFoundError" in line


def test_a_model_repo_is_fetched_as_its_loader_reads_it():
    """Configs and tokenizer files, one weights format per folder (safetensors, else bin), no variant copies
    where plain files exist, no root checkpoints of other formats."""
    listing = ["config.json", "model.safetensors", "pytorch_model.bin", "model.fp16.safetensors", "v1-5.ckpt",
               "tokenizer/vocab.txt", "tokenizer/merges.txt", "tokenizer/spiece.model", "chat_template.jinja",
               "text_encoder/pytorch_model.bin", "unet/diffusion_pytorch_model.fp16.safetensors", "images/a.png",
               "README.md", "sharded/model-00001-of-00002.safetensors", "sharded/model-00002-of-00002.safetensors",
               "sharded/model.safetensors.index.json"]
    assert sorted(weights.model_files(listing)) == sorted([
        "config.json", "model.safetensors", "tokenizer/vocab.txt", "tokenizer/merges.txt", "tokenizer/spiece.model",
        "chat_template.jinja", "text_encoder/pytorch_model.bin", "unet/diffusion_pytorch_model.fp16.safetensors",
        "sharded/model-00001-of-00002.safetensors", "sharded/model-00002-of-00002.safetensors",
        "sharded/model.safetensors.index.json"])


def test_check_all_downloads_nothing_and_locate_all_gives_local_paths(hub_env, tmp_path):
    """A local folder is returned as it is by both; a hub id the hub cannot serve is named (with the flag)."""
    hub_env.setenv("HF_ENDPOINT", closed_port())
    folder = tmp_path / "weights"
    folder.mkdir()
    wanted = {"model": (str(folder), None), "controlnets.edge": ("ibench-test/missing-cn", None)}
    for call in (weights.check_all, weights.locate_all):
        with pytest.raises(weights.MissingWeights) as caught:
            call("toy", wanted)
        assert "'ibench-test/missing-cn'" in str(caught.value) and "`controlnets.edge` in --model-config" in str(caught.value)
    assert weights.check_all("toy", {"model": (str(folder), None)}) is None
    assert weights.locate_all("toy", {"model": (str(folder), None)}) == {"model": str(folder)}
    assert weights.find_local(str(folder), "toy model") == str(folder)
    with pytest.raises(weights.MissingWeights):
        weights.find_local("ibench-test/missing-cn", "toy controlnet")


def test_find_local_online_downloads_nothing(hub_env, tmp_path):
    """An uncached hub id the hub can serve: None (``locate`` would download it), and the hub was only probed."""
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "config.json").write_text("{}")
    with FakeHub({"ibench-test/served": tmp_path / "repo"}) as hub:
        hub_env.setenv("HF_ENDPOINT", hub.url)
        assert weights.find_local("ibench-test/served", "toy model") is None
        assert weights.check_all("toy", {"model": ("ibench-test/served", None)}) is None
        assert hub.requests == [("HEAD", "/")]
