"""CLIP image and text embeddings with open_clip (default: OpenAI ViT-B/32).

The model is named by an open_clip model name plus a pretrained tag (``openai``) or a local
checkpoint file, by ``hf-hub:org/repo`` (found in the HF cache) or by ``local-dir:/folder``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ibench.errors import IbenchError
from ibench.weights import Missing, MissingWeights, hub_unavailable, locate

from .config import ExtractorConfig
from .extractor import Extractor, l2_normalize, quiet_transformers
from .identity import file_identity, weights_name

HF_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


#: Where open_clip keeps the default tag's weights on the hub (what ``open_clip.get_pretrained_cfg`` says;
#: tests/test_eval_extractors.py keeps them equal), so the weights check of the default needs no open_clip
#: import (seconds: it imports torchvision and timm). Other tags ask open_clip.
KNOWN_TAGS = {("ViT-B-32-quickgelu", "openai"): "timm/vit_base_patch32_clip_224.openai"}


def tag_repo(model: str, tag: str, what: str) -> str:
    """``org/name[/file]`` of a named open_clip tag on the hub ('' when it has none); an unknown tag is one line."""
    if (model, tag) in KNOWN_TAGS:
        return KNOWN_TAGS[(model, tag)]
    import open_clip

    tags = open_clip.list_pretrained_tags_by_model(model)
    if tag not in tags:
        raise IbenchError(f"{what}: open_clip has no tag '{tag}' for this model (known: {', '.join(tags) or 'none'})")
    return (open_clip.get_pretrained_cfg(model, tag).get("hf_hub") or "").strip("/")


def _cached_tag_file(hub: str) -> Optional[str]:
    """The HF-cache file of a tag's ``org/name[/file]``, or None (never touches the network)."""
    hub_unavailable()  # first: a silent hub turns HF_HUB_OFFLINE on before huggingface_hub waits for it
    from huggingface_hub import hf_hub_download

    if not hub:
        return None
    parts = hub.split("/")
    repo, fname = "/".join(parts[:2]), "/".join(parts[2:])
    for name in ([fname] if fname else HF_FILES):
        try:
            return hf_hub_download(repo, name, local_files_only=True)
        except Exception:  # noqa: BLE001 - not in the cache
            continue
    return None


class ClipBackend:
    """One open_clip model shared by the image and the text extractor."""

    def __init__(self, config: ExtractorConfig, device: str = "cpu"):
        self.device = device
        if config.clip_config:
            if not Path(config.clip_config).expanduser().is_file():
                raise IbenchError(f"open_clip model config {config.clip_config} not found (clip.config)")
            import open_clip

            open_clip.add_model_config(str(Path(config.clip_config).expanduser()))
        name, pretrained = config.clip_model, config.clip_pretrained or None
        what = f"CLIP weights '{name}'" + (f" / '{pretrained}'" if pretrained else "")
        if name.startswith("hf-hub:"):
            name = "local-dir:" + locate(name[len("hf-hub:"):], "CLIP model", "clip.model")
        elif Path(name).expanduser().is_dir():
            name = f"local-dir:{Path(name).expanduser()}"
        if name.startswith("local-dir:"):
            pretrained, weights = None, file_identity(name[len("local-dir:"):])
        elif pretrained is None:
            weights = "random-init-seed0"
        elif Path(pretrained).expanduser().is_file():
            pretrained = str(Path(pretrained).expanduser())
            weights = file_identity(pretrained)
        elif pretrained.startswith(("/", ".", "~")):
            raise IbenchError(f"{what}: file not found (clip.pretrained)")
        else:
            hub = tag_repo(name, pretrained, what)
            local = _cached_tag_file(hub)
            reason = hub_unavailable() if local is None else None
            if reason:
                raise MissingWeights([Missing(what, "/".join(hub.split("/")[:2]) or None, "clip.pretrained")], reason)
            weights = f"{pretrained}" if local is None else f"{pretrained}:{file_identity(local)}"
            pretrained = local or pretrained
        self.name, self.pretrained, self.what = name, pretrained, what
        self.id = f"open_clip:{weights_name(config.clip_model)}:{weights}"
        self.model = self.preprocess = self.tokenizer = None

    def load(self) -> None:
        if self.model is not None:
            return
        import open_clip

        quiet_transformers()
        torch.manual_seed(0)  # only matters for random-init models (benchmarks, tests)
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(self.name, pretrained=self.pretrained,
                                                                         device=self.device)
        except RuntimeError as exc:
            if "download" in str(exc).lower():
                raise IbenchError(f"could not get {self.what}: {str(exc).splitlines()[0]}; download them where "
                                  f"there is internet or point clip.pretrained at a local checkpoint") from None
            raise
        self.model, self.preprocess = model.eval(), preprocess
        self.tokenizer = open_clip.get_tokenizer(self.name)


class _ClipPart(Extractor):
    """An extractor on the shared backend: same id, loads the backend."""

    def __init__(self, backend: ClipBackend):
        super().__init__(backend.device)
        self.backend = backend
        self.id = backend.id

    @classmethod
    def build(cls, config: ExtractorConfig, device: str, shared: dict) -> "_ClipPart":
        if "clip_backend" not in shared:
            shared["clip_backend"] = ClipBackend(config, device)
        return cls(shared["clip_backend"])

    def _load(self) -> None:
        self.backend.load()


class ClipImage(_ClipPart):
    """L2-normalised CLIP image embeddings (open_clip's own eval transform)."""

    name, preprocessing = "clip", "open_clip-val"

    @property
    def transform(self):
        return self.backend.preprocess

    def _forward(self, batch: torch.Tensor) -> np.ndarray:
        return l2_normalize(self.backend.model.encode_image(batch.to(self.device)))


class ClipText(_ClipPart):
    """L2-normalised CLIP text embeddings; cache keys are the SHA-256 of the text."""

    name, kind, preprocessing = "clip_text", "text", "open_clip-tokenizer"

    def _forward(self, texts: list[str]) -> np.ndarray:
        tokens = self.backend.tokenizer(texts).to(self.device)
        return l2_normalize(self.backend.model.encode_text(tokens))


def text_key(text: str) -> str:
    return hashlib.sha256(("text:" + text).encode()).hexdigest()
