"""Control maps derived from photos: edges (Canny), masks (GrabCut), sketches, depth.

Edge maps are made as ControlNet's own Canny annotator makes them, at the resolution its models work at:
the photo resized so its shorter side is ``DETECT_RESOLUTION`` (512; each side rounded to a multiple of 64,
Lanczos when enlarging, area averaging when shrinking), then OpenCV Canny (100, 200) on the colour image
(lllyasviel/ControlNet@5b9908e:annotator/util.py:28-37 and @005008b:gradio_canny2image.py:28-31;
huggingface/controlnet_aux@01be82e:src/controlnet_aux/canny/__init__.py:7-17, detect_resolution=512).
A 2048 px photo thus gives a crisp 0/255 map of 512 px lines, not 2048 px lines shrunk to grey.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from ibench.errors import IbenchError
from ibench.core.images import open_image
from ibench.core.jsonio import replace_atomic
from ibench.core.paths import DataRoot, derived_path
from ibench.core.vocabulary import ON_DEMAND_CONTROLS

DEFAULT_DEPTH_MODEL = "Intel/dpt-hybrid-midas"
CANNY_LOW, CANNY_HIGH = 100, 200  # the thresholds ControlNet's Canny annotator uses
DETECT_RESOLUTION = 512  # the shorter side ControlNet's annotators detect at (SD 1.5's working size)


def _gray(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"))


def canny(image: Image.Image, low: int = CANNY_LOW, high: int = CANNY_HIGH) -> Image.Image:
    """OpenCV Canny edges of the colour image, as ControlNet's annotator calls it (white edges on black), at the
    image's own size: the detector of ``edge_map`` and of the evaluators' edge fidelity."""
    import cv2

    return Image.fromarray(cv2.Canny(np.ascontiguousarray(np.asarray(image.convert("RGB"))), low, high))


def annotator_size(width: int, height: int, resolution: int = DETECT_RESOLUTION) -> tuple[int, int]:
    """(width, height) of an image resized as ControlNet's annotators resize it: the shorter side to ``resolution``,
    each side then rounded to a multiple of 64."""
    k = resolution / min(width, height)
    return int(np.round(width * k / 64.0)) * 64, int(np.round(height * k / 64.0)) * 64


def edge_map(image: Image.Image, resolution: int = DETECT_RESOLUTION) -> Image.Image:
    """ControlNet's Canny annotator: the image at ``annotator_size`` (Lanczos up, area down), then ``canny``."""
    import cv2

    rgb = np.asarray(image.convert("RGB"))
    w, h = annotator_size(rgb.shape[1], rgb.shape[0], resolution)
    grow = min(rgb.shape[:2]) < resolution
    resized = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LANCZOS4 if grow else cv2.INTER_AREA)
    return canny(Image.fromarray(resized))


def grabcut_mask(image: Image.Image, margin: float = 0.1, iters: int = 3, work_size: int = 160) -> Image.Image:
    """Foreground mask by GrabCut seeded with a centred rectangle (white = foreground).

    GrabCut runs on a copy at most ``work_size`` px long (it is slow at full size); the mask is
    scaled back to the image's size.
    """
    import cv2

    small = image.convert("RGB")
    small.thumbnail((work_size, work_size), Image.BILINEAR)
    rgb = np.asarray(small)
    h, w = rgb.shape[:2]
    rect = (int(w * margin), int(h * margin), max(1, int(w * (1 - 2 * margin))), max(1, int(h * (1 - 2 * margin))))
    mask = np.zeros((h, w), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    cv2.grabCut(rgb[:, :, ::-1].copy(), mask, rect, bgd, fgd, iters, cv2.GC_INIT_WITH_RECT)
    fg = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8) * 255
    return Image.fromarray(fg).resize(image.size, Image.NEAREST)


def sketch(image: Image.Image) -> Image.Image:
    """A pencil-like sketch: dark dilated Canny strokes on white."""
    import cv2

    edges = cv2.Canny(cv2.GaussianBlur(_gray(image), (5, 5), 0), 50, 150)
    edges = cv2.dilate(edges, np.ones((2, 2), np.uint8))
    return Image.fromarray(255 - edges)


def depth_estimator(model: str | None = None, device: str = "cpu"):
    """A transformers ``depth-estimation`` pipeline, loaded once; raises one clear line on failure."""
    from ibench.weights import download_error, locate

    model = model or os.environ.get("IBENCH_DEPTH_MODEL") or DEFAULT_DEPTH_MODEL
    source = locate(model, what="depth model", flag="--depth-model")
    try:
        from transformers import pipeline

        return pipeline("depth-estimation", model=source, device=device)
    except Exception as exc:  # noqa: BLE001 - any loading failure of third-party weights: one line
        if Path(source).exists():
            raise IbenchError(f"depth model at {source} could not be loaded as a transformers depth-estimation model "
                              f"({type(exc).__name__}: {str(exc).splitlines()[0][:160]})") from None
        raise download_error(model, "depth model", exc) from None


def relative_depth(result: dict) -> np.ndarray:
    """A depth-estimation pipeline result as a float32 map scaled to [0, 1] (near = 1, as the model predicts)."""
    d = np.asarray(result["predicted_depth"], dtype=np.float32).squeeze()
    return (d - d.min()) / max(float(d.max() - d.min()), 1e-8)


def depth(images: list[Image.Image], model: str | None = None, device: str = "cpu", pipe=None) -> list[Image.Image]:
    """Relative depth maps (near = bright, as the model predicts), each the size of its image."""
    pipe = pipe or depth_estimator(model, device)
    results = pipe(images)
    if isinstance(results, dict):
        results = [results]
    out = []
    for image, result in zip(images, results):
        d = relative_depth(result)
        made = Image.fromarray((d * 255).round().astype(np.uint8))
        out.append(made if made.size == image.size else made.resize(image.size, Image.BICUBIC))
    return out


def _save(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomic(path, lambda tmp: image.save(tmp, format="PNG"))


def ensure_control(root: DataRoot, control: str, source: str) -> str:
    """The derived map's relative path, making edge/mask/sketch maps now if missing."""
    rel = derived_path(control, source)
    target = root.resolve(rel)
    if target.is_file():
        return rel
    if control not in ON_DEMAND_CONTROLS:
        raise IbenchError(f"{control} map for {source} is missing: run `ibench data prepare --controls {control}` "
                          f"(depth needs a depth model; see `ibench data prepare --help`)")
    made = {"edge": edge_map, "mask": grabcut_mask, "sketch": sketch}[control](open_image(root.resolve(source)))
    _save(made, target)
    return rel


def prepare(root: DataRoot, controls: list[str], sources: list[str], depth_model: str | None = None,
            device: str = "cpu", batch: int = 8) -> int:
    """Derive the given control maps for the given source images; returns how many were made."""
    made = 0
    for control in controls:
        todo = [s for s in sources if not root.resolve(derived_path(control, s)).is_file()]
        if control in ON_DEMAND_CONTROLS:
            for s in todo:
                ensure_control(root, control, s)
                made += 1
            continue
        pipe = depth_estimator(depth_model, device) if todo else None
        for i in range(0, len(todo), batch):
            chunk = todo[i:i + batch]
            images = [open_image(root.resolve(s)) for s in chunk]
            for s, d in zip(chunk, depth(images, pipe=pipe)):
                _save(d, root.resolve(derived_path(control, s)))
                made += 1
    return made
