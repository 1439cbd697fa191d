"""Tiny random versions of every extractor, saved to a folder in the formats the real loaders read.

``save_tiny_extractors(folder)`` returns an extractor config dict (``clip``, ``dino``, ``style``,
``inception``, ``depth``, ``dinov2``, ``csd``, ``lpips``, ``face``) that points ibench's real loading code
at them (``face: {model: tiny}`` is the stand-in face analyzer of ``ibench.evaluators.face``). They are the offline
embedded default (``--extractor-config tiny``) and what the tests use: their features are random,
so the scores they give show the pipeline working, not image quality.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

TINY_CLIP = "ibench-tiny-clip"
TINY_CLIP_CFG = {"embed_dim": 32, "quick_gelu": True,
                 "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
                 "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


def save_tiny_clip(folder: Path) -> dict:
    """A tiny open_clip model: its config JSON (registered by name) and a state-dict checkpoint."""
    import open_clip

    folder.mkdir(parents=True, exist_ok=True)
    cfg = folder / f"{TINY_CLIP}.json"
    cfg.write_text(json.dumps(TINY_CLIP_CFG))
    open_clip.add_model_config(str(cfg))
    torch.manual_seed(1)
    model = open_clip.create_model(TINY_CLIP, pretrained=None)
    torch.save(model.state_dict(), folder / "tiny_clip.pt")
    return {"model": TINY_CLIP, "pretrained": str(folder / "tiny_clip.pt"), "config": str(cfg)}


def save_tiny_dino(folder: Path, arch: str = "vit") -> str:
    """A tiny transformers ``ViTModel`` (or ``Dinov2Model``) saved with ``save_pretrained``."""
    from transformers import Dinov2Config, Dinov2Model, ViTConfig, ViTModel

    torch.manual_seed(2)
    kw = dict(image_size=32, patch_size=16, hidden_size=32, num_hidden_layers=1, num_attention_heads=2)
    if arch == "dinov2":
        model = Dinov2Model(Dinov2Config(mlp_ratio=2, **kw))
    else:
        model = ViTModel(ViTConfig(intermediate_size=64, **kw), add_pooling_layer=False)
    model.save_pretrained(folder)
    return str(folder)


def save_tiny_dinov2(folder: Path) -> str:
    """A tiny ``Dinov2Model`` with an image processor that crops 32 px (as dinov2-small's crops 224)."""
    from transformers import BitImageProcessor

    save_tiny_dino(folder, "dinov2")
    BitImageProcessor(size={"shortest_edge": 37}, crop_size={"height": 32, "width": 32}, do_center_crop=True,
                      image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]).save_pretrained(folder)
    return str(folder)


def save_tiny_csd(folder: Path) -> dict:
    """A CSD-format checkpoint (``model_state_dict``, ``module.backbone.*``, style and content heads) for a
    tiny open_clip vision tower, and the open_clip config it needs."""
    import open_clip

    folder.mkdir(parents=True, exist_ok=True)
    cfg = folder / f"{TINY_CLIP}.json"
    cfg.write_text(json.dumps(TINY_CLIP_CFG))
    open_clip.add_model_config(str(cfg))
    torch.manual_seed(6)
    visual = open_clip.create_model(TINY_CLIP, pretrained=None).visual
    state = {f"module.backbone.{k}": v for k, v in visual.state_dict().items() if k != "proj"}
    width = visual.proj.shape[0]
    state["module.last_layer_style"] = torch.randn(width, 16) / width ** 0.5
    state["module.last_layer_content"] = torch.randn(width, 16) / width ** 0.5
    torch.save({"model_state_dict": state, "epoch": 0}, folder / "checkpoint.pth")
    return {"model": TINY_CLIP, "config": str(cfg), "weights": str(folder / "checkpoint.pth")}


