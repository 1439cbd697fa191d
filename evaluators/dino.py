"""DINO embeddings as in DreamBench: ViT-S/16, CLS token of ``last_hidden_state`` (not the pooler).

Weights: a hub id (default ``facebook/dino-vits16``, from the HF cache) or a local folder; any
transformers ``ViTModel``/``Dinov2Model`` checkpoint works. Preprocessing is DINO's evaluation
transform: bicubic resize of the short side to 256/224 of the input size, centre crop, normalise.

``Dinov2`` (DreamBench++'s DINOv2 score, default ``facebook/dinov2-small``) takes the crop size from the
checkpoint's image processor (224 for the DINOv2 checkpoints, whose ``config.image_size`` is 518).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ibench.weights import locate

from .config import ExtractorConfig
from .extractor import Extractor, l2_normalize, quiet_transformers
from .identity import file_identity, weights_name

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def dino_transform(size: int, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    from torchvision import transforms as T

    return T.Compose([T.Resize(round(size * 256 / 224), interpolation=T.InterpolationMode.BICUBIC),
                      T.CenterCrop(size), T.ToTensor(), T.Normalize(mean, std)])


class Dino(Extractor):
    name = "dino"
    setting, what = "dino_model", "DINO model"

    def __init__(self, config: ExtractorConfig, device: str = "cpu"):
        super().__init__(device)
        model = getattr(config, self.setting)
        self.source = locate(model, self.what, self.setting.replace("_", "."))
        self.id = f"transformers:{weights_name(model)}:{file_identity(self.source)}"
        self.preprocessing = "dino-eval-resize256-crop224-bicubic"
        self._transform = self.model = None

    def crop_size(self, config: dict, processor: dict) -> int:
        return int(config.get("image_size", 224))

    def _load(self) -> None:
        from transformers import AutoModel

        quiet_transformers()
        folder = Path(self.source)
        cfg = json.loads((folder / "config.json").read_text())
        mean, std = IMAGENET_MEAN, IMAGENET_STD
        proc = folder / "preprocessor_config.json"
        if proc.is_file():
            p = json.loads(proc.read_text())
            mean, std = tuple(p.get("image_mean", mean)), tuple(p.get("image_std", std))
        else:
            p = {}
        self._transform = dino_transform(self.crop_size(cfg, p), mean, std)
        self.model = AutoModel.from_pretrained(self.source).to(self.device).eval()

    @property
    def transform(self):
        return self._transform

    def _forward(self, batch: torch.Tensor) -> np.ndarray:
        out = self.model(pixel_values=batch.to(self.device))
        return l2_normalize(out.last_hidden_state[:, 0])


class Dinov2(Dino):
    """DINOv2 CLS embeddings (DreamBench++), preprocessed as the checkpoint's image processor does."""

    name = "dinov2"
    setting, what = "dinov2_model", "DINOv2 model"

    def __init__(self, config: ExtractorConfig, device: str = "cpu"):
        super().__init__(config, device)
        self.preprocessing = "dinov2-processor-resize-crop-bicubic"

    def crop_size(self, config: dict, processor: dict) -> int:
        crop = processor.get("crop_size", 224)
        return int(crop.get("height", 224) if isinstance(crop, dict) else crop)
