"""Control fidelity: re-extract the control signal from the output with the same detector that made
the map (``ibench.data.controls``) and compare, at the map's resolution.

- edge: OpenCV Canny (ControlNet thresholds); precision/recall with a 2 px (Euclidean, distance
  transform) tolerance; value = F1.
- mask: GrabCut foreground of the output; value = ½(share of mask pixels called foreground +
  share of non-mask pixels called background): 0.5 for a random mask, but an unrelated photo of a centred
  object scores ~0.71 (GrabCut's centred seed; chance levels: benchmarks/bench_chance.py, docs/evaluators.md).
- depth: the same transformers depth model; both maps normalised to [0, 1]; the output's map is
  fitted to the target by least squares (scale >= 0 and shift); value = mean absolute error (lower is better).

ControlNet++'s exact mode (``params.scorer``): ``edge_f1_exact`` (pixelwise F1, no tolerance),
``depth_rmse`` (RMSE of min-max normalised depths on a 0-255 scale, no fit), ``mask_iou`` (foreground IoU).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from ibench.core.images import ImageFileError, open_image
from ibench.core.metrics import MetricDef
from ibench.data import controls
from ibench.errors import IbenchError

from .features import loader
from .kinds import KindOutput, MetricKind, ScoringContext

EDGE_TOLERANCE = 2  # pixels, at the control map's resolution


def _near(mask: np.ndarray, tolerance: int) -> np.ndarray:
    """Pixels within Euclidean distance ``tolerance`` of a True pixel of ``mask`` (isotropic, exact)."""
    import cv2

    dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return dist <= tolerance + 1e-6


def edge_prf(pred: np.ndarray, target: np.ndarray, tolerance: int = EDGE_TOLERANCE) -> tuple[float, float, float]:
    """(precision, recall, F1) of boolean edge maps: a predicted edge pixel is correct when a target edge
    lies within ``tolerance`` px, a target edge pixel is found when a predicted one does."""
    if not target.any() and not pred.any():
        return 1.0, 1.0, 1.0
    if not target.any() or not pred.any():
        return float(not pred.any()), float(not target.any()), 0.0
    precision = float((pred & _near(target, tolerance)).sum() / pred.sum())
    recall = float((target & _near(pred, tolerance)).sum() / target.sum())
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return precision, recall, f1


def edge_f1(output: Image.Image, edge_map: Image.Image, tolerance: int = EDGE_TOLERANCE) -> float:
    """F1 of the output's Canny edges against the edge map, matching within ``tolerance`` px."""
    target = np.asarray(edge_map.convert("L")) > 127
    pred = np.asarray(controls.canny(output.convert("RGB").resize(edge_map.size, Image.BICUBIC))) > 127
    return edge_prf(pred, target, tolerance)[2]


def edge_f1_exact(output: Image.Image, edge_map: Image.Image) -> float:
    """ControlNet++'s Canny F1: the output's Canny edges (100, 200) against the map, pixel for pixel."""
    return edge_f1(output, edge_map, tolerance=0)