def save_tiny_lpips_backbone(folder: Path, net: str = "alex") -> str:
    """torchvision's backbone with random weights, saved as its ImageNet checkpoint is (``features.*``)."""
    import torchvision.models as tvm

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(7)
    model = {"alex": tvm.alexnet, "vgg": tvm.vgg16, "squeeze": tvm.squeezenet1_1}[net](weights=None)
    path = folder / f"{net}-random.pth"
    torch.save({k: v for k, v in model.state_dict().items() if k.startswith("features.")}, path)
    return str(path)


def save_tiny_gram(folder: Path) -> str:
    """timm's ``test_resnet`` (random weights) saved like a hub checkpoint (``local-dir:`` loads it)."""
    import timm
    from timm.models._hub import save_for_hf

    torch.manual_seed(3)
    save_for_hf(timm.create_model("test_resnet", pretrained=False), str(folder), safe_serialization=True)
    return str(folder)


class _TinyLayers(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.conv = nn.Conv2d(3, 24, kernel_size=13, stride=13)
        self.fc1, self.fc2 = nn.Linear(24 * 2, 96), nn.Linear(96, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(x))
        h = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return self.fc2(torch.tanh(self.fc1(h)))


class TinyInception(nn.Module):
    """Shaped like clean-fid's torchscript Inception: a ``layers`` module giving ``dim``-d features
    (2048 like the real one; narrower keeps the 2048x2048 ``sqrtm`` of FID out of fast tests)."""

    def __init__(self, dim: int = 2048):
        super().__init__()
        self.layers = _TinyLayers(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def save_tiny_inception(folder: Path, dim: int = 64) -> str:
    """A scripted tiny feature net saved as ``inception-2015-12-05.pt`` (clean-fid's ``InceptionV3W`` loads it)."""
    import warnings

    torch.manual_seed(4)
    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, but it is clean-fid's format
        torch.jit.script(TinyInception(dim).eval()).save(str(folder / "inception-2015-12-05.pt"))
    return str(folder)


def save_tiny_depth(folder: Path) -> str:
    """A tiny DPT depth model with its image processor (the ``depth-estimation`` pipeline loads it)."""
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    torch.manual_seed(5)
    cfg = DPTConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64, image_size=32,
                    patch_size=8, backbone_out_indices=[0, 1, 2, 3], neck_hidden_sizes=[8, 8, 16, 16],
                    fusion_hidden_size=16, head_in_index=-1)
    DPTForDepthEstimation(cfg).save_pretrained(folder)
    DPTImageProcessor(size={"height": 32, "width": 32}, keep_aspect_ratio=False).save_pretrained(folder)
    return str(folder)


def save_tiny_extractors(folder: Path) -> dict:
    """All tiny extractors under ``folder``; returns the extractor config that points at them.

    Each folder gets a ``.ibench-tiny`` marker, so every tiny extractor's id says what it is."""
    from .tiny_mark import TINY_MARK

    folder = Path(folder)
    config = {"clip": save_tiny_clip(folder / "clip"), "dino": {"model": save_tiny_dino(folder / "dino")},
              "style": {"model": save_tiny_gram(folder / "gram"), "layers": 3},
              "inception": {"weights": save_tiny_inception(folder / "inception")},
              "depth": {"model": save_tiny_depth(folder / "depth")},
              "dinov2": {"model": save_tiny_dinov2(folder / "dinov2")}, "csd": save_tiny_csd(folder / "csd"),
              "lpips": {"net": "alex", "backbone": save_tiny_lpips_backbone(folder / "lpips")},
              "face": {"model": "tiny"}}
    for sub in ("clip", "dino", "gram", "inception", "depth", "dinov2", "csd", "lpips"):
        (folder / sub / f".{TINY_MARK}").write_text("random weights made by ibench.evaluators.tiny\n")
    return config


def tiny_preset() -> dict:
    """The ``tiny`` extractor config: the tiny extractors saved once in the cache dir, then reused."""
    from ibench.core.paths import cache_dir

    folder = cache_dir() / "extractors" / "tiny-v2"  # v2: folders carry the tiny marker
    done = folder / "config.json"
    if done.is_file():
        return json.loads(done.read_text())
    config = save_tiny_extractors(folder)
    done.write_text(json.dumps(config))
    return config
