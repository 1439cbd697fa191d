"""``omnigen``: the ``multiref`` adapter's ``omnigen`` preset under its first name and settings.

OmniGen reads interleaved text and images natively: each ``[ref#k]`` marker becomes its
``<img><|image_i|></img>`` placeholder(s) and the reference's first ``views`` images become
``input_images`` in placeholder order (``ibench.models.multiref.render``). ``-m omnigen`` keeps its
settings (``img_guidance``, ``max_input_image_size``) and takes no reference limit, so its run ids
and images are those of the adapter it replaces; ``-m multiref`` with ``preset: omnigen`` is the same
pipeline with the multiref settings (``reference_side``, ``max_references``, ``call_args``).
"""

from __future__ import annotations

from typing import Any

from .multiref import MultiRefModel, MultiRefSettings
from .settings import Count, DiffusersSettings, Number

NO_LIMIT = 10**6  # the omnigen adapter never refused an instance for its number of references


class OmniGenSettings(DiffusersSettings):
    model: str = "Shitao/OmniGen-v1-diffusers"
    steps: Count = 50
    guidance: Number = 2.5
    img_guidance: Number = 1.6
    size: Count = 1024
    max_input_image_size: Count = 1024
    views: Count = 1  # images per reference (subjects have several views)


class OmniGenModel(MultiRefModel):
    """OmniGen (multiref preset `omnigen`, its first name and settings): text and reference images interleaved."""

    name = "omnigen"
    Settings = OmniGenSettings

    @classmethod
    def resolve(cls, config: Any) -> MultiRefSettings:
        runtime = {k: getattr(config, k) for k in ("device", "offload", "compile", "dtype")}
        return MultiRefSettings(
            preset="omnigen", model=config.model, steps=config.steps, guidance=config.guidance, size=config.size,
            views=config.views, max_references=NO_LIMIT, **runtime,
            call_args={"img_guidance_scale": config.img_guidance, "max_input_image_size": config.max_input_image_size})
