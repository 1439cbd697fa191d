"""omnigen on a tiny random OmniGen pipeline: placeholders, composite tasks, offline error."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from ibench.errors import IbenchError
from ibench.core.instance import Instance
from ibench.core.instruction import Instruction, Reference
from ibench.models import get_model
from ibench.models.base import Request
from ibench.models.omnigen import render_prompt
from ibench.core.paths import DataRoot
from ibench.core.registry import get_task
from ibench.run import GenerateOptions, generate
from tiny_pipelines import save_tiny_omnigen

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def omnigen_cfg(tmp_path_factory) -> dict:
    folder = save_tiny_omnigen(tmp_path_factory.getbasetemp() / "tiny-weights" / "omnigen")
    return {"model": str(folder), "size": 64, "steps": 2, "max_input_image_size": 64}


def test_markers_become_numbered_placeholders(shared_data):
    refs = [Reference(marker="ref#1", kind="subject", caption="the dog",
                      images=["dreambench/dog/00.jpg", "dreambench/dog/01.jpg"]),
            Reference(marker="ref#2", kind="control", control="edge", images=["content/flowers.jpg"])]
    ins = Instruction(text="Show [ref#1] following [ref#2], then [ref#1] again", references=refs, target_prompt="a dog")
    req = Request(Instance(id="x", task="t", task_version=1, family="zero_shot", instruction=ins, checklist=[]), 0, 1,
                  DataRoot(shared_data))
    prompt, images = render_prompt(req, views=2)
    assert prompt == ("Show <img><|image_1|></img> <img><|image_2|></img> following <img><|image_3|></img>, then "
                      "<img><|image_4|></img> <img><|image_5|></img> again")
    assert len(images) == 5 and images[0].tobytes() == images[3].tobytes()
    prompt1, images1 = render_prompt(req, views=1)
    assert prompt1.count("<img>") == 3 and len(images1) == 3


@pytest.mark.parametrize("task", ["style_subject", "subject_control", "style_subject_control"])
def test_composite_tasks_generate(task, omnigen_cfg, shared_data, tmp_path):
    model = get_model("omnigen", **omnigen_cfg)
    calls = []
    call = model.pipe.__call__
    model.pipe = lambda **kw: (calls.append(kw), call(**kw))[1]  # record what OmniGen receives
    store, counts = generate(get_task(task), model, DataRoot(shared_data, derived_dir=tmp_path / "d"), GenerateOptions(out=tmp_path,
                             limit=1, samples=1, progress=False))
    assert counts["generated"] == 1 and counts["failed"] == 0
    (gen,) = store.generations()
    with Image.open(store.path / gen.image) as im:
        assert im.size == (64, 64)
    (kw,) = calls
    n_refs = len(store.instances()[0].instruction.references)
    assert len(kw["input_images"][0]) == n_refs and "[ref#" not in kw["prompt"][0]
    assert all(f"<img><|image_{k}|></img>" in kw["prompt"][0] for k in range(1, n_refs + 1))


def test_offline_missing_model_is_named():
    with pytest.raises(IbenchError, match="'ibench-test/missing-omnigen'.*HF_HUB_OFFLINE"):
        get_model("omnigen", model="ibench-test/missing-omnigen")
