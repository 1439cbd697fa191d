"""DINO embeddings as in DreamBench: ViT-S/16, CLS token of ``last_hidden_state`` (not the pooler).

Weights: a hub id (default ``facebook/dino-vits16``, from the HF cache) or a local folder; any
transformers ``ViTModel``/``Dinov2Model`` checkpoint works. Preprocessing is DINO's evaluation
transform: bicubic resize of the short side to 256/224 of the input size, centre crop, normalise.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ibench.weights import locate

from .config import ExtractorConfig
from .extractor import Extractor, file_identity, l2_normalize, quiet_transformers

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def dino_transform(size: int, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    from torchvision import transforms as T

    return T.Compose([T.Resize(round(size * 256 / 224), interpolation=T.InterpolationMode.BICUBIC),
                      T.CenterCrop(size), T.ToTensor(), T.Normalize(mean, std)])


class Dino(Extractor):
    name = "dino"

    def __init__(self, config: ExtractorConfig, device: str = "cpu"):
        super().__init__(device)
        self.source = locate(config.dino_model, "DINO model", "dino.model", download=True)
        self.id = f"transformers:{config.dino_model}:{file_identity(self.source)}"
        self.preprocessing = "dino-eval-resize256-crop224-bicubic"
        self._transform = self.model = None

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
        self._transform = dino_transform(int(cfg.get("image_size", 224)), mean, std)
        self.model = AutoModel.from_pretrained(self.source).to(self.device).eval()

    @property
    def transform(self):
        return self._transform

    def _forward(self, batch: torch.Tensor) -> np.ndarray:
        out = self.model(pixel_values=batch.to(self.device))
        return l2_normalize(out.last_hidden_state[:, 0])
