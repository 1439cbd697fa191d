"""multiref on tiny random pipelines of every preset: composite tasks through the runner, recorded prompts and
image maps, per-instance limits as recorded failures, and the __call__ signatures the presets rely on."""

from __future__ import annotations

import importlib
import inspect

import diffusers
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
from ibench.run import GenerateOptions, generate
from tiny_multiref import tiny_multiref_settings

torch.set_num_threads(1)

#: each preset's pipeline __call__ parameters in diffusers 0.42.1; an upgrade that changes one fails here first
SIGNATURES = {
    "Flux2Pipeline": "image prompt height width num_inference_steps sigmas guidance_scale num_images_per_prompt generator "
                     "latents prompt_embeds output_type return_dict attention_kwargs callback_on_step_end "
                     "callback_on_step_end_tensor_inputs max_sequence_length text_encoder_out_layers "
                     "caption_upsample_temperature",
    "Flux2KleinPipeline": "image prompt height width num_inference_steps sigmas guidance_scale num_images_per_prompt "
                          "generator latents prompt_embeds negative_prompt_embeds output_type return_dict "
                          "attention_kwargs callback_on_step_end callback_on_step_end_tensor_inputs max_sequence_length "
                          "text_encoder_out_layers",
    "QwenImageEditPlusPipeline": "image prompt negative_prompt true_cfg_scale height width num_inference_steps sigmas "
                                 "guidance_scale num_images_per_prompt generator latents prompt_embeds prompt_embeds_mask "
                                 "negative_prompt_embeds negative_prompt_embeds_mask output_type return_dict "
                                 "attention_kwargs callback_on_step_end callback_on_step_end_tensor_inputs "
                                 "max_sequence_length",
    "QwenImage21Pipeline": "prompt image negative_prompt true_cfg_scale height width num_inference_steps sigmas "
                           "num_images_per_prompt generator latents prompt_embeds prompt_embeds_mask negative_prompt_embeds "
                           "negative_prompt_embeds_mask output_type return_dict attention_kwargs callback_on_step_end "
                           "callback_on_step_end_tensor_inputs output_resolution use_kv_cache",
    "ZImageOmniPipeline": "image prompt height width num_inference_steps sigmas guidance_scale cfg_normalization "
                          "cfg_truncation negative_prompt num_images_per_prompt generator latents prompt_embeds "
                          "negative_prompt_embeds output_type return_dict joint_attention_kwargs callback_on_step_end "
                          "callback_on_step_end_tensor_inputs max_sequence_length",
    "OmniGenPipeline": "prompt input_images height width num_inference_steps max_input_image_size timesteps guidance_scale "
                       "img_guidance_scale use_input_image_size_as_output num_images_per_prompt generator latents "
                       "output_type return_dict callback_on_step_end callback_on_step_end_tensor_inputs",
}


def _params(pipeline: str) -> list[str]:
    return [p for p in inspect.signature(getattr(diffusers, pipeline).__call__).parameters if p != "self"]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_call_signature_is_what_the_preset_was_written_for(preset):
    p = PRESETS[preset]
    assert _params(p.pipeline) == SIGNATURES[p.pipeline].split(), (
        f"{p.pipeline}.__call__ changed (diffusers {diffusers.__version__}): re-check preset {preset!r}")
    used = {p.image_arg, p.guidance_arg, "prompt", "height", "width", "num_inference_steps", "generator", "output_type",
            *p.extra} | ({"negative_prompt"} if p.negative_prompt is not None else set())
    used |= {p.reference_side_arg} if p.reference_side_arg else set()
    assert used <= set(_params(p.pipeline))
    module = importlib.import_module(p.module)
    assert all(isinstance(getattr(module, name), int) for name in p.area_globals)


