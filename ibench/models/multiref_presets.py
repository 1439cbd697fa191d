"""The model families of the ``multiref`` adapter, as data: a new family is one ``Preset`` entry.

Each preset says which diffusers pipeline runs it, how its prompt names the i-th input image (the
instruction's ``[ref#k]`` markers are rendered to that), how many reference images it takes and how
small they may be, and the names of the ``__call__`` arguments it uses. Checked against diffusers 0.42.1
(``inspect.signature`` of each ``__call__``; ``tests/test_models_multiref.py`` fails if that changes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass(frozen=True)
class Preset:
    """How one family of multi-image pipelines takes references."""

    pipeline: str  # the diffusers class
    model: str  # default hub id
    marker: str  # how the prompt names input image i ("image {i}")
    max_refs: int  # most reference images per instance (the family's recommendation)
    steps: int
    guidance: float
    min_side: int = 1  # each reference image's shorter side must be at least this (px)
    joiner: str = " and "  # between the names of several images of one reference (views > 1)
    image_arg: str = "image"  # the __call__ argument that takes the reference images
    per_prompt: bool = False  # True: a list of images per prompt (any batch); False: one set for the whole call
    one_per_call: bool = False  # the pipeline refuses more than one prompt per call
    needs_references: bool = False  # the pipeline cannot run without an input image
    guidance_arg: str = "guidance_scale"
    negative_prompt: Optional[str] = None  # passed as negative_prompt (true CFG) when set
    reference_side_arg: Optional[str] = None  # a __call__ argument that sizes references (side in px)
    area_globals: tuple[str, ...] = ()  # module constants fixing the reference pixel area (patched to side²)
    vae_bf16: bool = False  # the pipeline casts references to bf16 before the VAE: keep the VAE in bf16
    extra: dict[str, Any] = field(default_factory=dict)  # fixed call arguments

    @property
    def module(self) -> str:
        import diffusers

        return getattr(diffusers, self.pipeline).__module__


PRESETS: dict[str, Preset] = {
    # FLUX.2 [dev]: Mistral-3 text encoder; references as `image=[...]`, named "image 1", "image 2" in the prompt
    "flux2-dev": Preset("Flux2Pipeline", "black-forest-labs/FLUX.2-dev", "image {i}", max_refs=6, min_side=64,
                        steps=50, guidance=4.0),
    # FLUX.2 [klein] (distilled 4B): few steps, no guidance
    "flux2-klein": Preset("Flux2KleinPipeline", "black-forest-labs/FLUX.2-klein-4B", "image {i}", max_refs=4,
                          min_side=64, steps=4, guidance=1.0),
    # Qwen-Image-Edit-2509/2511: the pipeline itself prefixes "Picture 1: <image>", ...; one prompt per call
    "qwen-image-edit-plus": Preset("QwenImageEditPlusPipeline", "Qwen/Qwen-Image-Edit-2511", "Picture {i}",
                                   max_refs=3, steps=40, guidance=4.0, one_per_call=True, needs_references=True,
                                   guidance_arg="true_cfg_scale", negative_prompt=" ",
                                   area_globals=("VAE_IMAGE_SIZE", "CONDITION_IMAGE_SIZE")),
    # Qwen-Image 2.1: the pipeline tags its vision slots <image1>, <image2>, ...; the prompt uses the same tags
    "qwen-image-2.1": Preset("QwenImage21Pipeline", "Qwen/Qwen-Image-2.1", "<image{i}>", max_refs=3, joiner=" ",
                             steps=40, guidance=1.0, guidance_arg="true_cfg_scale",
                             reference_side_arg="output_resolution"),
    # Z-Image Omni: SigLIP-2 reads each reference; the prompt names them "image 1", ...
    "z-image-omni": Preset("ZImageOmniPipeline", "Tongyi-MAI/Z-Image-Omni-Base", "image {i}", max_refs=4,
                           min_side=64, steps=50, guidance=5.0, vae_bf16=True),
    # OmniGen v1: the placeholder is where the image goes; images are given per prompt
    "omnigen": Preset("OmniGenPipeline", "Shitao/OmniGen-v1-diffusers", "<img><|image_{i}|></img>", max_refs=3,
                      joiner=" ", steps=50, guidance=2.5, image_arg="input_images", per_prompt=True,
                      reference_side_arg="max_input_image_size", extra={"img_guidance_scale": 1.6}),
}
