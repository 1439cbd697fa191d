"""``blip-diffusion`` and ``blip-diffusion-control``: the zero-shot subject (+ edge/depth) baselines of
Instruct-Imagen's comparison, through diffusers' ``BlipDiffusionPipeline`` / ``BlipDiffusionControlNetPipeline``.

BLIP-Diffusion takes ONE subject image and its category ("dog") and a text prompt; the control variant
adds one control map (its bundled ControlNet reads Canny edges; point ``controlnet`` at an SD 1.5
depth ControlNet and set ``control: depth`` for depth). An instance with more than one subject or
control is a recorded failure with the reason. The prompt is the target prompt without its leading
"a <category>" (the pipeline prefixes that itself).

Compatibility (diffusers 0.42.1 with transformers 5): the deprecated BLIP-2 Q-Former in diffusers calls
``invert_attention_mask``/``get_head_mask`` (gone from transformers 5's ``PreTrainedModel``) and expects
transformers 4's tuple-returning ``Blip2QFormerAttention``; ``qformer_class()`` adds those two methods and builds
its layers with a tuple-returning attention. With transformers 4 it is the plain diffusers class. The
hub repos name the BLIP parts under a ``blip_diffusion`` library diffusers 0.42.1 cannot resolve, so
each component is loaded from its subfolder and the pipeline is built from them.
"""

from __future__ import annotations

import contextlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Optional

from PIL import Image
from pydantic import model_validator

from .base import Failed, ModelAdapter, Request
from .hf_common import Wanted, device_and_dtype, free, generators, load_failure, locate_all, place, quiet
from .settings import Count, DiffusersSettings, Number

if TYPE_CHECKING:
    import torch

@lru_cache(maxsize=1)
def qformer_class() -> type:
    """diffusers' BLIP-Diffusion Q-Former, runnable on transformers 4 and 5 (same weights); imported on first use."""
    import torch
    try:  # the deprecated pipeline's modules (diffusers >= 0.33 keeps them under pipelines.deprecated)
        from diffusers.pipelines.deprecated.blip_diffusion import modeling_blip2 as blip2
    except ImportError:  # pragma: no cover - older diffusers
        from diffusers.pipelines.blip_diffusion import modeling_blip2 as blip2
    needs_shim = not hasattr(blip2.Blip2QFormerModel, "invert_attention_mask")

    class TupleAttention(blip2.Blip2QFormerAttention):
        """transformers 5's Q-Former attention called the transformers 4 way (positional head mask, tuple out)."""

        def forward(self, hidden_states, attention_mask=None, head_mask=None, encoder_hidden_states=None,
                    encoder_attention_mask=None, past_key_value=None, output_attentions=False):
            return super().forward(hidden_states, attention_mask, encoder_hidden_states, encoder_attention_mask), None

    @contextlib.contextmanager
    def tuple_attention():
        saved = blip2.Blip2QFormerAttention
        blip2.Blip2QFormerAttention = TupleAttention if needs_shim else saved
        try:
            yield
        finally:
            blip2.Blip2QFormerAttention = saved

    class QFormer(blip2.Blip2QFormerModel):
        def __init__(self, config):
            with tuple_attention():
                super().__init__(config)
            if needs_shim:
                config.qformer_config._attn_implementation = "eager"

        def invert_attention_mask(self, mask: torch.Tensor) -> torch.Tensor:
            ext = (mask[:, None, None, :] if mask.dim() == 2 else mask[:, None, :, :]).to(self.dtype)
            return (1.0 - ext) * torch.finfo(self.dtype).min

        def get_head_mask(self, head_mask, num_layers: int) -> list:
            return [None] * num_layers if head_mask is None else head_mask

    return QFormer


#: The Q-Former's tokenizer: what diffusers' ``Blip2QFormerModel`` loads when the model's qformer config names none,
#: as Salesforce's repos do (diffusers 0.42.1 pipelines/deprecated/blip_diffusion/modeling_blip2.py:431-432
#: loads "bert-base-uncased", now google-bert/bert-base-uncased on the hub; huggingface/diffusers#5804).
QFORMER_TOKENIZER = "google-bert/bert-base-uncased"
TOKENIZER_FILES = ["*.json", "vocab.txt"]


class BlipDiffusionSettings(DiffusersSettings):
    model: str = "Salesforce/blipdiffusion"
    qformer_tokenizer: Optional[str] = None  # hub id or folder (default: QFORMER_TOKENIZER)
    steps: Count = 50
    guidance: Number = 7.5
    size: Count = 512
    negative_prompt: str = ""
    prompt_strength: Number = 1.0
    prompt_reps: Count = 20


class BlipDiffusionControlSettings(BlipDiffusionSettings):
    model: str = "Salesforce/blipdiffusion-controlnet"
    control: Literal["edge", "depth"] = "edge"  # the map type its ControlNet reads
    controlnet: Optional[str] = None  # an SD 1.5 ControlNet replacing the bundled (Canny) one

    @model_validator(mode="after")
    def _depth_needs_a_controlnet(self) -> "BlipDiffusionControlSettings":
        if self.control == "depth" and not self.controlnet:
            raise ValueError("`control: depth` needs `controlnet` (an SD 1.5 depth ControlNet, e.g. "
                             "lllyasviel/sd-controlnet-depth); the bundled one reads Canny edges")
        return self


def category(caption: str) -> str:
    """``the dog`` -> ``dog`` (BLIP-Diffusion's subject category)."""
    return re.sub(r"^(the|a|an)\s+", "", caption.strip(), flags=re.I) or "object"


def context_prompt(prompt: str, cat: str) -> str:
    """The target prompt without the leading ``a <category>`` that the pipeline adds itself."""
    return re.sub(rf"^(a|an|the)\s+{re.escape(cat)}\b\s*", "", prompt.strip(), flags=re.I) or prompt


