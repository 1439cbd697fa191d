"""Which weights each feature extractor uses: defaults < environment < config file/dict.

A config file (YAML) looks like::

    clip: {model: ViT-B-32-quickgelu, pretrained: openai}   # open_clip name + tag, or a local file
    dino: {model: facebook/dino-vits16}                      # hub id or local folder (transformers)
    style: {model: timm/vgg19.tv_in1k, layers: 4}            # hub id or local folder (timm)
    inception: {weights: /path/to/inception-2015-12-05.pt}   # clean-fid's torchscript Inception
    depth: {model: Intel/dpt-hybrid-midas}                   # transformers depth-estimation model
    dinov2: {model: facebook/dinov2-small}                   # hub id or local folder (transformers)
    csd: {weights: /path/to/csd/checkpoint.pth, model: ViT-L-14-quickgelu}   # CSD checkpoint + open_clip arch
    lpips: {net: alex, backbone: /path/alexnet-owt-7be5be79.pth}              # torchvision backbone weights
    face: {model: buffalo_l, root: ~/.insightface}           # insightface model pack (name or folder)

``tiny`` instead of a file selects tiny random extractors built in code (offline; random features).
``clip.config`` may name an extra open_clip model-config JSON to register first (``add_model_config``).
Environment variables: ``IBENCH_EXTRACTOR_CONFIG`` (a file as above), ``IBENCH_CLIP_MODEL``,
``IBENCH_CLIP_PRETRAINED``, ``IBENCH_CLIP_CONFIG``, ``IBENCH_DINO_MODEL``, ``IBENCH_STYLE_MODEL``,
``IBENCH_INCEPTION_WEIGHTS``, ``IBENCH_DEPTH_MODEL``, ``IBENCH_DINOV2_MODEL``, ``IBENCH_CSD_WEIGHTS``,
``IBENCH_LPIPS_BACKBONE``, ``IBENCH_FACE_MODEL``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Optional

from ibench.errors import IbenchError

ENV = {"clip_model": "IBENCH_CLIP_MODEL", "clip_pretrained": "IBENCH_CLIP_PRETRAINED",
       "clip_config": "IBENCH_CLIP_CONFIG", "dino_model": "IBENCH_DINO_MODEL",
       "style_model": "IBENCH_STYLE_MODEL", "inception_weights": "IBENCH_INCEPTION_WEIGHTS",
       "depth_model": "IBENCH_DEPTH_MODEL", "dinov2_model": "IBENCH_DINOV2_MODEL",
       "csd_weights": "IBENCH_CSD_WEIGHTS", "lpips_backbone": "IBENCH_LPIPS_BACKBONE", "face_model": "IBENCH_FACE_MODEL"}


@dataclass(frozen=True)
class ExtractorConfig:
    """Weights of every extractor (see the module docstring for the file format)."""

    clip_model: str = "ViT-B-32-quickgelu"
    clip_pretrained: Optional[str] = "openai"
    clip_config: Optional[str] = None
    dino_model: str = "facebook/dino-vits16"
    style_model: str = "timm/vgg19.tv_in1k"
    style_layers: int = 4
    inception_weights: Optional[str] = None
    depth_model: Optional[str] = None
    dinov2_model: str = "facebook/dinov2-small"
    csd_model: str = "ViT-L-14-quickgelu"
    csd_config: Optional[str] = None  # an open_clip model-config JSON to register first (tiny models)
    csd_weights: Optional[str] = None
    lpips_net: str = "alex"
    lpips_backbone: Optional[str] = None  # torchvision's weights file of the backbone (default: torchvision's cache)
    face_model: str = "buffalo_l"  # an insightface model pack name (in face_root/models) or folder; `tiny`: stand-in
    face_root: str = "~/.insightface"

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _flatten(data: dict, source: str) -> dict:
    """``{clip: {model: x}}`` -> ``{clip_model: x}``; unknown keys are an error."""
    known = {f.name for f in fields(ExtractorConfig)}
    out: dict[str, Any] = {}
    for section, value in (data or {}).items():
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for key, v in items:
            name = f"{section}_{key}" if key else section
            if name not in known:
                raise IbenchError(f"{source}: unknown extractor setting {section}{'.' + key if key else ''} "
                                  f"(known: {', '.join(sorted(known))})")
            out[name] = v
    return out


def load_file(path: str | Path) -> dict:
    from ibench.core.yamlio import load_yaml

    path = Path(path).expanduser()
    if not path.is_file():
        raise IbenchError(f"extractor config {path} not found")
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise IbenchError(f"extractor config {path}: expected a mapping like `clip: {{model: ...}}`")
    return _flatten(data, str(path))


def resolve_config(config: "ExtractorConfig | dict | str | Path | None" = None) -> ExtractorConfig:
    """Defaults, then ``IBENCH_*`` environment variables, then ``config`` (object, dict or YAML file)."""
    if isinstance(config, ExtractorConfig):
        return config
    values: dict[str, Any] = {}
    if os.environ.get("IBENCH_EXTRACTOR_CONFIG"):
        values.update(load_file(os.environ["IBENCH_EXTRACTOR_CONFIG"]))
    values.update({k: os.environ[v] for k, v in ENV.items() if os.environ.get(v)})
    if str(config) == "tiny":  # the offline embedded default: tiny random extractors
        from ibench.evaluators.tiny import tiny_preset

        values.update(_flatten(tiny_preset(), "tiny"))
    elif isinstance(config, (str, Path)):
        values.update(load_file(config))
    elif isinstance(config, dict):
        values.update(_flatten(config, "extractor config"))
    if "style_layers" in values:
        values["style_layers"] = int(values["style_layers"])
    return replace(ExtractorConfig(), **values)
