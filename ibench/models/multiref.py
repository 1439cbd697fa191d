"""``multiref``: diffusers pipelines that take a LIST of reference images plus text, one preset per family.

The instruction's ``[ref#k]`` markers become the preset's names for the input images ("image 1",
"Picture 2", ``<image3>``, OmniGen's placeholders); each reference contributes its first ``views``
images, in marker order of appearance. Subjects, styles, content photos, control maps and source
images all go in as reference images that the text describes (these models read edge/depth maps in
context). An instance over the preset's limits (too many images, one too small) is a recorded
failure with the reason, not a crash. Each generation records the rendered prompt and which images
each marker became (``Generation.meta``). Presets are data: ``ibench.models.multiref_presets``.
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Any, Iterator, Optional

from PIL import Image
from pydantic import Field, field_validator

from ibench.core.instruction import Reference
from ibench.core.vocabulary import ALL_CAPABILITIES
from ibench.errors import unknown

from .base import Failed, ModelAdapter, Request
from .catalog import entries_for, refuse_unreleased
from .hf_common import PipelineFiles, Wanted, device_and_dtype, free, generators, load_failure, locate_all, place, quiet
from .multiref_presets import PRESETS, Preset
from .placement import prepare
from .settings import Count, Number, PlacementSettings


class MultiRefSettings(PlacementSettings):
    preset: str = "flux2-klein"  # a family in PRESETS
    model: Optional[str] = None  # hub id or local folder (default: the preset's)
    steps: Optional[Count] = None  # default: the preset's
    guidance: Optional[Number] = None  # default: the preset's
    size: Count = 1024  # output side (px)
    views: Count = 1  # images per reference (subjects have several views)
    reference_side: Optional[Count] = None  # references are resized to about side² pixels (default: the pipeline's own)
    max_references: Optional[Count] = None  # overrides the preset's limit on reference images
    call_args: dict[str, Any] = Field(default_factory=dict)  # extra pipeline arguments

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        if value not in PRESETS:
            raise ValueError(str(unknown("preset", value, list(PRESETS))))
        return value


def render(req: Request, preset: Preset, views: int) -> tuple[str, list[Image.Image], dict[str, list[int]]]:
    """The prompt, the input images in order, and each marker's 1-based image numbers."""
    images: list[Image.Image] = []
    numbers: dict[str, list[int]] = {}

    def name(ref: Reference) -> str:
        if ref.marker not in numbers:  # a marker used twice names the same images again
            numbers[ref.marker] = []
            for im in req.images(ref.marker)[:views]:
                images.append(im)
                numbers[ref.marker].append(len(images))
        return preset.joiner.join(preset.marker.format(i=i) for i in numbers[ref.marker])

    return req.instance.instruction.render(name), images, numbers


def fit_area(image: Image.Image, side: int) -> Image.Image:
    """``image`` scaled down to about ``side``² pixels (aspect kept, sides multiples of 16); never up."""
    w, h = image.size
    scale = (side * side / (w * h)) ** 0.5
    if scale >= 1:
        return image
    nw, nh = max(16, round(w * scale / 16) * 16), max(16, round(h * scale / 16) * 16)
    return image.resize((nw, nh), Image.Resampling.BICUBIC)


