"""Control maps derived from photos: edges (Canny), masks (GrabCut), sketches, depth."""

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


def _gray(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"))


def canny(image: Image.Image, low: int = CANNY_LOW, high: int = CANNY_HIGH) -> Image.Image:
    """Standard OpenCV Canny edges: white edges on black, the same detector evaluators use."""
    import cv2

    return Image.fromarray(cv2.Canny(_gray(image), low, high))


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
    from ibench.weights import download_error, resolve_weights

    model = model or os.environ.get("IBENCH_DEPTH_MODEL") or DEFAULT_DEPTH_MODEL
    source = resolve_weights(model, what="depth model", flag="--depth-model")
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
    made = {"edge": canny, "mask": grabcut_mask, "sketch": sketch}[control](open_image(root.resolve(source)))
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
