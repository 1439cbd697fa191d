"""Metric definitions and their registry (did-you-mean on unknown names).

A per-instance metric yields one row per (instance, sample, condition), where the condition is
``text`` or ``<kind>:<marker>`` (``subject:ref#1``); a set-level metric yields one value per run.
Definitions are light: networks load only when scoring needs a feature the cache lacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ibench.instances import Instance
from ibench.registry import unknown


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool
    description: str

    level = "instance"

    def conditions(self, instance: Instance) -> list[tuple[str, list[str]]]:
        """(condition, reference images or texts) pairs this metric scores for the instance."""
        return []


@dataclass(frozen=True)
class Similarity(Metric):
    """Mean cosine between the output's embedding and each reference image (or the target prompt)."""

    extractor: str = "clip"
    kind: Literal["text", "subject", "style", "content"] = "text"

    def conditions(self, instance: Instance) -> list[tuple[str, list[str]]]:
        ins = instance.instruction
        if self.kind == "text":
            return [("text", [ins.target_prompt])]
        return [(f"{r.kind}:{r.marker}", list(r.images)) for r in ins.of_kind(self.kind)]


@dataclass(frozen=True)
class ControlFidelity(Metric):
    """Agreement of the output with a control map (edge F1, mask agreement, depth error)."""

    control: Literal["edge", "mask", "depth"] = "edge"

    def conditions(self, instance: Instance) -> list[tuple[str, list[str]]]:
        return [(f"control:{r.marker}", [r.images[0]]) for r in instance.instruction.of_kind("control")
                if r.control == self.control]


@dataclass(frozen=True)
class SetMetric(Metric):
    """A distribution distance between all outputs and the task's reference image set."""

    level = "set"


_DEFS: list[Metric] = [
    Similarity("clip_t", True, "CLIP-T: cosine between the image and the target prompt (CLIP ViT-B/32)", "clip", "text"),
    Similarity("clip_i", True, "CLIP-I: mean cosine to each real image of the subject (CLIP image embeddings)",
               "clip", "subject"),
    Similarity("dino", True, "DINO: mean cosine of DINO ViT-S/16 CLS embeddings to each real image of the subject",
               "dino", "subject"),
    Similarity("style_clip", True, "CLIP image cosine to the style reference (also rewards copied content)",
               "clip", "style"),
    Similarity("style_gram", True, "mean over VGG-19 layers of the cosine between Gram matrices, vs the style image",
               "gram", "style"),
    Similarity("content_clip", True, "CLIP image cosine to the content photo (style transfer keeps the content)",
               "clip", "content"),
    ControlFidelity("control_edge", True, "F1 of Canny edges of the output vs the edge map (2 px tolerance)",
                    "edge"),
    ControlFidelity("control_mask", True, "balanced agreement of the output's GrabCut mask with the mask "
                    "(mean of inside and outside agreement)", "mask"),
    ControlFidelity("control_depth", False, "scale-and-shift-invariant mean absolute error of the output's "
                    "relative depth vs the depth map (same depth model)", "depth"),
    SetMetric("fid", False, "FID (clean-fid maths, 'clean' preprocessing, Inception) vs the task's real images"),
    SetMetric("kid", False, "KID (clean-fid maths, seeded subsets) vs the task's real images"),
]
METRICS: dict[str, Metric] = {m.name: m for m in _DEFS}


def register(metric: Metric) -> None:
    """Add a metric definition (extensions)."""
    METRICS[metric.name] = metric


def get_metric(name: str) -> Metric:
    if name not in METRICS:
        raise unknown("metric", name, list(METRICS))
    return METRICS[name]


def parse_metrics(names: "str | list[str] | None") -> list[Metric]:
    if names is None:
        return []
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    return [get_metric(n) for n in dict.fromkeys(names)]