class MultiRefModel(ModelAdapter):
    """Multi-reference diffusers pipelines (FLUX.2, Qwen-Image-Edit-Plus, Qwen-Image 2.1, Z-Image Omni, OmniGen)."""

    name = "multiref"
    capabilities = ALL_CAPABILITIES
    Settings = MultiRefSettings

    @classmethod
    def resolve(cls, config: Any) -> MultiRefSettings:
        """The settings a run uses: the preset's defaults filled in (the run id names what was actually used)."""
        preset = PRESETS[config.preset]
        return config.model_copy(update={
            "model": config.model or preset.model, "steps": config.steps or preset.steps,
            "guidance": preset.guidance if config.guidance is None else config.guidance,
            "max_references": config.max_references or preset.max_refs})

    @classmethod
    def weights(cls, config: Any) -> Wanted:
        return {"model": (cls.resolve(config).model, PipelineFiles())}

    def __init__(self, **options: Any):
        super().__init__(**options)
        run = self.resolve(self.config)
        if self.Settings is MultiRefSettings:  # an alias (``omnigen``) keeps its own settings, and so its run ids
            self.config = run  # the run id names what was actually used
        preset = self.preset = PRESETS[run.preset]
        self.options = o = run.model_dump()
        self.needs_references = preset.needs_references
        refuse_unreleased(o["model"], f"model 'multiref' preset {o['preset']}")
        path = locate_all(self.name, self.weights(self.config))["model"]  # a local folder, before the heavy imports
        import diffusers
        import torch

        self.device, self.dtype = device_and_dtype(o, gpu_default="bfloat16")
        self.placement, quant = prepare(f"model 'multiref' ({o['model']})", entries_for(type(self), self.config), o,
                                        self.device, self.dtype)  # catalog figures vs free GPU memory, before loading
        try:
            self.pipe = getattr(diffusers, preset.pipeline).from_pretrained(
                path, dtype=self.dtype, **({"quantization_config": quant} if quant else {}))
        except (OSError, ValueError, EnvironmentError) as exc:
            raise load_failure(f"the {o['preset']} pipeline ({preset.pipeline})", o["model"], exc) from None
        quiet(self.pipe)
        place(self.pipe, self.device, offload=self.placement.offload, compile_=o["compile"], denoiser="transformer")
        if preset.vae_bf16:  # diffusers 0.42.1 casts references to bf16 before the VAE (z_image omni)
            self.pipe.vae.to(torch.bfloat16)

    # -- limits -------------------------------------------------------------------------------
    def _violation(self, images: list[Image.Image], numbers: dict[str, list[int]]) -> Optional[str]:
        o, preset = self.options, self.preset
        if len(images) > o["max_references"]:
            return (f"{o['preset']} takes at most {o['max_references']} reference images and this instance has "
                    f"{len(images)} ({len(numbers)} references x up to {o['views']} views): lower `views` or raise "
                    f"`max_references`")
        for marker, nums in numbers.items():
            for i in nums:
                w, h = images[i - 1].size
                if min(w, h) < preset.min_side:
                    return f"{o['preset']} needs reference images of at least {preset.min_side} px a side; {marker} is {w}x{h}"
        return None

    # -- generation ---------------------------------------------------------------------------
    def _call(self, prompts: list[str], images: Optional[list], seeds: list[int]) -> list[Image.Image]:
        o, preset = self.options, self.preset
        kwargs: dict[str, Any] = {"prompt": prompts, preset.image_arg: images, "height": o["size"], "width": o["size"],
                                  "num_inference_steps": o["steps"], preset.guidance_arg: o["guidance"],
                                  "generator": generators(seeds), "output_type": "pil", **preset.extra}
        if preset.negative_prompt is not None:
            kwargs["negative_prompt"] = preset.negative_prompt if len(prompts) == 1 else [preset.negative_prompt] * len(prompts)
        if preset.reference_side_arg and o["reference_side"]:
            kwargs[preset.reference_side_arg] = o["reference_side"]
        kwargs.update(o["call_args"] or {})
        import torch

        with self._reference_area(), torch.inference_mode():
            return list(self.pipe(**kwargs).images)

    @contextlib.contextmanager
    def _reference_area(self) -> Iterator[None]:
        """Set the pipeline module's fixed reference areas to ``reference_side``² for one call."""
        side = self.options["reference_side"]
        if not (side and self.preset.area_globals):
            yield
            return
        module = importlib.import_module(self.preset.module)
        saved = {name: getattr(module, name) for name in self.preset.area_globals}
        try:
            for name, area in saved.items():
                setattr(module, name, min(area, side * side))
            yield
        finally:
            for name, area in saved.items():
                setattr(module, name, area)

    def generate(self, batch: list[Request]) -> list[Image.Image | Failed]:
        o, preset = self.options, self.preset
        out: list[Image.Image | Failed | None] = [None] * len(batch)
        ready: list[tuple[int, str, list[Image.Image]]] = []
        for n, req in enumerate(batch):
            prompt, images, numbers = render(req, preset, o["views"])
            req.meta.update(prompt=prompt, images=numbers)
            problem = self._violation(images, numbers)
            if problem:
                out[n] = Failed(problem)
                continue
            if o["reference_side"]:
                images = [fit_area(im, o["reference_side"]) for im in images]
            ready.append((n, prompt, images))
        for group in self._groups(batch, ready):
            prompts = [prompt for _, prompt, _ in group]
            seeds = [batch[n].seed for n, _, _ in group]
            if preset.per_prompt:  # None when no prompt has images: OmniGen then runs no image-guidance branch
                images = [ims or None for _, _, ims in group] if any(ims for _, _, ims in group) else None
            else:
                images = group[0][2] or None
            for (n, _, _), image in zip(group, self._call(prompts, images, seeds)):
                out[n] = image
        return out  # type: ignore[return-value]

    def _groups(self, batch: list[Request], ready: list) -> list[list]:
        """Requests that can share one pipeline call: all (images per prompt), one at a time, or per instance."""
        if self.preset.per_prompt:
            return [ready] if ready else []
        if self.preset.one_per_call:
            return [[item] for item in ready]
        groups: dict[str, list] = {}
        for item in ready:  # one image set per call: requests of the same instance share it
            groups.setdefault(batch[item[0]].instance.id, []).append(item)
        return list(groups.values())

    def close(self) -> None:
        self.pipe = None
        free()
