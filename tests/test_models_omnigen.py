"""omnigen: the multiref adapter's omnigen preset under its first name and settings, on a tiny random OmniGen
pipeline: placeholders, composite tasks with the arguments the old adapter passed, unchanged run ids, text-only
requests without the image-guidance branch, offline error."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from ibench.core.instance import Instance
from ibench.core.instruction import Instruction, Reference
from ibench.core.paths import DataRoot
from ibench.core.registry import get_task
from ibench.errors import IbenchError
from ibench.models import get_model
from ibench.models.base import Request
from ibench.models.multiref import render
from ibench.models.multiref_presets import PRESETS
from ibench.models.omnigen import OmniGenModel
from ibench.run import GenerateOptions, generate
from tiny_pipelines import save_tiny_omnigen

torch.set_num_threads(1)

#: the omnigen adapter's default run-id settings before it became a multiref alias (its run ids must not change)
OLD_DEFAULTS = {"dtype": "auto", "model": "Shitao/OmniGen-v1-diffusers", "steps": 50, "guidance": 2.5,
                "img_guidance": 1.6, "size": 1024, "max_input_image_size": 1024, "views": 1}
#: the arguments the omnigen adapter passed to OmniGenPipeline
OLD_CALL = {"prompt", "input_images", "height", "width", "num_inference_steps", "guidance_scale", "img_guidance_scale",
            "max_input_image_size", "generator", "output_type"}


@pytest.fixture(scope="session")
def omnigen_cfg(tmp_path_factory) -> dict:
    folder = save_tiny_omnigen(tmp_path_factory.getbasetemp() / "tiny-weights" / "omnigen")
    return {"model": str(folder), "size": 64, "steps": 2, "max_input_image_size": 64}


def recorded(model) -> list[dict]:
    calls, pipe = [], model.pipe
    model.pipe = lambda **kw: (calls.append(kw), pipe(**kw))[1]  # what OmniGen receives
    return calls


def test_markers_become_numbered_placeholders(shared_data):
    refs = [Reference(marker="ref#1", kind="subject", caption="the dog",
                      images=["dreambench/dog/00.jpg", "dreambench/dog/01.jpg"]),
            Reference(marker="ref#2", kind="control", control="edge", images=["content/flowers.jpg"])]
    ins = Instruction(text="Show [ref#1] following [ref#2]", references=refs, target_prompt="a dog")
    req = Request(Instance(id="x", task="t", task_version=1, family="zero_shot", instruction=ins, checklist=[]), 0, 1,
                  DataRoot(shared_data))
    prompt, images, _ = render(req, PRESETS["omnigen"], views=2)
    assert prompt == "Show <img><|image_1|></img> <img><|image_2|></img> following <img><|image_3|></img>"
    assert len(images) == 3


@pytest.mark.parametrize("task", ["style_subject", "subject_control", "style_subject_control"])
def test_composite_tasks_generate_with_the_old_adapters_arguments(task, omnigen_cfg, shared_data, tmp_path):
    model = get_model("omnigen", **omnigen_cfg, img_guidance=1.3)
    calls = recorded(model)
    store, counts = generate(get_task(task), model, DataRoot(shared_data, derived_dir=tmp_path / "d"),
                             GenerateOptions(out=tmp_path, limit=1, samples=1, progress=False))
    assert counts["generated"] == 1 and counts["failed"] == 0
    (gen,) = store.generations()
    with Image.open(store.path / gen.image) as im:
        assert im.size == (64, 64)
    (kw,) = calls
    assert set(kw) == OLD_CALL and kw["img_guidance_scale"] == 1.3 and kw["max_input_image_size"] == 64
    n_refs = len(store.instances()[0].instruction.references)
    assert len(kw["input_images"][0]) == n_refs and "[ref#" not in kw["prompt"][0]
    assert all(f"<img><|image_{k}|></img>" in kw["prompt"][0] for k in range(1, n_refs + 1))


def test_run_ids_are_the_old_adapters(omnigen_cfg):
    assert OmniGenModel.default_settings() == OLD_DEFAULTS
    model = get_model("omnigen", **omnigen_cfg)
    assert model.name == "omnigen"
    assert model.settings() == {**OLD_DEFAULTS, **omnigen_cfg, "steps": 2}
    assert model.options["max_references"] > 100, "the omnigen adapter never refused an instance for its references"


def test_text_only_requests_run_no_image_guidance_branch(omnigen_cfg, shared_data, tmp_path):
    """[None] * n makes OmniGenPipeline run a third (image-guidance) branch; no images at all must be None."""
    model = get_model("omnigen", **omnigen_cfg)
    rows: list[int] = []
    hook = model.pipe.transformer.register_forward_pre_hook(
        lambda mod, args, kwargs: rows.append(kwargs["hidden_states"].shape[0]), with_kwargs=True)
    calls = recorded(model)
    generate(get_task("txt2img"), model, DataRoot(shared_data, derived_dir=tmp_path / "d"),
             GenerateOptions(out=tmp_path, limit=2, samples=1, batch_size=2, progress=False))
    hook.remove()
    (kw,) = calls
    assert kw["input_images"] is None and len(kw["prompt"]) == 2
    assert set(rows) == {4}, "2 prompts x (conditional, unconditional): no third branch"


def test_offline_missing_model_is_named():
    with pytest.raises(IbenchError, match="'ibench-test/missing-omnigen'.*HF_HUB_OFFLINE"):
        get_model("omnigen", model="ibench-test/missing-omnigen")
