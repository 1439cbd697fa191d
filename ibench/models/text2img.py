"""``text2img``: any diffusers text-to-image pipeline by id, given only the target prompt.

The no-reference lower bound: it sees none of the references, so it declares no capabilities and
the runner only lets it run text-only tasks (e.g. ``txt2img``). Extra pipeline arguments (e.g.
``max_sequence_length`` for Flux) go in ``call_args``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from PIL import Image

from pydantic import Field

from .base import ModelAdapter, Request
from .hf_common import PipelineFiles, Wanted, device_and_dtype, free, generators, load_failure, locate_all, place, quiet
from .settings import Count, DiffusersSettings, Number

#: pipeline components neither downloaded nor loaded: benchmark outputs are scored, not filtered
SKIPPED = ("safety_checker",)


class Text2ImgSettings(DiffusersSettings):
    model: str = "stable-diffusion-v1-5/stable-diffusion-v1-5"  # hub id or local folder
    variant: Optional[str] = None
    steps: Count = 30
    guidance: Number = 7.5
    size: Count = 512
    negative_prompt: str = ""
    call_args: dict[str, Any] = Field(default_factory=dict)  # extra pipeline arguments


class Text2ImgModel(ModelAdapter):
    """Any diffusers text-to-image pipeline; sees only the target prompt (no references)."""

    name = "text2img"
    capabilities = frozenset()
    Settings = Text2ImgSettings

    @classmethod
    def weights(cls, config: Text2ImgSettings) -> Wanted:
        return {"model": (config.model, PipelineFiles(config.variant, skip=SKIPPED))}

    def __init__(self, **options: Any):
        super().__init__(**options)
        o = self.options
        path = locate_all(self.name, self.weights(self.config))["model"]  # a local folder, before the heavy imports
        from diffusers import DiffusionPipeline

        self.device, self.dtype = device_and_dtype(o)
        kwargs: dict[str, Any] = {"dtype": self.dtype}
        if o["variant"]:
            kwargs["variant"] = o["variant"]
        index = Path(path) / "model_index.json"
        if index.is_file() and "safety_checker" in json.loads(index.read_text()):  # never downloaded: not loaded
            kwargs.update(safety_checker=None, requires_safety_checker=False)
        try:
            self.pipe = DiffusionPipeline.from_pretrained(path, **kwargs)
        except (OSError, ValueError, EnvironmentError) as exc:
            raise load_failure("the text-to-image model", o["model"], exc) from None
        quiet(self.pipe)
        denoiser = "unet" if hasattr(self.pipe, "unet") else "transformer"
        place(self.pipe, self.device, offload=o["offload"], compile_=o["compile"], denoiser=denoiser)

    def generate(self, batch: list[Request]) -> list[Image.Image]:
        o = self.options
        size = int(o["size"])
        kwargs: dict[str, Any] = dict(prompt=[req.instance.instruction.target_prompt for req in batch],
                                      num_inference_steps=int(o["steps"]), guidance_scale=float(o["guidance"]),
                                      height=size, width=size, generator=generators([req.seed for req in batch]),
                                      output_type="pil", **dict(o["call_args"] or {}))
        if o["negative_prompt"]:
            kwargs["negative_prompt"] = [o["negative_prompt"]] * len(batch)
        import torch

        with torch.inference_mode():
            return self.pipe(**kwargs).images

    def close(self) -> None:
        self.pipe = None
        free()
