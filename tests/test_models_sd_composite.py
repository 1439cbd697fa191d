"""sd-composite on tiny random weights: composite tasks, batch invariance, ControlNet/mask mapping, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ibench.errors import IbenchError
from ibench.core.instance import Instance
from ibench.core.instruction import Instruction, Reference
from ibench.models import get_model
from ibench.models.base import Request
from ibench.core.paths import DataRoot
from ibench.core.registry import get_task
from ibench.run import GenerateOptions, generate
from tiny_pipelines import tiny_composite_config

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_cfg(tmp_path_factory) -> dict:
    return tiny_composite_config(tmp_path_factory.getbasetemp() / "tiny-weights")


def run(task: str, cfg: dict, shared_data, tmp_path, **kw):
    model = get_model("sd-composite", **cfg)  # the registry path a real id takes
    root = DataRoot(shared_data, derived_dir=tmp_path / "derived")
    kw = {"limit": 1, "samples": 1, "progress": False, **kw}
    return generate(get_task(task), model, root, GenerateOptions(out=tmp_path / "runs", **kw))


@pytest.mark.parametrize("task", ["style_subject", "subject_control", "style_subject_control"])
def test_composite_tasks_generate(task, tiny_cfg, shared_data, tmp_path):
    store, counts = run(task, tiny_cfg, shared_data, tmp_path)
    assert counts == {"generated": 1, "failed": 0, "skipped": 0}
    (gen,) = store.generations()
    with Image.open(store.path / gen.image) as im:
        assert im.size == (64, 64)
    settings = store.manifest().identity.model_settings
    assert settings["model"] == tiny_cfg["model"] and settings["steps"] == 2 and settings["subject_scale"] == 0.6
    assert "device" not in settings and "offload" not in settings  # runtime settings stay out of the run id


def _pixels(store) -> dict:
    out = {}
    for g in store.generations():
        with Image.open(store.path / g.image) as im:
            out[g.key] = np.asarray(im, dtype=np.int16)
    return out


def test_same_seed_same_images_for_batch_1_and_4(tiny_cfg, shared_data, tmp_path):
    """Batch size changes float summation order inside CPU kernels (the bare diffusers pipeline differs by
    up to 1/255 too), so images match to within a few levels, not bit for bit; a misrouted seed,
    reference or control map would differ by far more (see the other-key comparison). Measured here: mean
    0.45-0.50 levels with one style layer, 0.56-0.61 with the whole SD 1.5 style block (InstantStyle's)."""
    one, _ = run("style_subject_control", tiny_cfg, shared_data, tmp_path / "b1", limit=2, samples=2, batch_size=1)
    four, _ = run("style_subject_control", tiny_cfg, shared_data, tmp_path / "b4", limit=2, samples=2, batch_size=4)
    a, b = _pixels(one), _pixels(four)
    assert len(a) == 4 and a.keys() == b.keys()
    for key in a:
        diff = np.abs(a[key] - b[key])
        assert diff.max() <= 8 and diff.mean() < 1.0, (key, diff.max(), diff.mean())
        others = [np.abs(a[key] - b[k]).mean() for k in b if k != key]
        assert min(others) > 5 * max(diff.mean(), 0.05)


def test_references_change_the_image(tiny_cfg, shared_data, tmp_path):
    base, _ = run("style_subject", tiny_cfg, shared_data, tmp_path / "a")
    off, _ = run("style_subject", {**tiny_cfg, "subject_scale": 0.0, "style_scale": 0.0}, shared_data, tmp_path / "b")
    assert base.generations()[0].sha256 != off.generations()[0].sha256


def _instance(refs: list[Reference]) -> Instance:
    text = " ".join(f"[{r.marker}]" for r in refs) + ": a dog"
    ins = Instruction(text=text, references=refs, target_prompt="a dog")
    return Instance(id="hand-1", task="hand", task_version=1, family="zero_shot", instruction=ins, checklist=[])


def test_multi_controlnet_mask_and_content(tiny_cfg, shared_data):
    photo = "dreambench/dog/00.jpg"
    style = sorted((shared_data / "styles").rglob("*.jpg"))[0].relative_to(shared_data).as_posix()
    refs = [Reference(marker="ref#1", kind="subject", images=[photo]),
            Reference(marker="ref#2", kind="style", images=[style]),
            Reference(marker="ref#3", kind="control", control="edge", images=[photo]),
            Reference(marker="ref#4", kind="control", control="depth", images=[style]),
            Reference(marker="ref#5", kind="control", control="mask", images=[photo]),
            Reference(marker="ref#6", kind="content", images=[style])]
    model = get_model("sd-composite", **tiny_cfg)
    root = DataRoot(shared_data)
    (image,) = model.generate([Request(_instance(refs), 0, 7, root)])
    assert image.size == (64, 64)
    (mode, controls), = model._pipes
    assert (mode, controls) == ("inpaint", ("edge", "depth"))
    assert type(model._pipes[(mode, controls)].controlnet).__name__ == "MultiControlNetModel"
    # edge only, no mask: a plain ControlNet text-to-image call through the same base modules
    (image2,) = model.generate([Request(_instance(refs[:3]), 0, 7, root)])
    assert ("t2i", ("edge",)) in model._pipes and model._pipes[("t2i", ("edge",))].unet is model.base.unet
    model.close()


def test_capabilities_follow_the_config(tiny_cfg, shared_data, tmp_path):
    model = get_model("sd-composite", **{**tiny_cfg, "controlnets": {}, "mask": None})
    assert model.capabilities == {"subject", "style", "content", "source"}
    with pytest.raises(IbenchError, match="control:edge"):
        generate(get_task("subject_control"), model, DataRoot(shared_data, derived_dir=tmp_path), GenerateOptions(out=tmp_path,
                 limit=1, samples=1, progress=False))


def test_unknown_setting_is_one_line(tiny_cfg):
    with pytest.raises(IbenchError, match="unknown setting 'stpes'") as err:
        get_model("sd-composite", **tiny_cfg, stpes=3)
    assert "\n" not in str(err.value)


def test_offline_missing_weights_name_the_ids(tiny_cfg, capsys, shared_data, tmp_path):
    from ibench.cli import main

    cfg = tmp_path / "model.yaml"
    cfg.write_text(json.dumps({**tiny_cfg, "ip_adapter": "ibench-test/missing-ip-adapter"}))
    with pytest.raises(SystemExit) as exit_:
        main(["generate", "-t", "style_subject", "-m", "sd-composite", "--model-config", str(cfg),
              "-a", "model=ibench-test/missing-sd15", "-d", str(shared_data), "-o", str(tmp_path / "runs")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert "'ibench-test/missing-sd15'" in err and "'ibench-test/missing-ip-adapter'" in err
    assert "HF_HUB_OFFLINE" in err and tiny_cfg["controlnets"]["edge"] not in err


@pytest.mark.parametrize("name, model", [("sd15-composite", "sd-composite"), ("sdxl-composite", "sd-composite"),
                                         ("omnigen", "omnigen"), ("text2img-sd15", "text2img")])
def test_example_configs_use_known_settings(name, model):
    from pathlib import Path

    from ibench.core.yamlio import load_yaml

    cfg = load_yaml(Path(__file__).resolve().parents[1] / "configs" / f"{name}.yaml")
    from ibench.models import BUILTIN, load_class

    settings = load_class(BUILTIN[model]).Settings
    assert cfg and set(cfg) <= set(settings.model_fields), set(cfg) - set(settings.model_fields)
    settings(**cfg)  # every value has the right type


@pytest.mark.parametrize("task, mode, strength", [("text_edit", "i2i", 0.6), ("mask_edit", "inpaint", 1.0),
                                                  ("subject_edit", "inpaint", 1.0)])
def test_editing_tasks_edit_the_source(task, mode, strength, tiny_cfg, shared_data, tmp_path, monkeypatch):
    """``source``: the img2img image (text edits, at source_strength) or the inpainting image under the task's mask."""
    from ibench.data import build_instances

    root = DataRoot(shared_data, derived_dir=tmp_path / "derived")
    inst = build_instances(get_task(task), root, count=1)[0]
    model = get_model("sd-composite", **tiny_cfg)
    assert "source" in model.capabilities
    calls = []
    for pipe_mode in ("i2i", "inpaint"):
        pipe = model._pipeline(type(model._inputs(Request(inst, 0, 1, root)).layout)(pipe_mode, (), 0, 0, False, True))
        original = type(pipe).__call__
        monkeypatch.setattr(type(pipe), "__call__", lambda self, *a, _o=original, **kw: calls.append(kw) or _o(self, *a, **kw))
    (image,) = model.generate([Request(inst, 0, 7, root)])
    assert image.size == (64, 64)
    kw = calls[-1]
    source = Image.open(root.resolve(inst.instruction.of_kind("source")[0].images[0])).convert("RGB").resize((64, 64), Image.BICUBIC)
    given = np.asarray(kw["image"][0], dtype=np.int16)  # (JPEGs are decoded at reduced scale: near, not equal)
    assert np.abs(given - np.asarray(source, dtype=np.int16)).mean() < 4 and kw["strength"] == strength
    assert ("mask_image" in kw) == (mode == "inpaint")
    assert (mode, ()) in model._pipes
    if task == "subject_edit":  # the subject goes to IP-Adapter #1
        assert model._ip_loaded and "ip_adapter_image_embeds" in kw
    model.close()


# -- real-size quality --------------------------------------------------------------------------------
def _edge_instance(rel: str) -> Instance:
    ref = Reference(marker="ref#1", kind="control", control="edge", images=[rel])
    return Instance(id="big-1", task="t", task_version=1, family="in_domain", checklist=[],
                    instruction=Instruction(text="Follow [ref#1]: a city", references=[ref], target_prompt="a city"))


def test_a_large_photo_reaches_the_controlnet_as_crisp_edges_at_the_working_size(tiny_cfg, shared_data, tmp_path):
    """A >= 2048 px photo: its derived edge map is ControlNet's annotator's (shorter side 512, only 0/255), and the
    map the ControlNet gets at 512 x 512 is crisp and about as dense as Canny run on the photo at that size."""
    import cv2
    from types import SimpleNamespace

    from ibench.data.controls import ensure_control

    (tmp_path / "data" / "content").mkdir(parents=True)
    with Image.open(shared_data / "content" / "chicago.jpg") as im:
        big = im.convert("RGB").resize((im.width * 5, im.height * 5), Image.LANCZOS)  # 2560 x 1705
    big.save(tmp_path / "data" / "content" / "big.png")
    root = DataRoot(tmp_path / "data", derived_dir=tmp_path / "derived")
    rel = ensure_control(root, "edge", "content/big.png")
    with Image.open(root.resolve(rel)) as made:
        edges = np.asarray(made)
    assert edges.shape == (512, 768) and set(np.unique(edges)) == {0, 255}

    model = get_model("sd-composite", **{**tiny_cfg, "size": 512})
    seen: dict = {}

    def pipeline(layout):
        def call(**kw):
            seen.update(kw)
            return SimpleNamespace(images=[Image.new("RGB", (512, 512))] * len(kw["prompt"]))
        return call

    model._pipeline = pipeline  # record what the ControlNet pipeline is given, skip the denoising
    model.generate([Request(_edge_instance(rel), 0, 1, root)])
    control = seen["image"][0].numpy()
    assert control.shape == (3, 512, 512)
    assert np.isin(control, (0.0, 1.0)).mean() > 0.99, "crisp 0/1 edges"
    at_size = (cv2.Canny(cv2.resize(np.asarray(big), (512, 512), interpolation=cv2.INTER_AREA), 100, 200) > 0).mean()
    assert 0.75 < (control[0] > 0.5).mean() / at_size < 1.25, "about as many edges as detection at 512"


def test_fit_map_keeps_binary_maps_binary_and_resamples_others():
    from ibench.models.sd_composite import fit_map

    lines = np.zeros((96, 160), np.uint8)
    lines[:, 40] = lines[50, :] = 255
    out = np.asarray(fit_map(Image.fromarray(lines), 64))
    assert out.shape == (64, 64, 3) and set(np.unique(out)) == {0, 255}
    assert (out[..., 0] == 255).any(axis=0).sum() >= 1 and (out[..., 0] == 255).any(axis=1).sum() >= 1
    ramp = np.tile(np.linspace(0, 255, 160).astype(np.uint8), (96, 1))  # a depth map: values in between
    assert len(np.unique(np.asarray(fit_map(Image.fromarray(ramp), 64)))) > 10


def test_instant_style_blocks_are_the_authors_for_sd15_and_sdxl():
    from types import SimpleNamespace

    from ibench.models.sd_composite import instant_style_scale

    def unet(first: int, embed):
        blocks = [SimpleNamespace() for _ in range(first)] + [SimpleNamespace(attentions=[0, 1, 2])] * (4 - first)
        return SimpleNamespace(up_blocks=blocks, config=SimpleNamespace(layers_per_block=2, addition_embed_type=embed))

    assert instant_style_scale(unet(1, None), 0.8) == {"up": {"block_1": [0.8, 0.8, 0.8]}}  # SD 1.5: up_blocks.1
    assert instant_style_scale(unet(0, "text_time"), 0.8) == {"up": {"block_0": [0.0, 0.8, 0.0]}}  # SDXL


def test_the_style_image_reaches_every_layer_of_the_style_block_and_no_other(tiny_cfg, shared_data, tmp_path):
    model = get_model("sd-composite", **{**tiny_cfg, "style_scale": 0.7})
    root = DataRoot(shared_data, derived_dir=tmp_path / "derived")
    ref = Reference(marker="ref#1", kind="style", images=["styles/classic/starry_night.jpg"])
    inst = Instance(id="s-1", task="t", task_version=1, family="in_domain", checklist=[],
                    instruction=Instruction(text="A house in the style of [ref#1]", references=[ref],
                                            target_prompt="a house"))
    model.generate([Request(inst, 0, 1, root)])
    scales = {name: proc.scale[1] for name, proc in model.base.unet.attn_processors.items() if hasattr(proc, "scale")}
    style_block = {n: s for n, s in scales.items() if n.startswith("up_blocks.0.attentions.")}
    assert len(style_block) == 2 and set(style_block.values()) == {0.7}  # the tiny UNet: 2 layers in its first up block
    assert {s for n, s in scales.items() if n not in style_block} == {0.0}


def test_on_sd15s_unet_layout_the_style_reaches_all_of_up_blocks_1(tmp_path):
    """SD 1.5's UNet layout (UpBlock2D first, then three cross-attention up blocks of three layers), at tiny width:
    diffusers applies the InstantStyle scales to up_blocks.1's three attention layers and to nothing else."""
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from ibench.models.sd_composite import instant_style_scale
    from ibench.models.tinysd import tiny_sd_components
    from tiny_pipelines import CROSS_DIM, IP_SUBFOLDER, IP_WEIGHT, save_ip_adapter_for

    torch.manual_seed(0)
    unet = UNet2DConditionModel(block_out_channels=(32, 32, 32, 32), layers_per_block=2, cross_attention_dim=CROSS_DIM,
                                norm_num_groups=8, attention_head_dim=4, sample_size=16)  # SD 1.5's block types
    encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_size=32, intermediate_size=37, num_hidden_layers=1,
                                                             num_attention_heads=4, image_size=32, patch_size=8,
                                                             projection_dim=CROSS_DIM))
    save_ip_adapter_for(unet, encoder, tmp_path / "ip")
    pipe = StableDiffusionPipeline(**{**tiny_sd_components(), "unet": unet}, requires_safety_checker=False)
    pipe.load_ip_adapter([str(tmp_path / "ip")] * 2, subfolder=[IP_SUBFOLDER] * 2, weight_name=[IP_WEIGHT] * 2,
                         image_encoder_folder="image_encoder")
    pipe.set_ip_adapter_scale([0.6, instant_style_scale(pipe.unet, 0.7)])
    style = {n: p.scale[1] for n, p in pipe.unet.attn_processors.items() if hasattr(p, "scale")}
    in_block = {n: s for n, s in style.items() if n.startswith("up_blocks.1.")}
    assert len(in_block) == 3 and set(in_block.values()) == {0.7}
    assert {s for n, s in style.items() if n not in in_block} == {0.0}
