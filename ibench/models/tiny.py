"""``tiny``: a tiny random diffusers pipeline, the offline embedded default.

It draws noise: its weights are random. It is here so every stage runs end to end on a machine with
no GPU and no hub. It does use every reference: their images, blended, are the img2img start image,
so outputs depend on the references as well as on the text and the seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import numpy as np
from PIL import Image

from pydantic import Field

from ibench.core.paths import cache_dir
from ibench.core.vocabulary import ALL_CAPABILITIES
from ibench.errors import IbenchError, one_line

from .base import ModelAdapter, Request
from .settings import AdapterSettings, Count, Number
from .tinysd import save_tiny_sd


def blend(images: list[Image.Image], size: int) -> Image.Image:
    """Mean of the images at ``size``x``size`` (mid-grey when there are none)."""
    if not images:
        return Image.new("RGB", (size, size), (127, 127, 127))
    arrays = [np.asarray(im.convert("RGB").resize((size, size), Image.BICUBIC), dtype=np.float32) for im in images]
    return Image.fromarray(np.mean(arrays, axis=0).round().astype(np.uint8))


class TinySettings(AdapterSettings):
    size: Annotated[Count, Field(ge=16, multiple_of=8)] = 64  # the VAE halves it three times
    steps: Count = 2
    strength: Number = Field(0.9, gt=0.0, le=1.0)
    path: Optional[str] = None  # a saved tiny pipeline folder (default: built in code into the cache dir)


class TinyModel(ModelAdapter):
    name = "tiny"
    capabilities = ALL_CAPABILITIES
    Settings = TinySettings

    def __init__(self, **options):
        super().__init__(**options)
        path = self.options["path"]

        from diffusers import StableDiffusionImg2ImgPipeline
        from diffusers.utils import logging as dlogging
        from transformers.utils import logging as tlogging

        dlogging.disable_progress_bar()
        dlogging.set_verbosity_error()
        tlogging.disable_progress_bar()
        tlogging.set_verbosity_error()  # the byte-level tiny tokenizer truncates long prompts: expected
        if path and not Path(path).expanduser().is_dir():
            raise IbenchError(f"model 'tiny': setting 'path': {path} is not a folder (a saved tiny pipeline)")
        folder = Path(path).expanduser() if path else save_tiny_sd(cache_dir() / "models" / "tiny-sd")
        try:
            self.pipe = StableDiffusionImg2ImgPipeline.from_pretrained(folder, safety_checker=None,
                                                                       requires_safety_checker=False)
        except (OSError, ValueError) as exc:
            raise IbenchError(f"model 'tiny': cannot load the pipeline in {folder}: {one_line(exc)[:300]}") from None
        self.pipe.set_progress_bar_config(disable=True)

    def generate(self, batch: list[Request]) -> list[Image.Image]:
        """One pipeline call per request: CPU kernels sum in a batch-size-dependent order, so this keeps
        every image byte-identical whatever ``--batch-size`` is (the tiny model is cheap: nothing is lost)."""
        return [self._one(req) for req in batch]

    def _one(self, req: Request) -> Image.Image:
        size = self.options["size"]
        start = blend([im for r in req.instance.instruction.references for im in req.images(r.marker)], size)
        import torch

        with torch.inference_mode():
            out = self.pipe(prompt=[req.instance.instruction.plain_text()], image=[start],
                            strength=self.options["strength"], num_inference_steps=self.options["steps"],
                            guidance_scale=1.0, output_type="pil", generator=[torch.Generator().manual_seed(req.seed)])
        return out.images[0]
