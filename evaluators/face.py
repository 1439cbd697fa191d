"""Face identity embeddings: ArcFace (insightface) of the largest detected face, or NaN when none is found.

Each image is letterboxed to 640x640 (scaled to fit, padded at the bottom and right, as insightface's
detector does itself) and given to an analyzer that returns (box, embedding) per face; the embedding
of the largest box, L2-normalised, is the image's feature. An image without a face gets a NaN
vector: the ``similarity`` kind records such an output as a failure (not a zero) and leaves such a
reference photo out.

Analyzers: insightface's ``FaceAnalysis`` (detection + recognition) on a local model pack
(``face.model``: a pack name under ``<face.root>/models/`` or a folder; the ``face`` extra), or
``face.model: tiny``, a stand-in for offline runs (the central square of the picture is "the face"
when it has contrast; its embedding is a fixed random projection of a 16x16 thumbnail).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image

from ibench.errors import IbenchError

from .config import ExtractorConfig
from .extractor import Extractor
from .identity import file_identity, weights_name

SIZE = 640
INSTALL = "face identity needs insightface and onnxruntime: pip install 'ibench[face]'"


class FaceAnalyzer(Protocol):
    dim: int

    def faces(self, bgr: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """(box x0, y0, x1, y1; embedding) of each face found in a uint8 BGR image."""


def letterbox(image: Image.Image) -> torch.Tensor:
    """(640, 640, 3) uint8 BGR: the image scaled to fit, at the top left of a black canvas."""
    rgb = image.convert("RGB")
    scale = SIZE / max(rgb.size)
    rgb = rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))), Image.BILINEAR)
    canvas = np.zeros((SIZE, SIZE, 3), np.uint8)
    canvas[:rgb.height, :rgb.width] = np.asarray(rgb)[:, :, ::-1]
    return torch.from_numpy(canvas)


class InsightFaceAnalyzer:
    """insightface's ``FaceAnalysis`` with detection and recognition only."""

    dim = 512

    def __init__(self, folder: Path, device: str):
        from insightface.app import FaceAnalysis

        cuda = device.startswith("cuda")
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
        where = ({"name": folder.name, "root": str(folder.parent.parent)} if folder.parent.name == "models"
                 else {"name": str(folder)})
        try:
            self.app = FaceAnalysis(allowed_modules=["detection", "recognition"], providers=providers, **where)
            self.app.prepare(ctx_id=0 if cuda else -1, det_size=(SIZE, SIZE))
        except Exception as exc:  # noqa: BLE001 - a pack that does not load: one line
            raise IbenchError(f"insightface model pack {folder} could not be loaded ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200] if str(exc) else ''})") from None

    def faces(self, bgr: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(np.asarray(f.bbox), np.asarray(f.normed_embedding)) for f in self.app.get(bgr)]


class TinyFaceAnalyzer:
    """Offline stand-in (random features, like the other tiny extractors): see the module docstring."""

    dim = 32

    def __init__(self) -> None:
        self.proj = np.random.default_rng(0).normal(size=(16 * 16 * 3, self.dim)).astype(np.float32)

    def faces(self, bgr: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        import cv2

        ys, xs = np.nonzero(bgr.any(axis=2))
        if not len(ys):
            return []
        h, w = ys.max() + 1, xs.max() + 1
        side = int(0.6 * min(h, w))
        y0, x0 = (h - side) // 2, (w - side) // 2
        crop = bgr[y0:y0 + side, x0:x0 + side]
        if side < 8 or crop.std() < 8:
            return []
        thumb = cv2.resize(crop, (16, 16), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        return [(np.array([x0, y0, x0 + side, y0 + side], np.float32), (thumb - thumb.mean()).ravel() @ self.proj)]


def largest_face(faces: list[tuple[np.ndarray, np.ndarray]], dim: int) -> np.ndarray:
    """The L2-normalised embedding of the largest box, or a NaN vector when there is no face."""
    if not faces:
        return np.full(dim, np.nan, np.float32)
    box, emb = max(faces, key=lambda f: float((f[0][2] - f[0][0]) * (f[0][3] - f[0][1])))
    emb = np.asarray(emb, np.float32)
    return emb / max(float(np.linalg.norm(emb)), 1e-12)


def _require_insightface() -> None:
    try:
        import insightface  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        raise IbenchError(INSTALL) from None


class Face(Extractor):
    name = "face"
    nothing = "no face detected"

    def __init__(self, config: ExtractorConfig, device: str = "cpu"):
        super().__init__(device)
        self.model, self.folder = config.face_model, None
        self.preprocessing = f"letterbox{SIZE}-bgr"
        if self.model == "tiny":
            self.id = "face:tiny-standin-v1"
        else:
            _require_insightface()
            direct = Path(self.model).expanduser()
            self.folder = direct if direct.is_dir() else Path(config.face_root).expanduser() / "models" / self.model
            if not self.folder.is_dir() or not any(self.folder.glob("*.onnx")):
                raise IbenchError(
                    f"insightface model pack '{self.model}' not found in {self.folder}: on a machine with internet run "
                    f"`python -c \"from insightface.app import FaceAnalysis; FaceAnalysis(name='{self.model}')\"` (it "
                    f"downloads into ~/.insightface/models) and copy the folder here, or set face.model to the pack's "
                    f"folder (or face.root to the folder holding models/)")
            self.id = f"insightface:{weights_name(self.model)}:{file_identity(self.folder)}"
        self.analyzer: FaceAnalyzer | None = None

    def _load(self) -> None:
        self.analyzer = TinyFaceAnalyzer() if self.folder is None else InsightFaceAnalyzer(self.folder, self.device)

    @property
    def transform(self):
        return letterbox

    def _forward(self, batch: torch.Tensor) -> np.ndarray:
        return np.stack([largest_face(self.analyzer.faces(np.ascontiguousarray(img.numpy())), self.analyzer.dim)
                         for img in batch])
