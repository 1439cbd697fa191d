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
_DINOV2 = {"model": "facebook/dinov2-small", "layer": "CLS token of last_hidden_state (after the final layer norm)",
           "preprocessing": "the checkpoint's image processor: bicubic resize of the short side to 256, center crop 224, "
                            "ImageNet mean/std"}
_CSD = {"model": "CSD (Somepalli et al. 2024): CLIP ViT-L/14 image backbone fine-tuned, with its style projection",
        "layer": "style projection of the backbone's pooled output (768-d), L2-normalised",
        "preprocessing": "bicubic resize 224, center crop 224, CLIP mean/std"}
_FACE = {"model": "insightface model pack buffalo_l (SCRFD-10GF detector, ArcFace ResNet-50 recognition)",
         "layer": "ArcFace 512-d normed embedding of the largest detected face",
         "preprocessing": "insightface: detection at 640x640 (image letterboxed), 5-point alignment to 112x112"}
LOCALITY = {"size": 256, "dilate_px": 8}  # working size (long side) and the mask's dilation, in pixels at that size
_LOCALITY = {"preprocessing": f"source and output resized (bicubic) to the source's aspect with the long side "
                              f"{LOCALITY['size']} px; the task's edit mask (if any) resized (nearest) and dilated by "
                              f"{LOCALITY['dilate_px']} px (a {2 * LOCALITY['dilate_px'] + 1}-px square)"}
_LPIPS = {"model": "LPIPS v0.1 (lpips package), AlexNet backbone, learned linear layers",
          "layer": "the spatial LPIPS map (5 AlexNet layers), upsampled to the input size"}
_CONTROL_EXACT = {"preprocessing": "output resized (bicubic) to the map's size"}
_FID = {"model": "clean-fid Inception-v3 (pt_inception-2015-12-05)", "layer": "pool3 (2048-d)",
        "preprocessing": "clean: PIL bicubic resize to 299x299 per channel as float32"}

BUILTIN_METRICS: list[MetricDef] = [
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
    MetricDef(name="control_edge_exact", kind="control", higher_is_better=True, target="control:edge",
              params={"scorer": "edge_f1_exact"},
              description="F1 of Canny edges of the output vs the edge map, pixel for pixel (ControlNet++'s exact mode)",
              recipe={"model": "OpenCV Canny (100, 200)", **_CONTROL_EXACT,
                      "formula": "pixelwise binary F1 of edge pixels, no tolerance"}, comparable_with=["ControlNet++"]),
    MetricDef(name="control_depth_rmse", kind="control", higher_is_better=False, target="control:depth",
              params={"scorer": "depth_rmse"},
              description="RMSE of the output's relative depth vs the depth map on a 0-255 scale (ControlNet++'s mode)",
              recipe={"model": "Intel/dpt-hybrid-midas", **_CONTROL_EXACT,
                      "formula": "RMSE of min-max normalised depths x 255, no scale or shift fit"},
              comparable_with=["ControlNet++"]),
    MetricDef(name="control_mask_iou", kind="control", higher_is_better=True, target="control:mask",
              params={"scorer": "mask_iou"},
              description="IoU of the output's GrabCut foreground with the mask's foreground",
              recipe={"model": "OpenCV GrabCut", **_CONTROL_EXACT,
                      "formula": "|pred and mask| / |pred or mask| (binary foreground; ControlNet++ reports "
                                 "segmentation mIoU over ADE20K classes, which a binary mask cannot match)"}),
    MetricDef(name="dino_v2", kind="similarity", higher_is_better=True, extractor="dinov2", target="subject",
              description="DINOv2: mean cosine of DINOv2-S CLS embeddings to each real image of the subject",
              recipe={**_DINOV2, "formula": "mean over real subject photos of cos(output, photo)"},
              comparable_with=["DreamBench++"]),
    MetricDef(name="style_csd", kind="similarity", higher_is_better=True, extractor="csd", target="style",
              description="CSD style similarity: cosine of CSD style embeddings to the style reference",
              recipe={**_CSD, "formula": "mean over style images of cos(output, style)"}, comparable_with=["CSD"]),
    MetricDef(name="face_id", kind="similarity", higher_is_better=True, extractor="face", target="subject",
              description="face identity: cosine of ArcFace embeddings of the output's face and each photo of the "
                          "person; no face in the output is a recorded failure, not a zero",
              recipe={**_FACE, "formula": "mean over the person's photos with a detected face of cos(output face, "
                                          "photo face)"}),
    MetricDef(name="edit_lpips", kind="locality", higher_is_better=False, extractor="lpips", target="source",
              params=LOCALITY,
              description="edit locality: LPIPS between the source and the output outside the dilated edit mask",
              recipe={**_LPIPS, **_LOCALITY, "formula": "mean of the LPIPS map over the pixels outside the dilated "
                                                        "mask (the whole image when there is no mask)"}),
    MetricDef(name="edit_l1", kind="locality", higher_is_better=False, target="source", params=LOCALITY,
              description="edit locality: mean absolute RGB difference of source and output outside the dilated mask",
              recipe={"model": "none (pixels)", **_LOCALITY,
                      "formula": "mean over pixels outside the dilated mask and channels of |source - output|, "
                                 "RGB in [0, 1]"}),
    MetricDef(name="lpips_diversity", kind="diversity", higher_is_better=True, extractor="lpips",
              description="diversity: mean LPIPS between the samples of one instance",
              recipe={**_LPIPS, "preprocessing": f"each output resized (bicubic) to {LOCALITY['size']}x"
                                                 f"{LOCALITY['size']}",
                      "formula": "per sample, the mean LPIPS to the instance's other samples (their mean is the "
                                 "mean pairwise LPIPS)"}),
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

_JUDGE = {"model": "the VLM of --judge-config (model id + revision in results.json: judge.identity)",
          "layer": "reply JSON {score: 0-10, reasoning} (generate) or the expected score at the answer token (logprob)",
          "preprocessing": "images downscaled to image_max_side; prompts/<version>.yaml (sha256 in the identity)"}
# params.combine = "min": a sample's value is the minimum over its conditions, not their mean
# (ibench.evaluators.results.combine_conditions); params.judge: which verdicts the judge kind asks.
BUILTIN_METRICS += [
    MetricDef(name="judge_sc", kind="judge", higher_is_better=True, params={"judge": "sc", "combine": "min"},
              description="VLM judge semantic consistency: per checklist condition 0-10 / 10; a sample's SC is the "
                          "minimum over its conditions",
              recipe={**_JUDGE, "formula": "per sample min over checklist conditions of score/10 (VIEScore SC)"},
              comparable_with=["VIEScore"]),
    MetricDef(name="judge_pq", kind="judge", higher_is_better=True, params={"judge": "pq", "combine": "min"},
              description="VLM judge perceptual quality: min(naturalness, artifacts), each 0-10 / 10",
              recipe={**_JUDGE, "formula": "per sample min(naturalness, artifacts)/10 (VIEScore PQ)"},
              comparable_with=["VIEScore"]),
    MetricDef(name="judge_o", kind="judge", higher_is_better=True, params={"judge": "o"},
              description="VLM judge overall: sqrt(SC * PQ) per sample",
              recipe={**_JUDGE, "formula": "per sample sqrt(SC * PQ) (VIEScore O)"}, comparable_with=["VIEScore"]),
]
#: Every known metric definition by name (built-ins, then what extensions register).
METRICS: dict[str, MetricDef] = {m.name: m for m in BUILTIN_METRICS}


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
