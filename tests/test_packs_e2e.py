"""Every pack end to end with the tiny model, never the network: ``ibench data fetch --pack`` from a loopback
hub (the dataset's on-hub format) -> ``ibench run --pack`` offline -> ``ibench score`` with the benchmark's
own judge (a loopback OpenAI server answering in the anchor's reply format, prompt files from a loopback
mirror at the pinned commit) and with the tiny in-process judge -> ``ibench report`` with the pack table."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from fake_anchor import AnchorJudge, stand_in
from fake_datasets import FakeDatasetHub, build_datasets
from fake_openai import FakeOpenAI
from ibench.core import deprecations
from ibench.packs import registry
from loopback import FileMirror


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with FakeDatasetHub(build_datasets(tmp_path_factory.mktemp("hub"))) as fake:
        yield fake


@pytest.fixture
def world(hub, tmp_path, monkeypatch):
    """The pack's stand-in prompt files on a mirror, the hub, an official judge; the date before
    gpt-4o-2024-05-13 was shut down (2026-10-23) so the anchors' own judges are still served."""
    from huggingface_hub import constants

    def setup(name: str, judge: AnchorJudge):
        pack, files = stand_in(registry.PACKS[name])
        monkeypatch.setitem(registry.PACKS, name, pack)
        mirror, openai = FileMirror(files).__enter__(), FakeOpenAI(judge, model="gpt-served-2026").__enter__()
        cleanup.extend([mirror, openai])
        for key, value in {"HF_ENDPOINT": hub.url, "HF_HUB_CACHE": str(tmp_path / "hf"), "IBENCH_MIRROR": mirror.url,
                           "OPENAI_BASE_URL": openai.url, "OPENAI_API_KEY": "sk-test"}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(deprecations, "today", lambda: dt.date(2026, 6, 1))
        return pack, openai

    cleanup: list = []
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    yield setup
    for server in cleanup:
        server.__exit__(None, None, None)


def tiny_judge(folder) -> str:
    """The tiny in-process judge (a random Qwen2-VL) asking in generate mode, as a judge config file (short
    replies, no re-asks: its replies never parse; the official judge's tests cover re-asking)."""
    from ibench.evaluators.judge.tiny import tiny_judge_config

    path = folder / "tiny-generate.yaml"
    path.write_text(yaml.safe_dump({**tiny_judge_config(), "mode": "generate", "max_new_tokens": 16, "max_retries": 0,
                                    "batch_size": 16}))
    return str(path)


def end_to_end(cli, tmp_path, monkeypatch, name: str, *run_args) -> dict:
    from huggingface_hub import constants

    root, runs = tmp_path / "root", tmp_path / "runs"
    code, out, err = cli("data", "fetch", "--pack", name, "-d", root)
    assert code == 0, err
    assert f"pack {name}:" in out and "instances" in out
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # everything after the fetch works offline
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    code, out, err = cli("data", "fetch", "--pack", name, "-d", root)
    assert code == 0 and "already fetched" in out, err
    code, _, err = cli("run", "--pack", name, "--model", "tiny", "-d", root, "--out", runs, "--no-score", *run_args)
    assert code == 0, err
    found = sorted(p for p in runs.iterdir() if p.is_dir())
    judge = tiny_judge(tmp_path)
    for run in found:
        for config in ("anchor", judge):
            code, out, err = cli("score", run, "--judge-config", config)
            assert code == 0, err
    code, _, err = cli("report", *found, "-o", tmp_path / "rep", "--grid", 0, "--no-viewer")
    assert code == 0, err
    report = (tmp_path / "rep" / "report.md").read_text()
    assert "## Benchmark packs" in report and "(official)" in report and "tiny-qwen2-vl" in report
    doc = json.loads((tmp_path / "rep" / "results.json").read_text())
    return {"runs": found, "report": report, "doc": doc,
            "results": {r.name: json.loads((r / "pack.json").read_text()) for r in found}}


def judges_of(results: dict) -> tuple[dict, dict]:
    """(the official judge's entry, the tiny judge's entry) of a run's pack.json."""
    entries = list(results["judges"].values())
    return next(j for j in entries if j["official"]), next(j for j in entries if not j["official"])


