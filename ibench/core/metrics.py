"""Metric definitions: what each metric measures, on which conditions, by which recipe.

A definition is data; the code that computes it is the metric *kind*'s, in the evaluators' kind
table (``ibench.evaluators.registry``). A per-instance metric yields one row per (instance, sample,
condition), where the condition is ``text`` or ``<kind>:<marker>`` (``subject:ref#1``); a set-level
metric yields one value per run. Register new definitions with ``ibench.evaluators.register``,
which refuses a kind or extractor it cannot serve.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ibench.errors import unknown

from .instance import Instance
from .vocabulary import CONTROL_TYPES, REFERENCE_KINDS

Level = Literal["instance", "set"]


class MetricDef(BaseModel):
    """One metric. ``target`` is what a per-instance metric compares the output with: ``text`` (the target
    prompt), a reference kind (``subject``: every image of each subject reference) or ``control:<type>``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: str
    higher_is_better: bool
    description: str
    level: Level = "instance"
    extractor: Optional[str] = None
    target: Optional[str] = None
    params: dict[str, Any] = Field(default_factory=dict)  # kind-specific (e.g. a control metric's scorer)
    recipe: dict[str, str] = Field(default_factory=dict)
    comparable_with: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_target(self) -> "MetricDef":
        t = self.target
        ok = (t is None or t == "text" or (t in REFERENCE_KINDS and t != "control")
              or (t.startswith("control:") and t.split(":", 1)[1] in CONTROL_TYPES))
        if not ok:
            raise ValueError(f"metric {self.name!r}: target {t!r} must be text, a reference kind or control:<type>")
        return self

    @property
    def control(self) -> Optional[str]:
        return self.target.split(":", 1)[1] if self.target and self.target.startswith("control:") else None

    def conditions(self, instance: Instance) -> list[tuple[str, list[str]]]:
        """(condition, reference images or texts) pairs this metric scores for the instance."""
        ins, t = instance.instruction, self.target
        if t is None:
            return []
        if t == "text":
            return [("text", [ins.target_prompt])]
        if self.control:
            return [(f"control:{r.marker}", [r.images[0]]) for r in ins.of_kind("control") if r.control == self.control]
        return [(f"{r.kind}:{r.marker}", list(r.images)) for r in ins.of_kind(t)]


_CLIP = {"model": "OpenAI CLIP ViT-B/32 (open_clip ViT-B-32-quickgelu, openai)", "layer": "image/text projection",
         "preprocessing": "open_clip val transform: bicubic resize 224, center crop, CLIP mean/std"}
_DINO = {"model": "facebook/dino-vits16", "layer": "CLS token of last_hidden_state",
         "preprocessing": "bicubic resize 224, center crop, ImageNet mean/std"}
_FID = {"model": "clean-fid Inception-v3 (pt_inception-2015-12-05)", "layer": "pool3 (2048-d)",
        "preprocessing": "clean: PIL bicubic resize to 299x299 per channel as float32"}

