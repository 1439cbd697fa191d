"""``ibench doctor`` against loopback fakes: the hub (a gated repo, a missing one) and the providers' model
look-ups (an unknown model, a retired one), with no generation request; ``ibench run``'s local preflight."""

from __future__ import annotations

import json

import pytest

from fake_gates import FakeProviders, GatedHub
from ibench.core import deprecations

FLUX = "black-forest-labs/FLUX.2-dev"
SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"


@pytest.fixture
def online(monkeypatch, tmp_path):
    """A fake hub reachable online: FLUX.2-dev and SD 1.5 gated (token ``granted`` has access), IP-Adapter public."""
    import huggingface_hub.constants

    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    repos = {FLUX: folder, SD15: folder, "h94/IP-Adapter": folder}
    with GatedHub(repos, {FLUX: {"granted"}, SD15: {"granted"}}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        yield hub


def doctor(cli, *args):
    code, out, err = cli("doctor", "--no-score", "--json", *args)
    return code, json.loads(out), err


def rows_for(rows, item):
    return [r for r in rows if r["item"] == item]


def test_a_gated_id_without_token_and_a_missing_id_are_named(cli, online, tmp_path):
    code, rows, err = doctor(cli, "-t", "style_subject", "-m", "sd-composite", "-o", tmp_path, "-a", "ip_adapter=null",
                             "-a", "controlnets={edge: ibench-test/no-such-controlnet}")
    assert code == 1
    (gated,) = rows_for(rows, SD15)
    assert gated["state"] == "blocker" and "gated" in gated["detail"] and "hf auth login" in gated["detail"]
    (missing,) = rows_for(rows, "ibench-test/no-such-controlnet")
    assert missing["state"] == "blocker" and "has no repo" in missing["detail"]
    blockers = [x for x in err.splitlines() if x.startswith("blocker:")]
    assert len(blockers) == 2 and any(SD15 in b for b in blockers)
    assert any("/auth-check" in p for _, p in online.requests) and not [p for _, p in online.requests if "/resolve/" in p]


def test_a_gated_catalog_model_names_its_licence_page_and_the_token_decides(cli, online, monkeypatch, tmp_path):
    base = ["-t", "style_subject", "-m", "multiref", "--model-config", "flux2-dev", "-o", tmp_path]
    code, rows, _ = doctor(cli, *base)
    (row,) = rows_for(rows, FLUX)
    assert code == 1 and "accept its licence at https://huggingface.co/black-forest-labs/FLUX.2-dev" in row["detail"]
    monkeypatch.setenv("HF_TOKEN", "hf_not_granted")
    code, rows, _ = doctor(cli, *base)
    (row,) = rows_for(rows, FLUX)
    assert code == 1 and "this token has no access" in row["detail"]
    monkeypatch.setenv("HF_TOKEN", "granted")
    import ibench.cli.doctor

    monkeypatch.setattr(ibench.cli.doctor, "_free_gb", lambda path: 500.0)
    code, rows, err = doctor(cli, *base)
    (row,) = rows_for(rows, FLUX)
    assert code == 0, err
    assert row["state"] == "ok" and "~112.2 GB to download" in row["detail"]
    monkeypatch.setattr(ibench.cli.doctor, "_free_gb", lambda path: 100.0)  # the weights no longer fit the disk
    code, rows, err = doctor(cli, *base)
    (disk,) = [r for r in rows if r["kind"] == "disk" and "weights to download" in r["detail"]]
    assert code == 1 and disk["state"] == "blocker" and "~112.2 GB" in disk["detail"]


@pytest.fixture
def providers(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
    monkeypatch.setenv("GEMINI_API_KEY", "g-fake")
    with FakeProviders() as server:
        yield server


@pytest.mark.parametrize("provider,path", [("openai", "/v1"), ("gemini", "")])
def test_a_model_the_provider_does_not_serve_blocks_without_a_generation_request(cli, providers, provider, path, tmp_path):
    args = ["-t", "txt2img", "-m", "api", "-o", tmp_path, "-a", f"provider={provider}",
            "-a", f"base_url={providers.url}{path}"]
    code, rows, err = doctor(cli, *args, "-a", "model=no-such-image-model")
    assert code == 1
    (row,) = rows_for(rows, "no-such-image-model")
    assert row["kind"] == "api" and row["state"] == "blocker"
    assert "no-such-image-model" in err
    assert [r for r in providers.requests if r["method"] == "GET"] and not providers.generation_requests()
    code, rows, err = doctor(cli, *args)  # the default model, which the fake serves
    assert code == 0, err
    assert [r["state"] for r in rows if r["kind"] == "api"] == ["ok"]
    assert not providers.generation_requests()


def test_a_retired_model_is_a_blocker_naming_its_successor(cli, providers, tmp_path):
    code, rows, err = doctor(cli, "-t", "txt2img", "-m", "api", "-o", tmp_path, "-a", "provider=gemini",
                             "-a", f"base_url={providers.url}", "-a", "model=gemini-2.5-flash-image")
    assert code == 1
    shutdown = [r for r in rows if r["kind"] == "shutdown"]
    assert shutdown and shutdown[0]["state"] == "blocker" and "gemini-3.1-flash-image" in shutdown[0]["detail"]
    assert not providers.generation_requests()


def test_the_judge_is_checked_with_its_provider(cli, providers, tmp_path, monkeypatch):
    config = tmp_path / "judge.yaml"
    config.write_text(f"backend: openai\nmodel: no-such-judge\nbase_url: {providers.url}/v1\napi_key_env: OPENAI_API_KEY\n")
    code, rows, _ = doctor(cli, "-m", "tiny", "-o", tmp_path, "--judge-config", config)
    assert code == 1 and [r["state"] for r in rows_for(rows, "no-such-judge")] == ["blocker"]
    monkeypatch.setattr(deprecations, "today", lambda: deprecations.dt.date(2027, 1, 14))
    code, rows, _ = doctor(cli, "-m", "tiny", "-o", tmp_path, "--judge-config", "gpt-4.1")
    assert code == 1 and any("gpt-6-luna" in r["detail"] for r in rows if r["state"] == "blocker")


def test_the_tiny_model_offline_passes(cli, tmp_path):
    code, rows, err = doctor(cli, "-t", "style_subject", "-m", "tiny", "-o", tmp_path)
    assert code == 0, err
    assert {r["kind"] for r in rows} >= {"disk", "shutdown"} and all(r["state"] != "blocker" for r in rows)


def test_run_refuses_a_gated_model_without_token_before_loading(cli, online, tmp_path):
    code, _, err = cli("run", "-t", "style_subject", "-m", "multiref", "--model-config", "flux2-dev", "-d", "synthetic",
                       "-o", tmp_path / "runs", "--no-score")
    lines = [x for x in err.splitlines() if x.strip()]
    assert code == 2 and len(lines) == 1 and "gated" in lines[0] and "HF_TOKEN" in lines[0]
    assert not (tmp_path / "runs").exists() and not online.requests[1:]  # only the reachability probe


def test_offline_a_weight_is_cached_or_named_with_how_to_get_it(cli, tmp_path):
    code, rows, _ = doctor(cli, "-m", "text2img", "-o", tmp_path)  # conftest: HF_HUB_OFFLINE=1, empty cache
    (row,) = rows_for(rows, SD15)
    assert code == 1 and row["state"] == "blocker" and f"hf download {SD15}" in row["detail"]
    local = tmp_path / "sd15"
    local.mkdir()
    code, rows, err = doctor(cli, "-m", "text2img", "-o", tmp_path, "-a", f"model={local}")
    assert code == 0, err
    assert [r["detail"] for r in rows_for(rows, str(local))] == ["text2img model: a local folder"]