def check_tiny(tiny: dict) -> None:
    """The tiny random judge's replies never parse: every verdict a counted failure, no number."""
    assert tiny["comparable_with"] == [] and tiny["verdicts"]["ok"] == 0
    assert tiny["verdicts"]["failures"] == {"parse": tiny["verdicts"]["failed"]} and tiny["verdicts"]["failed"] > 0
    assert all(e["value"] is None for e in tiny["headline"].values()) and tiny["coverage"]["samples"]["scored"] == 0


def recomputed(pack, run) -> tuple[dict, dict]:
    """The anchor's aggregation redone from the run's verdict log (what the headline must equal)."""
    from ibench.core.rundir import RunStore
    from ibench.packs.judging import FIELDS

    instances = {i.id: i for i in RunStore(run).instances()}
    official = judges_of(json.loads((run / "pack.json").read_text()))[0]
    log = [json.loads(line) for line in (run / "pack" / f"{official['judge_id']}.jsonl").read_text().splitlines()]
    per: dict = {}
    for v in log:
        per.setdefault((v["instance_id"], v["repeat"]), {})[v["question"]] = v["score"] if v["status"] == "ok" else None
    recs = []
    for (iid, repeat), scores in per.items():
        base = {**FIELDS[pack.name](instances[iid].meta), "instance_id": iid, "repeat": repeat}
        recs += [{**base, "aspect": q, "score": s} for q, s in scores.items()] if pack.name == "dreambench_plus" \
            else [{**base, **scores}]
    return pack.headlines(recs)[0], official


def test_dreambench_plus_end_to_end(world, cli, tmp_path, monkeypatch):
    pack, openai = world("dreambench_plus", AnchorJudge(refuse=("a kitten in the snow",), garble=("a kitten on a beach",)))
    got = end_to_end(cli, tmp_path, monkeypatch, "dreambench_plus", "--limit", 4)
    (run,) = got["runs"]
    values, official = recomputed(pack, run)
    assert official["comparable_with"] == ["gpt-4o-2024-05-13 x3"] and official["repeats"] == 3
    for name in ("cp", "pf", "cp_x_pf"):
        assert official["headline"][name]["value"] == pytest.approx(values[name])
    cp = official["headline"]["cp"]
    assert cp["ci_low"] <= cp["value"] <= cp["ci_high"]
    # the refused PF question of one prompt, in each of the 3 runs: counted, and that sample is not in PF's mean
    assert official["verdicts"]["failures"] == {"content_filter": 3} and official["table"]["failed"]["pf"] == 3
    assert official["table"]["samples"] == {"cp": 12, "pf": 9}
    bodies = [r["body"] for r in openai.requests]
    assert {b["temperature"] for b in bodies} == {1.0} and {b["model"] for b in bodies} == {"gpt-4o-2024-05-13"}
    assert len({b["seed"] for b in bodies}) >= 3  # a seed per repeat (and another for the re-asked reply)
    cp_body = next(b for b in bodies if len(b["messages"]) == 3 and "subject" in b["messages"][0]["content"])
    assert [m["role"] for m in cp_body["messages"]] == ["user", "assistant", "user"]
    parts = cp_body["messages"][2]["content"]
    assert [p["type"] for p in parts] == ["image_url", "image_url"] and all(
        p["image_url"]["detail"] == "high" and p["image_url"]["url"].startswith("data:image/jpeg") for p in parts)
    # 4 prompts x (CP + PF) x 3 runs, plus the one re-ask of the unreadable reply; a rescore asks nothing
    assert len(openai.requests) == 4 * 2 * 3 + 1
    code, _, err = cli("score", run, "--judge-config", "anchor")
    assert code == 0 and len(openai.requests) == 25, err
    check_tiny(judges_of(got["results"][run.name])[1])
    assert "| DreamBooth LoRA SDXL v1.0 | gpt-4o-2024-05-13 x3 |" in got["report"]  # the published PF rows beside


