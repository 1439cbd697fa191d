"""``sd-composite``: Stable Diffusion (1.5 class or SDXL, by id) with IP-Adapter and ControlNet.

How an instruction's references become pipeline inputs:

* ``subject``  -> IP-Adapter #1 at ``subject_scale`` on every layer (all views of all subjects);
* ``style``    -> IP-Adapter #2 with InstantStyle layer-wise scales: only the style block sees the style
  image, so content does not leak (``instant_style_scale``: as the authors' SD 1.5 and SDXL scripts);
* ``content``  -> img2img start image (several: their mean) at ``content_strength``;
* ``source``   -> the image to edit: the img2img start image at ``source_strength``, or, with a mask, the
  inpainting image (the mask region is repainted, the rest kept);
* ``control:edge`` / ``control:depth`` (any type listed in ``controlnets``) -> one ControlNet per map,
  a MultiControlNet when there are several; each map at the working size (``fit_map``: a binary map such
  as Canny edges stays crisp 0/255);
* ``control:mask`` -> inpainting: the prompt is painted inside the mask on a neutral canvas (or the
  content image), the rest is kept (``mask: null`` turns it off).

The text encoder gets the target prompt (``prompt: plain`` sends the instruction with captions in
place of markers). One base pipeline is loaded per run; the text2img / img2img / inpaint and
ControlNet variants share its modules (``from_pipe``); IP-Adapter weights load on first use.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
from PIL import Image
from pydantic import Field

from ibench.errors import IbenchError

from .base import ModelAdapter, Request
from .hf_common import (PipelineFiles, Wanted, free, generators, load_failure, locate_all, pick_device, pick_dtype, place,
                        quiet, silence_progress)
from .settings import Count, DiffusersSettings, Number, Scale
from .tiny import blend

if TYPE_CHECKING:
    import torch

CACHE_SIZE = 16  # instances whose decoded references / image embeddings are kept (samples reuse them)


class SDCompositeSettings(DiffusersSettings):
    model: str = "stable-diffusion-v1-5/stable-diffusion-v1-5"  # hub id or local folder
    variant: Optional[str] = None  # "fp16": the half-precision files only
    ip_adapter: Optional[str] = "h94/IP-Adapter"  # null: no subject/style support
    ip_adapter_subfolder: str = "models"
    ip_adapter_weight: str = "ip-adapter-plus_sd15.safetensors"
    image_encoder_folder: str = "image_encoder"
    subject_scale: Number = 0.6
    style_scale: Scale = 1.0
    controlnets: Optional[dict[str, str]] = Field(default_factory=lambda: {
        "edge": "lllyasviel/control_v11p_sd15_canny", "depth": "lllyasviel/control_v11f1p_sd15_depth"})
    control_scale: Scale = 1.0
    mask: Optional[str] = "inpaint"  # null: no mask support (control:mask tasks are refused)
    content_strength: Number = 0.75
    source_strength: Number = Field(0.6, gt=0.0, le=1.0)  # how much of an edited source (no mask) is redrawn
    prompt: str = "target"  # target: the plain caption; plain: the instruction with captions for markers
    negative_prompt: str = ""
    steps: Count = 30
    guidance: Number = 7.5
    size: Count = 512


@dataclass(frozen=True)
class Layout:
    """What a request needs from the pipeline; requests with equal layouts share one call."""

    mode: str  # t2i | i2i | inpaint
    controls: tuple[str, ...]
    n_subject: int
    n_style: int
    content: bool
    source: bool = False


@dataclass
class Inputs:
    key: str
    prompt: str
    subject: list[Image.Image]
    style: list[Image.Image]
    init: Image.Image | None
    mask: Image.Image | None
    controls: list[Image.Image]
    layout: Layout


def instant_style_scale(unet, scale: float) -> dict:
    """InstantStyle's style-only IP-Adapter scales, the first up block with attention being the style block:
    on SDXL (a ``text_time`` UNet) only its middle attention layer, ``up_blocks.0.attentions.1`` (the authors'
    README, instantX-research/InstantStyle@0370eca:README.md "for style blocks only"); on SD 1.5 the whole
    block, ``up_blocks.1`` (their SD 1.5 script, instantX-research/InstantStyle@153ef9b:infer_style_sd15.py:21,
    ``target_blocks=["up_blocks.1"]``, which matches every attention layer of that block)."""
    first = next(i for i, block in enumerate(unet.up_blocks) if hasattr(block, "attentions"))
    per_block = unet.config.layers_per_block
    n = (per_block[first] if isinstance(per_block, (list, tuple)) else per_block) + 1
    if unet.config.addition_embed_type == "text_time":  # SDXL
        layers = [0.0] * n
        layers[min(1, n - 1)] = float(scale)
    else:
        layers = [float(scale)] * n
    return {"up": {f"block_{first}": layers}}


def fit_map(image: Image.Image, size: int) -> Image.Image:
    """A control map at ``size`` x ``size`` (RGB). A binary map (only 0 and 255: Canny edges) is area-averaged and
    cut at half, so its lines stay crisp 0/255 about as dense as detection at that size; others (depth) bicubic."""
    if image.size == (size, size):
        return image.convert("RGB")
    gray = np.asarray(image.convert("L"))
    if np.isin(gray, (0, 255)).all():
        import cv2

        covered = cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA)  # the share of each pixel on a line
        return Image.fromarray(np.where(covered >= 128, 255, 0).astype(np.uint8)).convert("RGB")
    return image.convert("RGB").resize((size, size), Image.BICUBIC)


def control_tensor(images: list[Image.Image]) -> "torch.Tensor":
    """Control maps as one (B, 3, H, W) batch in [0, 1]: every ControlNet pipeline takes this form."""
    import torch

    arrays = [np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0 for im in images]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


class SDCompositeModel(ModelAdapter):
    """Stable Diffusion + IP-Adapter (subject, InstantStyle style) + ControlNet (edge, depth) + inpainting (mask)."""

    name = "sd-composite"
    capabilities = frozenset({"subject", "style", "content", "source", "control:edge", "control:depth",
                              "control:mask"})
    Settings = SDCompositeSettings

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.options["controlnets"] = dict(self.options["controlnets"] or {})
        o = self.options
        caps = {"content", "source"} | {f"control:{kind}" for kind in o["controlnets"]}
        if o["ip_adapter"]:
            caps |= {"subject", "style"}
        if o["mask"] == "inpaint":
            caps.add("control:mask")
        elif o["mask"] not in (None, False, "none"):
            raise IbenchError(f"model {self.name!r}: mask {o['mask']!r}: expected inpaint or null")
        if o["prompt"] not in ("target", "plain"):
            raise IbenchError(f"model {self.name!r}: prompt {o['prompt']!r}: expected target or plain")
        self.capabilities = frozenset(caps)
        self.device = pick_device(o["device"])
        self.dtype = pick_dtype(o["dtype"], self.device)
        self._load()

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def weights(cls, config: SDCompositeSettings) -> Wanted:
        wanted: Wanted = {"model": (config.model, PipelineFiles(config.variant, skip=("safety_checker",)))}
        if config.ip_adapter:
            sub = config.ip_adapter_subfolder.strip("/")
            enc = config.image_encoder_folder
            enc_dir = enc if "/" in enc else f"{sub}/{enc}".lstrip("/")
            wanted["ip_adapter"] = (config.ip_adapter, [f"{sub}/{config.ip_adapter_weight}".lstrip("/"), f"{enc_dir}/*"])
        for kind, ident in (config.controlnets or {}).items():
            wanted[f"controlnets.{kind}"] = (ident, None)
        return wanted

    def _load(self) -> None:
        o = self.options
        self.paths = locate_all(self.name, self.weights(self.config))  # local paths; every missing id in one line, first
        from diffusers import AutoPipelineForText2Image, ControlNetModel

        silence_progress()
        try:
            self.base = AutoPipelineForText2Image.from_pretrained(
                self.paths["model"], dtype=self.dtype, variant=o["variant"], safety_checker=None,
                requires_safety_checker=False)
        except (OSError, ValueError, EnvironmentError) as exc:
            raise load_failure("the Stable Diffusion model", o["model"], exc) from None
        self.controlnets = {}
        for kind, ident in o["controlnets"].items():
            try:
                self.controlnets[kind] = ControlNetModel.from_pretrained(self.paths[f"controlnets.{kind}"],
                                                                         dtype=self.dtype)
            except (OSError, ValueError, EnvironmentError) as exc:
                raise load_failure(f"the {kind} ControlNet", ident, exc) from None
        quiet(self.base)
        self._ip_loaded = False
        self._cache: OrderedDict[str, tuple[Inputs, dict]] = OrderedDict()
        self._pipes: dict[tuple[str, tuple[str, ...]], Any] = {}
        self._active = None
        if o["compile"] and o["ip_adapter"]:
            self._load_ip_adapter()  # before compiling, so the compiled UNet has its IP-Adapter processors
        if not (o["offload"] and self.device.type != "cpu"):  # with offload, hooks are set per pipeline
            place(self.base, self.device, compile_=o["compile"])
            for net in self.controlnets.values():
                net.to(self.device)

    def _load_ip_adapter(self) -> None:
        """Two IP-Adapters from the same weights: #1 subject, #2 style (scales set per call)."""
        o = self.options
        sub = o["ip_adapter_subfolder"]
        try:
            self.base.load_ip_adapter([self.paths["ip_adapter"]] * 2, subfolder=[sub, sub],
                                      weight_name=[o["ip_adapter_weight"]] * 2,
                                      image_encoder_folder=o["image_encoder_folder"])
        except (OSError, ValueError, KeyError, EnvironmentError) as exc:
            raise load_failure("the IP-Adapter", o["ip_adapter"], exc) from None
        self.base.image_encoder.to(self.device)
        self._ip_loaded, self._pipes, self._active = True, {}, None

    def _pipeline(self, layout: Layout):
        """The pipeline for a layout, built once from the base's modules (no new weights)."""
        from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting, AutoPipelineForText2Image
        from diffusers.models.controlnets import MultiControlNetModel

        key = (layout.mode, layout.controls)
        if key not in self._pipes:
            auto = {"t2i": AutoPipelineForText2Image, "i2i": AutoPipelineForImage2Image,
                    "inpaint": AutoPipelineForInpainting}[layout.mode]
            kwargs: dict[str, Any] = {}
            if layout.controls:
                nets = [self.controlnets[kind] for kind in layout.controls]
                kwargs["controlnet"] = nets[0] if len(nets) == 1 else MultiControlNetModel(nets)
            pipe = self.base if (layout.mode == "t2i" and not kwargs) else auto.from_pipe(self.base, **kwargs)
            quiet(pipe)
            self._pipes[key] = pipe
        pipe = self._pipes[key]
        if self.options["offload"] and self.device.type != "cpu" and pipe is not self._active:
            place(pipe, self.device, offload=self.options["offload"])  # re-hook the shared modules
        self._active = pipe
        return pipe

    # -- requests --------------------------------------------------------------------------
    def _images(self, req: Request, marker: str) -> list[Image.Image]:
        """A reference's images, JPEGs decoded at reduced scale when that still covers what is used."""
        side = max(int(self.options["size"]), 224)  # 224: the CLIP image encoder's input
        out = []
        for rel in req.instance.instruction.reference(marker).images:
            with Image.open(req.root.resolve(rel)) as im:
                im.draft("RGB", (side, side))
                out.append(im.convert("RGB"))
        return out

    def _inputs(self, req: Request) -> Inputs:
        """Pipeline inputs of a request's instance (cached: samples of an instance share them)."""
        key = f"{req.instance.id}:{req.instance.instruction.model_dump_json()}"
        if key not in self._cache:
            self._cache[key] = (self._build_inputs(req, key), {})
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return self._cache[key][0]

    def _build_inputs(self, req: Request, key: str) -> Inputs:
        ins = req.instance.instruction
        size = int(self.options["size"])
        fit = lambda im: im.convert("RGB").resize((size, size), Image.BICUBIC)  # noqa: E731
        subject = [im for r in ins.of_kind("subject") for im in self._images(req, r.marker)]
        style = [im for r in ins.of_kind("style") for im in self._images(req, r.marker)]
        content = [im for r in ins.of_kind("content") for im in self._images(req, r.marker)]
        source = [im for r in ins.of_kind("source") for im in self._images(req, r.marker)]
        controls, kinds, masks = [], [], []
        for ref in ins.of_kind("control"):
            images = self._images(req, ref.marker)
            if ref.control == "mask":
                masks += [np.asarray(im.convert("L").resize((size, size), Image.NEAREST)) for im in images]
            else:
                controls.append(fit_map(images[0], size))
                kinds.append(ref.control)
        mask = Image.fromarray(np.maximum.reduce(masks)) if masks else None
        init = blend(content, size) if content else fit(source[0]) if source else None
        if mask is not None and init is None:
            init = Image.new("RGB", (size, size), (127, 127, 127))  # neutral canvas outside the mask
        mode = "inpaint" if mask is not None else "i2i" if init is not None else "t2i"
        prompt = ins.target_prompt if self.options["prompt"] == "target" else ins.plain_text()
        layout = Layout(mode, tuple(kinds), len(subject), len(style), bool(content), bool(source))
        return Inputs(key, prompt, subject, style, init, mask, controls, layout)

    def _ip_embeds(self, items: list[Inputs], cfg: bool) -> "list[torch.Tensor]":
        """Per-request image embeddings for both adapters, stacked as diffusers expects (negatives first)."""
        import torch

        blank = [Image.new("RGB", (64, 64), (127, 127, 127))]
        per_adapter: list[tuple[list, list]] = [([], []), ([], [])]
        for it in items:
            memo = self._cache[it.key][1] if it.key in self._cache else {}
            if cfg not in memo:
                memo[cfg] = self.base.prepare_ip_adapter_image_embeds(
                    [it.subject or blank, it.style or blank], None, self.device, 1, cfg)
            for slot, e in enumerate(memo[cfg]):
                neg, pos = e.chunk(2) if cfg else (None, e)
                per_adapter[slot][1].append(pos)
                if cfg:
                    per_adapter[slot][0].append(neg)
        return [torch.cat(neg + pos) for neg, pos in per_adapter]

    def _call(self, layout: Layout, items: list[Inputs], seeds: list[int]) -> list[Image.Image]:
        o = self.options
        size, n = int(o["size"]), len(items)
        cfg = float(o["guidance"]) > 1.0
        if (layout.n_subject or layout.n_style) and not self._ip_loaded:
            self._load_ip_adapter()
        pipe = self._pipeline(layout)
        kwargs: dict[str, Any] = dict(prompt=[it.prompt for it in items], num_inference_steps=int(o["steps"]),
                                      guidance_scale=float(o["guidance"]), generator=generators(seeds),
                                      output_type="pil")
        if o["negative_prompt"]:
            kwargs["negative_prompt"] = [o["negative_prompt"]] * n
        if self._ip_loaded:
            subject = float(o["subject_scale"]) if layout.n_subject else 0.0
            style_cfg = o["style_scale"]
            if not isinstance(style_cfg, dict):
                style_cfg = instant_style_scale(self.base.unet, float(style_cfg))
            self.base.set_ip_adapter_scale([subject, style_cfg if layout.n_style else 0.0])
            kwargs["ip_adapter_image_embeds"] = self._ip_embeds(items, cfg)
        if layout.mode == "t2i":
            kwargs.update(height=size, width=size)
        else:
            kwargs["image"] = [it.init for it in items]
            # a neutral inpainting canvas (or a masked edit) starts from pure noise inside the mask; a content
            # image keeps some of itself; an edited source without a mask is redrawn at source_strength
            kwargs["strength"] = (float(o["content_strength"]) if layout.content else
                                  float(o["source_strength"]) if layout.source and layout.mode == "i2i" else 1.0)
        if layout.mode == "inpaint":
            kwargs.update(mask_image=[it.mask for it in items], height=size, width=size)
        if layout.controls:
            maps = [control_tensor([it.controls[k] for it in items]) for k in range(len(layout.controls))]
            scale = o["control_scale"]
            scales = [float(scale.get(kind, 1.0)) if isinstance(scale, dict) else float(scale) for kind in layout.controls]
            key = "image" if layout.mode == "t2i" else "control_image"
            kwargs[key] = maps[0] if len(maps) == 1 else maps
            kwargs["controlnet_conditioning_scale"] = scales[0] if len(scales) == 1 else scales
        import torch

        with torch.inference_mode():
            return pipe(**kwargs).images

    def generate(self, batch: list[Request]) -> list[Image.Image]:
        items = [self._inputs(r) for r in batch]
        groups: dict[Layout, list[int]] = {}
        for i, it in enumerate(items):
            groups.setdefault(it.layout, []).append(i)
        out: list[Image.Image | None] = [None] * len(batch)
        for layout, idx in groups.items():
            images = self._call(layout, [items[i] for i in idx], [batch[i].seed for i in idx])
            for i, image in zip(idx, images):
                out[i] = image
        return out  # type: ignore[return-value]

    def close(self) -> None:
        self._cache.clear()
        self._pipes.clear()
        self._active = None
        self.base = None  # type: ignore[assignment]
        self.controlnets = {}
        free()
