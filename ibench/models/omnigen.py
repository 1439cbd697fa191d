"""``omnigen``: diffusers' OmniGen pipeline, which reads interleaved text and images natively.

Each ``[ref#k]`` marker is rendered to OmniGen's ``<img><|image_i|></img>`` placeholder(s) via
``Instruction.render``; the reference's images (the first ``views`` of them) become ``input_images``
in placeholder order. Subjects, styles, content photos and control maps all reach the model this
way; OmniGen decides from the text what to do with each.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from ibench.core.instruction import Reference
from ibench.core.vocabulary import ALL_CAPABILITIES

from .base import ModelAdapter, Request
from .hf_common import device_and_dtype, free, generators, load_failure, place, quiet, resolve_all
from .settings import Count, DiffusersSettings, Number


class OmniGenSettings(DiffusersSettings):
    model: str = "Shitao/OmniGen-v1-diffusers"
    steps: Count = 50
    guidance: Number = 2.5
    img_guidance: Number = 1.6
    size: Count = 1024
    max_input_image_size: Count = 1024
    views: Count = 1  # images per reference (subjects have several views)


def render_prompt(req: Request, views: int) -> tuple[str, list[Image.Image]]:
    """The OmniGen prompt of a request and its input images, numbered in order of appearance."""
    images: list[Image.Image] = []

    def placeholder(ref: Reference) -> str:
        tags = []
        for im in req.images(ref.marker)[:max(1, int(views))]:
            images.append(im)
            tags.append(f"<img><|image_{len(images)}|></img>")
        return " ".join(tags)

    return req.instance.instruction.render(placeholder), images


class OmniGenModel(ModelAdapter):
    """OmniGen: one transformer over interleaved text and reference images (every reference kind)."""

    name = "omnigen"
    capabilities = ALL_CAPABILITIES
    Settings = OmniGenSettings

    @classmethod
    def weights(cls, config: OmniGenSettings) -> dict[str, tuple[str, list[str] | None]]:
        return {"model": (config.model, None)}

    def __init__(self, **options: Any):
        super().__init__(**options)
        o = self.options
        path = resolve_all(self.name, self.weights(self.config))["model"]  # before the heavy imports
        from diffusers import OmniGenPipeline

        self.device, self.dtype = device_and_dtype(o, gpu_default="bfloat16")
        try:
            self.pipe = OmniGenPipeline.from_pretrained(path, dtype=self.dtype)
        except (OSError, ValueError, EnvironmentError) as exc:
            raise load_failure("the OmniGen model", o["model"], exc) from None
        quiet(self.pipe)
        place(self.pipe, self.device, offload=o["offload"], compile_=o["compile"], denoiser="transformer")

    def generate(self, batch: list[Request]) -> list[Image.Image]:
        o = self.options
        rendered = [render_prompt(req, o["views"]) for req in batch]
        size = int(o["size"])
        import torch

        with torch.inference_mode():
            out = self.pipe(prompt=[p for p, _ in rendered], input_images=[ims or None for _, ims in rendered],
                            height=size, width=size, num_inference_steps=int(o["steps"]),
                            guidance_scale=float(o["guidance"]), img_guidance_scale=float(o["img_guidance"]),
                            max_input_image_size=int(o["max_input_image_size"]),
                            generator=generators([req.seed for req in batch]), output_type="pil")
        return out.images

    def close(self) -> None:
        self.pipe = None
        free()