def test_omnicontext_end_to_end(world, cli, tmp_path, monkeypatch):
    pack, openai = world("omnicontext", AnchorJudge(refuse=("The woman from image 1 reads",)))
    got = end_to_end(cli, tmp_path, monkeypatch, "omnicontext")
    (run,) = got["runs"]
    values, official = recomputed(pack, run)
    assert official["headline"]["en/o"]["value"] == pytest.approx(values["en/o"]) and values["en/o"] is not None
    assert official["verdicts"]["failures"] == {"content_filter": 2}  # PF and SC both show the instruction
    assert official["coverage"]["samples"] == {"planned": 4, "scored": 3, "failed": 1, "missing": 0}
    assert official["comparable_with"] == ["gpt-4.1"]  # the judge of OmniContext's published rows
    assert "| GPT-4o | gpt-4.1 |" in got["report"] and "yes (gpt-4.1)" in got["report"]  # published rows beside
    bodies = [r["body"] for r in openai.requests]
    assert all("temperature" not in b for b in bodies) and {b["max_completion_tokens"] for b in bodies} == {1400}
    assert {b["model"] for b in bodies} == {"gpt-4.1-2025-04-14"}  # the alias the anchor sends, pinned
    scene = next(b for b in bodies if "The man stands" in b["messages"][0]["content"][0]["text"] and "Scene" in
                 b["messages"][0]["content"][0]["text"])
    assert len(scene["messages"][0]["content"]) == 4  # the prompt, two input images, the output
    check_tiny(judges_of(got["results"][run.name])[1])
    # rescored where the verdict cache is empty, with a call budget: the paid-for verdicts stay
    monkeypatch.setenv("IBENCH_CACHE_DIR", str(tmp_path / "empty-cache"))
    asked = len(openai.requests)
    code, _, err = cli("score", run, "--judge-config", "anchor", "--judge-max-calls", 1)
    assert code == 0 and len(openai.requests) == asked + 1, err
    again = judges_of(json.loads((run / "pack.json").read_text()))[0]
    assert again["headline"]["en/o"] == official["headline"]["en/o"] and again["verdicts"]["pending"] == 0
    assert again["verdicts"]["ok"] == official["verdicts"]["ok"] and again["coverage"] == official["coverage"]
    assert again["verdicts"]["failures"] == official["verdicts"]["failures"]  # the refusal asked again, refused again


def test_gedit_bench_end_to_end(world, cli, tmp_path, monkeypatch):
    pack, openai = world("gedit_bench", AnchorJudge(refuse=("make the car red",)))
    got = end_to_end(cli, tmp_path, monkeypatch, "gedit_bench")
    (run,) = got["runs"]
    values, official = recomputed(pack, run)
    for name in ("en/full/sc", "en/full/pq", "en/full/o"):
        assert official["headline"][name]["value"] == pytest.approx(values[name]) and values[name] is not None
    assert official["headline"]["en/intersection/o"]["value"] is None  # not every category has an intersection row
    from ibench.core.rundir import RunStore

    meta = {i.id: i.meta for i in RunStore(run).instances()}
    ok: dict = {}
    for line in (run / "pack" / f"{official['judge_id']}.jsonl").read_text().splitlines():
        v = json.loads(line)
        ok[v["instance_id"]] = ok.get(v["instance_id"], True) and v["status"] == "ok"
    english = [iid for iid, good in ok.items() if good and meta[iid]["language"] == "en"]
    assert official["headline"]["en/full/o"]["n"] == len(english) < official["coverage"]["samples"]["scored"]
    assert official["headline"]["en/intersection/o"]["n"] == sum(meta[i]["intersection"] for i in english)
    assert official["comparable_with"] == ["gpt-4.1"]
    assert official["verdicts"]["failures"] == {"content_filter": 1}  # the red-car edit's SC (PQ shows no instruction)
    assert "| tiny | judge:gpt-4.1-2025-04-14" in got["report"] and "yes (gpt-4.1)" in got["report"]
    rows = [r for r in got["doc"]["packs"] if r["metric"] == "en/full/o" and r["official"]]
    assert rows and rows[0]["failed"] == 1 and "content_filter" in rows[0]["failures"]
    check_tiny(judges_of(got["results"][run.name])[1])
    # an open judge served by vLLM (the `vllm` preset): the same protocol
    from ibench.evaluators.judge.config import presets

    with FakeOpenAI(AnchorJudge(), model="Qwen/Qwen2.5-VL-72B-Instruct") as server:
        config = {**yaml.safe_load(presets()["vllm"].read_text()), "base_url": server.url}
        (tmp_path / "vllm.yaml").write_text(yaml.safe_dump(config))
        code, out, err = cli("score", run, "--judge-config", tmp_path / "vllm.yaml", "--judge-max-calls", 5)
        assert code == 0 and len(server.requests) == 5, err  # the budget: the rest is not asked, and not a failure
        budgeted = next(j for j in json.loads((run / "pack.json").read_text())["judges"].values()
                        if j["model"] == "Qwen/Qwen2.5-VL-72B-Instruct")
        assert budgeted["verdicts"]["pending"] == 26 - 5 and budgeted["verdicts"]["failed"] == 0
        assert budgeted["coverage"]["reasons"] == {"judge: not asked (--judge-max-calls)": 13 - 2}
        code, out, err = cli("score", run, "--judge-config", tmp_path / "vllm.yaml")  # resumes: asks only the rest
        assert code == 0 and len(server.requests) == 26, err
        assert all(r["body"]["temperature"] == 0.0 for r in server.requests)  # an open judge: greedy, reproducible
    open_judge = next(j for j in json.loads((run / "pack.json").read_text())["judges"].values()
                      if j["model"] == "Qwen/Qwen2.5-VL-72B-Instruct")
    assert not open_judge["official"] and open_judge["comparable_with"] == []  # bf16: not the anchor's checkpoint
    assert open_judge["headline"]["en/full/o"]["value"] is not None and "not comparable" in out
    # the AWQ checkpoint the anchor's Qwen rows were judged with is comparable with them
    with FakeOpenAI(AnchorJudge(), model="Qwen/Qwen2.5-VL-72B-Instruct-AWQ") as server:
        (tmp_path / "awq.yaml").write_text(yaml.safe_dump(
            {**config, "base_url": server.url, "model": "Qwen/Qwen2.5-VL-72B-Instruct-AWQ"}))
        code, out, err = cli("score", run, "--judge-config", tmp_path / "awq.yaml")
        assert code == 0 and len(server.requests) == 26, err
    awq = next(j for j in json.loads((run / "pack.json").read_text())["judges"].values()
               if j["model"] == "Qwen/Qwen2.5-VL-72B-Instruct-AWQ")
    assert awq["comparable_with"] == ["Qwen2.5-VL-72B-AWQ"] and "comparable with the published Qwen2.5-VL-72B-AWQ" in out


