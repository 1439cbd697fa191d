"""CSD style embeddings (Somepalli et al. 2024, "Measuring Style Similarity in Diffusion Models").

CSD is a CLIP ViT-L/14 image backbone fine-tuned for style, with a style projection head: the style
embedding is ``normalize(backbone_pooled(x) @ W_style)``. The backbone is built with open_clip (its
vision tower has OpenAI CLIP's parameter names, which CSD's checkpoint uses under ``backbone.``) and
the checkpoint's weights are loaded into it. Weights: the authors' ``checkpoint.pth`` (its
``model_state_dict``, ``module.`` prefixes allowed) or a plain state dict (``.pt``/``.safetensors``),
set as ``csd.weights``; ``csd.model`` names the open_clip architecture (default ``ViT-L-14-quickgelu``).
Preprocessing is CSD's: bicubic resize 224, centre crop 224, CLIP mean/std.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ibench.errors import IbenchError

from .config import ExtractorConfig
from .extractor import Extractor, l2_normalize, quiet_transformers
from .identity import file_identity

CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
HOW = ("download the CSD ViT-L checkpoint (checkpoint.pth, linked from github.com/learn2phoenix/CSD) where there is "
       "internet and set csd.weights in --extractor-config (or IBENCH_CSD_WEIGHTS)")


def read_csd_state(path: Path) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """(backbone state dict with OpenAI CLIP visual names, style projection matrix) of a CSD checkpoint."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - the authors' file pickles its training arguments too
            state = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(state, dict) and "model_state_dict" in state:
        state = state["model_state_dict"]
    if not isinstance(state, dict):
        raise IbenchError(f"CSD weights {path}: not a state dict")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if "last_layer_style" not in state:
        raise IbenchError(f"CSD weights {path}: no 'last_layer_style' (the style projection): is it a CSD checkpoint?")
    backbone = {k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")}
    return backbone, state["last_layer_style"]


class Csd(Extractor):
    name = "csd"

    def __init__(self, config: ExtractorConfig, device: str = "cpu"):
        super().__init__(device)
        if not config.csd_weights:
            raise IbenchError(f"CSD weights are not set: {HOW}")
        self.path = Path(config.csd_weights).expanduser()
        if not self.path.is_file():
            raise IbenchError(f"CSD weights {self.path} not found: {HOW}")
        self.arch, self.arch_config = config.csd_model, config.csd_config
        self.id = f"csd:{self.arch}:{file_identity(self.path)}"
        self.preprocessing = "csd-resize224-crop224-bicubic"
        self._transform = self.visual = self.style = None

    def _load(self) -> None:
        import open_clip
        from torchvision import transforms as T

        quiet_transformers()
        if self.arch_config:
            open_clip.add_model_config(str(Path(self.arch_config).expanduser()))
        visual = open_clip.create_model(self.arch, pretrained=None).visual
        backbone, style = read_csd_state(self.path)
        backbone.pop("proj", None)  # CSD drops the CLIP projection; its heads replace it
        missing, unexpected = visual.load_state_dict(backbone, strict=False)
        missing = [k for k in missing if k != "proj"]
        if missing or unexpected:
            bad = (missing or unexpected)[0]
            raise IbenchError(f"CSD weights {self.path} do not fit open_clip {self.arch!r} (csd.model): "
                              f"{'missing' if missing else 'unexpected'} parameter {bad!r}")
        visual.proj = None
        self.visual, self.style = visual.to(self.device).eval(), style.float().to(self.device)
        size = visual.image_size[0] if isinstance(visual.image_size, (tuple, list)) else int(visual.image_size)
        self._transform = T.Compose([T.Resize(size, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(size),
                                     T.ToTensor(), T.Normalize(CLIP_MEAN, CLIP_STD)])

    @property
    def transform(self):
        return self._transform

    def _forward(self, batch: torch.Tensor) -> np.ndarray:
        return l2_normalize(self.visual(batch.to(self.device)) @ self.style)