def _output_mask(output: Image.Image, mask: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """(the output's GrabCut foreground at the mask's size, the mask's foreground), both boolean."""
    target = np.asarray(mask.convert("L")) > 127
    pred = np.asarray(controls.grabcut_mask(output.convert("RGB").resize(mask.size, Image.BICUBIC))) > 127
    return pred, target


def mask_iou(output: Image.Image, mask: Image.Image) -> float:
    """Intersection over union of the output's foreground and the mask's (1 when both are empty)."""
    pred, target = _output_mask(output, mask)
    union = (pred | target).sum()
    return 1.0 if union == 0 else float((pred & target).sum() / union)


def depth_rmse(pred: np.ndarray, target: np.ndarray) -> float:
    """RMSE of two relative depth maps of one size, each min-max normalised, on a 0-255 scale (no fit)."""
    def unit(d: np.ndarray) -> np.ndarray:
        d = d.astype(np.float64)
        return (d - d.min()) / max(float(d.max() - d.min()), 1e-8)

    return float(np.sqrt(np.mean((unit(pred) * 255 - unit(target) * 255) ** 2)))


def mask_agreement(output: Image.Image, mask: Image.Image) -> float:
    """Balanced agreement of the output's GrabCut mask with the mask (1 = identical; chance: docs/evaluators.md)."""
    pred, target = _output_mask(output, mask)
    parts = []
    if target.any():
        parts.append(float(pred[target].mean()))
    if (~target).any():
        parts.append(float((~pred[~target]).mean()))
    return float(np.mean(parts))


def depth_error(pred: np.ndarray, target: np.ndarray) -> float:
    """Scale-and-shift-invariant mean absolute error between two relative depth maps of one size."""
    p, t = pred.astype(np.float64).ravel(), target.astype(np.float64).ravel()
    a = np.stack([p, np.ones_like(p)], axis=1)
    coef, *_ = np.linalg.lstsq(a, t, rcond=None)
    if coef[0] < 0:  # an inverted map (far = near) must not fit: allow scale >= 0 only
        coef = np.array([0.0, t.mean()])
    return float(np.abs(a @ coef - t).mean())


#: Scorers that compare the output with the map directly (run in DataLoader workers), by name.
PIXEL_SCORERS: dict[str, Callable[[Image.Image, Image.Image], float]] = {
    "edge_f1": edge_f1, "mask_agreement": mask_agreement, "edge_f1_exact": edge_f1_exact, "mask_iou": mask_iou}
#: Scorers of (output's relative depth, target depth), both in [0, 1]: they need the depth model.
DEPTH_SCORERS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {"depth_mae": depth_error,
                                                                        "depth_rmse": depth_rmse}
DEFAULT_SCORER = {"edge": "edge_f1", "mask": "mask_agreement", "depth": "depth_mae"}


def scorer_of(metric: MetricDef) -> str:
    """The scorer a control metric uses: ``params.scorer``, else its control type's default."""
    return str(metric.params.get("scorer") or DEFAULT_SCORER.get(metric.control or "", ""))


class ControlDataset(Dataset):
    """Items ``(key, output path, map path, scorer)``; pixel scorers run in the worker, depth items
    return the decoded pair for the depth model in the main process."""

    def __init__(self, items: list[tuple[object, Path, Path, str]]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        key, out_path, map_path, scorer = self.items[i]
        try:
            out, cmap = open_image(out_path), open_image(map_path, "L", what="control map")
        except ImageFileError as exc:
            return key, None, None, str(exc)
        if scorer in PIXEL_SCORERS:
            return key, PIXEL_SCORERS[scorer](out, cmap), None, None
        return key, None, (out, np.asarray(cmap, dtype=np.float32) / 255.0), None


class DepthModel:
    """The depth-estimation pipeline that ``ibench data prepare`` uses, loaded once."""

    def __init__(self, model: Optional[str] = None, device: str = "cpu"):
        from ibench.weights import locate

        self.name = model or os.environ.get("IBENCH_DEPTH_MODEL") or controls.DEFAULT_DEPTH_MODEL
        self.source = locate(self.name, what="depth model", flag="depth.model")
        self.device, self.pipe = device, None

    def errors(self, pairs: list[tuple[Image.Image, np.ndarray]],
               error: Callable[[np.ndarray, np.ndarray], float] = depth_error) -> list[float]:
        if self.pipe is None:
            from ibench.evaluators.extractor import quiet_transformers

            quiet_transformers()
            self.pipe = controls.depth_estimator(self.source, self.device)
        out = []
        for (image, target), result in zip(pairs, self.pipe([p[0] for p in pairs])):
            d = controls.relative_depth(result)  # as the map was made
            d = np.asarray(Image.fromarray(d, mode="F").resize(target.shape[::-1], Image.BILINEAR))
            out.append(error(d, target))
        return out


class ControlKind(MetricKind):
    """Metric kind ``control``: re-extract the control signal from the output and compare it with the map."""

    def check(self, metric: MetricDef) -> None:
        scorer = scorer_of(metric)
        if metric.control is None or (scorer not in PIXEL_SCORERS and scorer not in DEPTH_SCORERS):
            raise IbenchError(f"metric {metric.name!r}: kind 'control' needs target control:<type> and a scorer "
                              f"(known: {', '.join(sorted({**PIXEL_SCORERS, **DEPTH_SCORERS}))})")

    def score(self, ctx: ScoringContext, metrics: list[MetricDef]) -> KindOutput:
        out = KindOutput(rows={m.name: [] for m in metrics})
        items, depth, scorers = [], None, {}
        for m in metrics:
            scorers[m.name] = scorer_of(m)
            if scorers[m.name] in DEPTH_SCORERS and depth is None:
                try:
                    depth = DepthModel(ctx.config.depth_model, ctx.device)
                except IbenchError as exc:
                    out.skipped[m.name] = f"skipped: no depth model ({exc})"
                    continue
            for g in ctx.ok:
                for cond, (rel,) in m.conditions(ctx.instances[g.instance_id]):
                    items.append(((m.name, g.instance_id, g.sample, cond), ctx.store.path / g.image,
                                  ctx.root.resolve(rel), scorers[m.name]))
        for batch in loader(ControlDataset(items), ctx.batch_size, ctx.num_workers, collate_fn=list):
            pending: dict[str, list] = {}
            for key, value, pair, error in batch:
                if error:
                    raise IbenchError(f"cannot score {key[0]} for {key[1]} sample {key[2]}: {error}")
                if pair is not None:
                    pending.setdefault(scorers[key[0]], []).append((key, pair))
                else:
                    _append(out.rows, key, value)
            for scorer, group in pending.items():
                if depth is not None:
                    values = depth.errors([p for _, p in group], DEPTH_SCORERS[scorer])
                    for (key, _), value in zip(group, values):
                        _append(out.rows, key, value)
        return out


def _append(rows: dict[str, list], key: tuple, value: float) -> None:
    name, iid, sample, cond = key
    rows[name].append({"instance_id": iid, "sample": sample, "metric": name, "condition": cond, "value": float(value)})