class BlipDiffusionModel(ModelAdapter):
    """BLIP-Diffusion: zero-shot subject-driven generation from one subject image."""

    name = "blip-diffusion"
    capabilities = frozenset({"subject"})
    Settings = BlipDiffusionSettings
    pipeline_class = "BlipDiffusionPipeline"
    controlled = False

    @classmethod
    def weights(cls, config: BlipDiffusionSettings) -> Wanted:
        wanted: Wanted = {"model": (config.model, None),
                          "qformer_tokenizer": (config.qformer_tokenizer or QFORMER_TOKENIZER, TOKENIZER_FILES)}
        if getattr(config, "controlnet", None):
            wanted["controlnet"] = (config.controlnet, None)
        return wanted

    def __init__(self, **options: Any):
        super().__init__(**options)
        o = self.options
        paths = locate_all(self.name, self.weights(self.config))  # local folders, before the heavy imports
        self.device, self.dtype = device_and_dtype(o)
        try:
            self.pipe = self._load(Path(paths["model"]), paths["qformer_tokenizer"], paths.get("controlnet"))
        except (OSError, ValueError, EnvironmentError, KeyError) as exc:
            raise load_failure(f"the BLIP-Diffusion model ({self.pipeline_class})", o["model"], exc) from None
        quiet(self.pipe)
        place(self.pipe, self.device, offload=o["offload"], compile_=o["compile"], denoiser="unet")

    def _load(self, path: Path, qformer_tokenizer: str, controlnet: Optional[str]):
        import diffusers
        from diffusers.pipelines.deprecated.blip_diffusion import BlipImageProcessor, ContextCLIPTextModel
        from transformers import CLIPTokenizer
        from transformers.models.blip_2.configuration_blip_2 import Blip2Config

        index = json.loads((path / "model_index.json").read_text())
        load = {"dtype": self.dtype}
        qformer_config = Blip2Config.from_pretrained(path / "qformer")
        qformer_config.tokenizer = qformer_tokenizer  # a local folder: the Q-Former never reaches for the hub
        parts = {"tokenizer": CLIPTokenizer.from_pretrained(path / "tokenizer"),
                 "text_encoder": ContextCLIPTextModel.from_pretrained(path / "text_encoder", **load),
                 "vae": diffusers.AutoencoderKL.from_pretrained(path / "vae", **load),
                 "unet": diffusers.UNet2DConditionModel.from_pretrained(path / "unet", **load),
                 "scheduler": diffusers.PNDMScheduler.from_pretrained(path / "scheduler"),
                 "qformer": qformer_class().from_pretrained(path / "qformer", config=qformer_config, **load),
                 "image_processor": BlipImageProcessor.from_pretrained(path / "image_processor")}
        if self.controlled:
            parts["controlnet"] = diffusers.ControlNetModel.from_pretrained(controlnet or path / "controlnet", **load)
        config = {k: index[k] for k in ("ctx_begin_pos", "mean", "std") if k in index}
        return getattr(diffusers, self.pipeline_class)(**parts, **config)

    def _subject(self, req: Request) -> tuple[Optional[str], dict]:
        """Why this instance cannot run (or None), and the call's per-request inputs."""
        ins = req.instance.instruction
        subjects = ins.of_kind("subject")
        controls = ins.of_kind("control")
        if len(subjects) != 1:
            return f"{self.name} takes exactly one subject reference; this instance has {len(subjects)}", {}
        if self.controlled and len(controls) != 1:
            return f"{self.name} takes exactly one control map; this instance has {len(controls)}", {}
        cat = category(subjects[0].caption)
        item = {"prompt": context_prompt(ins.target_prompt, cat), "category": cat, "image": req.images(subjects[0].marker)[0]}
        req.meta.update(prompt=item["prompt"], subject=cat, images={subjects[0].marker: [1]})
        if self.controlled:
            item["control"] = req.images(controls[0].marker)[0]
            req.meta["images"][controls[0].marker] = [2]
        return None, item

    def generate(self, batch: list[Request]) -> list[Image.Image | Failed]:
        o = self.options
        out: list = [None] * len(batch)
        ready = []
        for n, req in enumerate(batch):
            problem, item = self._subject(req)
            if problem:
                out[n] = Failed(problem)
            else:
                ready.append((n, item))
        if ready:
            kwargs: dict[str, Any] = dict(
                prompt=[it["prompt"] for _, it in ready], reference_image=[it["image"] for _, it in ready],
                source_subject_category=[it["category"] for _, it in ready],
                target_subject_category=[it["category"] for _, it in ready], guidance_scale=float(o["guidance"]),
                height=o["size"], width=o["size"], num_inference_steps=o["steps"], neg_prompt=o["negative_prompt"],
                prompt_strength=float(o["prompt_strength"]), prompt_reps=o["prompt_reps"],
                generator=generators([batch[n].seed for n, _ in ready]), output_type="pil")
            if self.controlled:
                kwargs["condtioning_image"] = [it["control"] for _, it in ready]  # sic: diffusers' spelling
            import torch

            with torch.inference_mode():
                images = self.pipe(**kwargs).images
            for (n, _), image in zip(ready, images):
                out[n] = image
        return out

    def close(self) -> None:
        self.pipe = None
        free()


class BlipDiffusionControlModel(BlipDiffusionModel):
    """BLIP-Diffusion with a ControlNet: one subject image plus one edge (or depth) map."""

    name = "blip-diffusion-control"
    capabilities = frozenset({"subject", "control:edge", "control:depth"})
    Settings = BlipDiffusionControlSettings
    pipeline_class = "BlipDiffusionControlNetPipeline"
    controlled = True

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.capabilities = frozenset({"subject", f"control:{self.options['control']}"})
