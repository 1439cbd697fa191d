"""BLIP-Diffusion baselines on tiny random weights laid out like Salesforce's repos: subject (+ edge) runs, one-subject
limit as a recorded failure, category and prompt handling, the depth ControlNet setting."""

from __future__ import annotations

import pytest
import torch

from ibench.core.paths import DataRoot
from ibench.core.registry import get_task
from ibench.data import build_instances
from ibench.errors import IbenchError
from ibench.models import get_model
from ibench.models.base import Request
from ibench.models.blip_diffusion import category, context_prompt
from ibench.run import GenerateOptions, generate
from tiny_multiref import tiny_blip_settings

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def blip(tmp_path_factory):
    base = tmp_path_factory.getbasetemp() / "tiny-weights"
    return {"plain": tiny_blip_settings(base), "control": tiny_blip_settings(base, controlnet=True)}


@pytest.mark.parametrize("name,task", [("blip-diffusion", "subject_gen"), ("blip-diffusion-control", "subject_control")])
def test_subject_tasks_generate_and_record_what_went_in(name, task, blip, shared_data, tmp_path):
    model = get_model(name, **blip["control" if "control" in name else "plain"])
    calls = []
    pipe = model.pipe
    model.pipe = lambda **kw: (calls.append(kw), pipe(**kw))[1]
    store, counts = generate(get_task(task), model, DataRoot(shared_data, derived_dir=tmp_path / "d"),
                             GenerateOptions(out=tmp_path, limit=2, samples=1, batch_size=2, progress=False))
    assert counts["generated"] == 2 and counts["failed"] == 0
    insts = {i.id: i for i in store.instances()}
    for gen in store.generations():
        ins = insts[gen.instance_id].instruction
        assert gen.meta["subject"] == category(ins.of_kind("subject")[0].caption)
        assert len(gen.meta["images"]) == len(ins.references)
    (kw,) = calls
    assert len(kw["reference_image"]) == 2 and kw["source_subject_category"] == kw["target_subject_category"]
    assert ("condtioning_image" in kw) == ("control" in name)


def test_more_than_one_subject_is_a_recorded_failure(blip, shared_data, tmp_path):
    root = DataRoot(shared_data, derived_dir=tmp_path / "d")
    inst = build_instances(get_task("multi_subject"), root, seed=0, count=1)[0]
    model = get_model("blip-diffusion", **blip["plain"])
    (out,) = model.generate([Request(inst, 0, 1, root)])
    assert "exactly one subject reference" in out.reason and "2" in out.reason


def test_category_and_context_prompt():
    assert category("the dog") == "dog" and category("a red cartoon") == "red cartoon"
    assert context_prompt("a dog with a blue house in the background", "dog") == "with a blue house in the background"
    assert context_prompt("a purple can", "can") == "a purple can"


def test_depth_needs_a_controlnet_and_narrows_capabilities(blip):
    with pytest.raises(IbenchError, match="`control: depth` needs `controlnet`"):
        get_model("blip-diffusion-control", control="depth")
    model = get_model("blip-diffusion-control", **blip["control"], control="depth",
                      controlnet=blip["control"]["model"] + "/controlnet")
    assert model.capabilities == {"subject", "control:depth"}


def test_offline_every_missing_weight_is_named_in_one_line():
    with pytest.raises(IbenchError) as caught:
        get_model("blip-diffusion-control", controlnet="ibench-test/missing-depth-controlnet")
    line = str(caught.value)
    assert "\n" not in line and line.startswith("3 weights are not on this machine and HF_HUB_OFFLINE is set")
    for ident in ("'Salesforce/blipdiffusion-controlnet'", "'google-bert/bert-base-uncased'",
                  "'ibench-test/missing-depth-controlnet'"):
        assert ident in line
