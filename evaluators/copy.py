"""Metric kind ``copy``: did an output paste one of its own references?

Per sample: the largest similarity between the output and any image of the instruction's references
of the kinds in ``params.kinds`` (default subject, style and content: what the model is shown and
could paste; never control maps or editing sources); the row's value is 1 when it reaches
``params.threshold`` (a copy), else 0, so a run's mean is its **copy rate**, with a CI over
instances like every metric. ``results.json`` also gets the threshold and the mean of the maximum
similarity.

The similarity needs no weights, so its threshold is calibrated on real images
(``benchmarks/calibrate_copy.py`` on ../shared/data; figures in docs/evaluators.md): the normalised
cross-correlation of ``size`` x ``size`` grey thumbnails (box filter), the best over the whole image
and its centre square on each side, so a pipeline that resizes, re-encodes, recolours, blurs or
centre-crops a pasted reference is still caught. Other crops, flips and re-renderings escape it: a
feature-based variant (e.g. DINO) needs its own threshold, calibrated with real weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from ibench.core.instance import Instance
from ibench.core.metrics import MetricDef
from ibench.errors import IbenchError

from .features import loader
from .kinds import KindOutput, MetricKind, ScoringContext

DEFAULT_KINDS = ("subject", "style", "content")
CONDITION = "references"
SIMILARITY = "max NCC of grey {size}x{size} thumbnails (whole image or centre square, each side)"


def thumbnails(image: Image.Image, size: int = 32) -> np.ndarray:
    """Two unit vectors (whole image, centre square) of zero-mean grey ``size`` x ``size`` thumbnails."""
    grey = image.convert("L")
    w, h = grey.size
    m = min(w, h)
    square = grey.crop(((w - m) // 2, (h - m) // 2, (w - m) // 2 + m, (h - m) // 2 + m))
    out = []
    for view in (grey, square):
        v = np.asarray(view.resize((size, size), Image.BOX), dtype=np.float64).ravel()
        v = v - v.mean()
        norm = np.linalg.norm(v)
        out.append(v / norm if norm > 0 else v)
    return np.stack(out)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The copy similarity of two images' ``thumbnails``: the best of the four view pairs."""
    return float((a @ b.T).max())


class ThumbnailDataset(Dataset):
    """Items ``(path, size)`` -> ``(path, thumbnails or None, error)``, decoded in DataLoader workers."""

    def __init__(self, items: list[tuple[Path, int]]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        path, size = self.items[i]
        try:
            with Image.open(path) as im:
                return path, size, thumbnails(im, size), None
        except (OSError, SyntaxError, ValueError) as exc:
            return path, size, None, f"{path}: {type(exc).__name__}: {exc}"


class CopyKind(MetricKind):
    def check(self, metric: MetricDef) -> None:
        t = metric.params.get("threshold")
        if metric.extractor or not isinstance(t, (int, float)) or not 0 < t <= 1:
            raise IbenchError(f"metric {metric.name!r}: kind 'copy' needs params.threshold in (0, 1] and no "
                              f"extractor (it compares pixels)")

    def extractors(self, metrics: list[MetricDef]) -> set[str]:
        return set()

    def applies(self, metric: MetricDef, instance: Instance) -> bool:
        kinds = tuple(metric.params.get("kinds", DEFAULT_KINDS))
        return any(r.kind in kinds for r in instance.instruction.references)

    def score(self, ctx: ScoringContext, metrics: list[MetricDef]) -> KindOutput:
        wanted: dict[tuple[Path, int], None] = {}
        refs: dict[tuple[str, str], list[Path]] = {}
        for m in metrics:
            kinds, size = tuple(m.params.get("kinds", DEFAULT_KINDS)), int(m.params.get("size", 32))
            for g in ctx.ok:
                paths = [ctx.root.resolve(p) for r in ctx.instances[g.instance_id].instruction.references
                         if r.kind in kinds for p in r.images]
                refs[(m.name, g.instance_id)] = paths
                wanted.update({(p, size): None for p in [ctx.store.path / g.image, *paths]})
        thumbs = {}
        items = list(wanted)
        for batch in loader(ThumbnailDataset(items), ctx.batch_size, ctx.num_workers, list):
            for path, size, value, error in batch:
                if error:
                    raise IbenchError(f"image does not decode: {error}")
                thumbs[(path, size)] = value
        out = KindOutput(rows={m.name: [] for m in metrics})
        for m in metrics:
            size, threshold = int(m.params.get("size", 32)), float(m.params["threshold"])
            best = []
            for g in ctx.ok:
                paths = refs[(m.name, g.instance_id)]
                if not paths:
                    continue
                mine = thumbs[(ctx.store.path / g.image, size)]
                s = max(similarity(mine, thumbs[(p, size)]) for p in paths)
                best.append(s)
                out.rows[m.name].append({"instance_id": g.instance_id, "sample": g.sample, "metric": m.name,
                                         "condition": CONDITION, "value": float(s >= threshold)})
            out.details[m.name] = {"threshold": threshold, "similarity": SIMILARITY.format(size=size),
                                   "max_similarity_mean": float(np.mean(best)) if best else None}
        return out