BUILTIN: list[MetricDef] = [
    MetricDef(name="clip_t", kind="similarity", higher_is_better=True, extractor="clip", target="text",
              description="CLIP-T: cosine between the image and the target prompt (CLIP ViT-B/32)",
              recipe={**_CLIP, "formula": "cos(image, text), raw (not x100)"}, comparable_with=["DreamBench"]),
    MetricDef(name="clip_i", kind="similarity", higher_is_better=True, extractor="clip", target="subject",
              description="CLIP-I: mean cosine to each real image of the subject (CLIP image embeddings)",
              recipe={**_CLIP, "formula": "mean over real subject photos of cos(output, photo)"},
              comparable_with=["DreamBench"]),
    MetricDef(name="dino", kind="similarity", higher_is_better=True, extractor="dino", target="subject",
              description="DINO: mean cosine of DINO ViT-S/16 CLS embeddings to each real image of the subject",
              recipe={**_DINO, "formula": "mean over real subject photos of cos(output, photo)"},
              comparable_with=["DreamBench"]),
    MetricDef(name="style_clip", kind="similarity", higher_is_better=True, extractor="clip", target="style",
              description="CLIP image cosine to the style reference (also rewards copied content)",
              recipe={**_CLIP, "formula": "mean over style images of cos(output, style)"}),
    MetricDef(name="style_gram", kind="similarity", higher_is_better=True, extractor="gram", target="style",
              description="mean over VGG-19 layers of the cosine between Gram matrices, vs the style image",
              recipe={"model": "timm/vgg19.tv_in1k", "layer": "relu1_1..relu4_1 Gram matrices",
                      "preprocessing": "resize 256, ImageNet mean/std",
                      "formula": "mean over layers of cos(Gram(output), Gram(style))"}),
    MetricDef(name="content_clip", kind="similarity", higher_is_better=True, extractor="clip", target="content",
              description="CLIP image cosine to the content photo (style transfer keeps the content)",
              recipe={**_CLIP, "formula": "cos(output, content photo)"}),
    MetricDef(name="copy_rate", kind="copy", higher_is_better=False,
              description="copy rate: share of outputs that are a near-copy of one of their own subject, style or "
                          "content references (read beside subject and style fidelity, which copying inflates)",
              params={"threshold": 0.96, "size": 32, "kinds": ["subject", "style", "content"]},
              recipe={"model": "none (pixels)", "layer": "grey 32x32 box-filtered thumbnails",
                      "preprocessing": "whole image and centre square, zero mean, unit norm",
                      "formula": "1 if max over reference images and views of NCC >= 0.96 else 0; mean = copy rate "
                                 "(threshold calibrated by benchmarks/calibrate_copy.py)"}),
    MetricDef(name="control_edge", kind="control", higher_is_better=True, target="control:edge",
              description="F1 of Canny edges of the output vs the edge map (2 px tolerance)",
              recipe={"model": "OpenCV Canny (100, 200)", "preprocessing": "output resized to the map's size",
                      "formula": "F1 of edge pixels matched within 2 px"}),
    MetricDef(name="control_mask", kind="control", higher_is_better=True, target="control:mask",
              description="balanced agreement of the output's GrabCut mask with the mask "
                          "(mean of inside and outside agreement)",
              recipe={"model": "OpenCV GrabCut", "preprocessing": "output resized to the map's size",
                      "formula": "mean of inside and outside agreement"}),
    MetricDef(name="control_depth", kind="control", higher_is_better=False, target="control:depth",
              description="scale-and-shift-invariant mean absolute error of the output's relative depth vs the "
                          "depth map (same depth model)",
              recipe={"model": "Intel/dpt-hybrid-midas", "preprocessing": "output resized to the map's size",
                      "formula": "MAE after least-squares scale and shift, depths in [0, 1]"}),
    MetricDef(name="fid", kind="set", level="set", higher_is_better=False, extractor="inception",
              description="FID (clean-fid maths, 'clean' preprocessing, Inception) of every generated image vs the "
                          "task's reference set, beside its noise floor",
              recipe={**_FID, "formula": "Frechet distance of Gaussian fits; every image counts (duplicates too)"},
              comparable_with=["clean-fid"]),
    MetricDef(name="kid", kind="set", level="set", higher_is_better=False, extractor="inception",
              description="KID (unbiased MMD^2, clean-fid's kernel) of every generated image vs the task's reference "
                          "set, beside its noise floor: the one to read at small N",
              recipe={**_FID, "formula": "unbiased MMD^2, cubic polynomial kernel, on all images (<= 10,000 per set), "
                                         "else seeded subsets with the Monte-Carlo error"},
              comparable_with=["clean-fid"]),
]
#: Every known metric definition by name (built-ins, then what extensions register).
METRICS: dict[str, MetricDef] = {m.name: m for m in BUILTIN}


def get_metric(name: str) -> MetricDef:
    if name not in METRICS:
        raise unknown("metric", name, list(METRICS))
    return METRICS[name]


def parse_metrics(names: "str | list[str] | None") -> list[MetricDef]:
    """Definitions of comma-separated (or listed) metric names, each once, in order."""
    if names is None:
        return []
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    return [get_metric(n) for n in dict.fromkeys(names)]