def test_imagenhub_end_to_end(world, cli, tmp_path, monkeypatch):
    pack, openai = world("imagenhub", AnchorJudge(refuse=("Make the sky pink",)))
    got = end_to_end(cli, tmp_path, monkeypatch, "imagenhub")
    assert len(got["runs"]) == 5  # one run per sub-task
    by_subset = {r["subset"]: r for r in got["results"].values()}
    tie = judges_of(by_subset["text_guided_ie"])[0]
    assert tie["verdicts"]["failures"] == {"content_filter": 1} and tie["headline"]["text_guided_ie/o"]["value"] is None
    for subset in ("subject_driven_ig", "multi_concept_ic", "control_guided_ig", "subject_driven_ie"):
        run = next(r for r in got["runs"] if r.name.startswith(f"pack_imagenhub_{subset}-"))
        values, official = recomputed(pack, run)
        assert official["headline"][f"{subset}/o"]["value"] == pytest.approx(values[f"{subset}/o"])
        assert 0 <= values[f"{subset}/o"] <= 1 and official["comparable_with"] == []
    bodies = [r["body"] for r in openai.requests]
    msdig = next(b for b in bodies if "msdig_rule_SC" in b["messages"][0]["content"][0]["text"])
    assert len(msdig["messages"][0]["content"]) == 3  # the prompt, the two concepts side by side, the output
    sdie = next(b for b in bodies if "sdie_rule_SC" in b["messages"][0]["content"][0]["text"])
    assert "backpack" in sdie["messages"][0]["content"][0]["text"] and len(sdie["messages"][0]["content"]) == 4


def test_the_anchors_shut_down_judge_is_refused_in_one_line(cli, tmp_path):
    from ibench.packs import get_pack
    from ibench.packs.judges import judge_config

    with pytest.raises(Exception, match="was shut down by openai on 2026-10-23"):
        judge_config(get_pack("dreambench_plus"), "anchor")
    code, _, err = cli("run", "--pack", "imagenhub:text_guided_ie", "--judge-config", "anchor", "-d", tmp_path)
    assert code == 2 and "DreamBench" not in err and "gpt-4o-2024-05-13 was shut down" in err
    assert len(err.strip().splitlines()) == 1
