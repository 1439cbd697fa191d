"""Gram-matrix style descriptors from a CNN (default: timm's VGG-19, ImageNet weights).

For each of the first ``layers`` feature stages (VGG-19: the last ReLU of blocks 1-4), the Gram
matrix ``F Fᵀ / (H W)`` is taken; its upper triangle (off-diagonal entries weighted by √2, so the
dot product equals the Frobenius product) is L2-normalised and scaled by 1/√layers. The dot product
of two descriptors is then the mean over layers of the cosine between Gram matrices - the
``style_gram`` score. Stored as float16 (VGG-19, 4 layers: ~350 KB per image).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ibench.weights import locate

from .config import ExtractorConfig
from .extractor import Extractor, quiet_transformers
from .identity import file_identity, weights_name

SIZE = 256


def gram_descriptor(feature_maps: list[torch.Tensor]) -> torch.Tensor:
    """(B, sum of upper-triangle sizes) descriptor whose dot product is the mean Gram cosine."""
    parts = []
    for f in feature_maps:
        b, c, h, w = f.shape
        f = f.float().reshape(b, c, h * w)
        g = f @ f.transpose(1, 2) / (h * w)
        iu = torch.triu_indices(c, c)
        weight = torch.where(iu[0] == iu[1], 1.0, math.sqrt(2.0))
        v = g[:, iu[0], iu[1]] * weight
        parts.append(torch.nn.functional.normalize(v, dim=1) / math.sqrt(len(feature_maps)))
    return torch.cat(parts, dim=1)


class Gram(Extractor):
    name = "gram"

    def __init__(self, config: ExtractorConfig, device: str = "cpu"):
        super().__init__(device)
        self.source = locate(config.style_model, "style CNN (timm)", "style.model")
        self.layers = config.style_layers
        self.id = f"timm:{weights_name(config.style_model)}:{file_identity(self.source)}:layers{self.layers}"
        self.preprocessing = f"resize{SIZE}-crop{SIZE}-bicubic"
        self._transform = self.model = None

    def _load(self) -> None:
        import timm
        from torchvision import transforms as T

        quiet_transformers()
        model = timm.create_model(f"local-dir:{self.source}", pretrained=True, features_only=True,
                                  out_indices=tuple(range(self.layers)))
        cfg = timm.data.resolve_data_config({}, model=model)
        self._transform = T.Compose([T.Resize(SIZE, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(SIZE),
                                     T.ToTensor(), T.Normalize(cfg["mean"], cfg["std"])])
        self.model = model.to(self.device).eval()

    @property
    def transform(self):
        return self._transform

    def _forward(self, batch: torch.Tensor) -> np.ndarray:
        feats = self.model(batch.to(self.device))
        return gram_descriptor(feats).cpu().numpy().astype(np.float16)