@pytest.fixture(scope="session")
def weights(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "tiny-weights"


@pytest.mark.parametrize("task", ["style_subject", "multi_subject", "style_subject_control"])
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_generate_composite_tasks(preset, task, weights, shared_data, tmp_path):
    model = get_model("multiref", **tiny_multiref_settings(preset, weights))
    calls = []
    pipe = model.pipe
    model.pipe = lambda **kw: (calls.append(kw), pipe(**kw))[1]  # what the pipeline receives
    store, counts = generate(get_task(task), model, DataRoot(shared_data, derived_dir=tmp_path / "d"),
                             GenerateOptions(out=tmp_path, limit=1, samples=2, batch_size=2, progress=False))
    assert counts == {"generated": 2, "failed": 0, "skipped": 0}
    inst = store.instances()[0]
    n_refs = len(inst.instruction.references)
    for gen in store.generations():
        with Image.open(store.path / gen.image) as im:
            assert im.size == (64, 64)
        assert gen.meta["images"] == {r.marker: [k] for k, r in enumerate(inst.instruction.references, 1)}
        assert "[ref#" not in gen.meta["prompt"]
        assert all(PRESETS[preset].marker.format(i=k) in gen.meta["prompt"] for k in range(1, n_refs + 1))
    images = calls[0][PRESETS[preset].image_arg]
    sent = images[0] if PRESETS[preset].per_prompt else images
    assert len(sent) == n_refs and all(max(im.size) <= 64 for im in sent)
    assert sum(len(kw["prompt"]) for kw in calls) == 2, "one image per sample, each sample once"


def _instance(root_dir, sizes: list[tuple[int, int]]) -> Instance:
    refs = []
    for k, size in enumerate(sizes, 1):
        name = f"r{k}-{size[0]}x{size[1]}.png"
        Image.new("RGB", size, (40 * k, 90, 160)).save(root_dir / name)
        refs.append(Reference(marker=f"ref#{k}", kind="subject", caption=f"the thing {k}", images=[name]))
    text = " and ".join(f"[ref#{k}]" for k in range(1, len(sizes) + 1))
    return Instance(id="x-1", task="t", task_version=1, family="zero_shot", checklist=[],
                    instruction=Instruction(text=f"Show {text}", references=refs, target_prompt="things"))


def test_limits_are_recorded_failures_with_a_reason(weights, tmp_path):
    root = DataRoot(tmp_path)
    model = get_model("multiref", **tiny_multiref_settings("flux2-klein", weights))
    too_many = _instance(tmp_path, [(80, 80)] * 5)  # klein: at most 4
    reqs = [Request(too_many, 0, 1, root)]
    (out,) = model.generate(reqs)
    assert "at most 4 reference images" in out.reason and "5" in out.reason
    assert reqs[0].meta["images"] == {f"ref#{k}": [k] for k in range(1, 6)}, "the map is recorded for failures too"
    small = _instance(tmp_path, [(80, 80), (200, 40)])
    (out,) = model.generate([Request(small, 0, 1, root)])
    assert "at least 64 px" in out.reason and "ref#2 is 200x40" in out.reason
    ok = _instance(tmp_path, [(80, 80)])
    mixed = model.generate([Request(small, 0, 1, root), Request(ok, 0, 2, root)])
    assert hasattr(mixed[0], "reason") and isinstance(mixed[1], Image.Image), "one bad instance, the others made"
    wider = get_model("multiref", **tiny_multiref_settings("flux2-klein", weights), max_references=5)
    assert isinstance(wider.generate([Request(too_many, 0, 1, root)])[0], Image.Image)


def test_views_and_repeated_markers_share_image_numbers(shared_data):
    refs = [Reference(marker="ref#1", kind="subject", caption="the dog", images=["dreambench/dog/00.jpg", "dreambench/dog/01.jpg"]),
            Reference(marker="ref#2", kind="style", images=["styles/styledrop/image_01_05.jpg"])]
    ins = Instruction(text="[ref#1] in [ref#2], like [ref#1]", references=refs, target_prompt="a dog")
    req = Request(Instance(id="y", task="t", task_version=1, family="zero_shot", instruction=ins, checklist=[]), 0, 1,
                  DataRoot(shared_data))
    prompt, images, numbers = render(req, PRESETS["flux2-dev"], views=2)
    assert prompt == "image 1 and image 2 in image 3, like image 1 and image 2"
    assert numbers == {"ref#1": [1, 2], "ref#2": [3]} and len(images) == 3
    prompt, _, _ = render(req, PRESETS["qwen-image-2.1"], views=2)
    assert prompt == "<image1> <image2> in <image3>, like <image1> <image2>"


def test_reference_area_globals_are_patched_for_the_call_only(weights, shared_data, tmp_path):
    module = importlib.import_module(PRESETS["qwen-image-edit-plus"].module)
    before = {n: getattr(module, n) for n in PRESETS["qwen-image-edit-plus"].area_globals}
    model = get_model("multiref", **tiny_multiref_settings("qwen-image-edit-plus", weights))
    seen = {}
    pipe = model.pipe
    model.pipe = lambda **kw: (seen.update({n: getattr(module, n) for n in before}), pipe(**kw))[1]
    generate(get_task("style_subject"), model, DataRoot(shared_data, derived_dir=tmp_path / "d"),
             GenerateOptions(out=tmp_path, limit=1, samples=1, progress=False))
    assert seen == {n: 64 * 64 for n in before}
    assert {n: getattr(module, n) for n in before} == before


def test_preset_needing_references_refuses_text_only_tasks(weights, shared_data, tmp_path):
    model = get_model("multiref", **tiny_multiref_settings("qwen-image-edit-plus", weights))
    with pytest.raises(IbenchError, match="without references"):
        generate(get_task("txt2img"), model, DataRoot(shared_data, derived_dir=tmp_path / "d"),
                 GenerateOptions(out=tmp_path, limit=1, samples=1, progress=False))


def test_run_id_names_the_preset_and_resolved_defaults(weights):
    klein = get_model("multiref", **tiny_multiref_settings("flux2-klein", weights))
    dev = get_model("multiref", **tiny_multiref_settings("flux2-dev", weights))
    assert klein.settings()["preset"] == "flux2-klein" and klein.settings() != dev.settings()
    assert get_model("multiref", **{**tiny_multiref_settings("flux2-klein", weights), "steps": None}).settings()["steps"] == 4
    with pytest.raises(IbenchError, match="unknown preset 'flux2-kelin'; did you mean 'flux2-klein'"):
        get_model("multiref", preset="flux2-kelin")


def test_offline_missing_model_is_named():
    with pytest.raises(IbenchError, match="'black-forest-labs/FLUX.2-dev'.*HF_HUB_OFFLINE"):
        get_model("multiref", preset="flux2-dev")


#: the configs this issue ships, and the adapter each is for
CONFIGS = {"flux2-dev": "multiref", "flux2-klein": "multiref", "qwen-image-edit-plus": "multiref",
           "qwen-image-2.1": "multiref", "z-image-omni": "multiref", "omnigen-multiref": "multiref",
           "blip-diffusion": "blip-diffusion", "blip-diffusion-control": "blip-diffusion-control",
           "openai-gpt-image": "api", "gemini-image": "api"}


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_shipped_configs_validate(config):
    from pathlib import Path

    from ibench.core.yamlio import load_yaml
    from ibench.models import BUILTIN, load_class

    path = Path(__file__).resolve().parents[1] / "configs" / f"{config}.yaml"
    settings = load_yaml(path, what="a model config", empty_ok=True)
    load_class(BUILTIN[CONFIGS[config]]).check_options(settings)
    if CONFIGS[config] == "multiref":
        assert settings["model"] == PRESETS[settings["preset"]].model, "the config's id is the preset's default"


def test_the_extending_guides_preset_example_is_the_real_entry():
    """docs/extending.md's "A multiref preset" shows a Preset entry: every field it gives is the real one's."""
    import ast
    import dataclasses
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "extending.md").read_text(encoding="utf-8")
    section = doc.split("## A multiref preset", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)[1]
    entry = ast.parse("{" + code.strip().rstrip(",") + "}", mode="eval").body
    name, call = ast.literal_eval(entry.keys[0]), entry.values[0]
    fields = [f.name for f in dataclasses.fields(PRESETS[name])]
    given = dict(zip(fields, (ast.literal_eval(a) for a in call.args)))
    given.update({k.arg: ast.literal_eval(k.value) for k in call.keywords})
    assert call.func.id == "Preset" and given == {k: getattr(PRESETS[name], k) for k in given}
