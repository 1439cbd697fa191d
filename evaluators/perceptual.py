"""LPIPS (the ``lpips`` package) and the metric kinds built on it and on pixels.

- kind ``locality`` (``edit_lpips``, ``edit_l1``): how much of the source image an edit kept. Source and
  output are resized to the source's aspect with the long side ``size`` px; the task's edit mask (its
  first ``control:mask`` reference), resized with nearest neighbour and dilated by ``dilate_px``, marks
  what the edit may change; the value is the mean over the pixels outside it (everywhere when the task
  gives no mask) of the LPIPS map or of |source - output| (RGB in [0, 1]). Lower is more local.
- kind ``diversity`` (``lpips_diversity``): per sample, the mean LPIPS to the other samples of its
  instance (outputs resized to ``size`` x ``size``). Higher is more diverse.

LPIPS weights: the linear layers ship in the ``lpips`` wheel; the backbone (AlexNet by default) is
torchvision's ImageNet checkpoint: ``lpips.backbone`` (a local file), else torchvision's cache
(``<torch hub dir>/checkpoints``), else torchvision's download (never when ``HF_HUB_OFFLINE`` is set).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ibench.core.metrics import LOCALITY, MetricDef
from ibench.errors import IbenchError
from ibench.weights import offline

from .config import ExtractorConfig
from .extractor import Extractor
from .identity import file_identity
from .features import loader
from .kinds import KindOutput, MetricKind, ScoringContext

TORCHVISION_WEIGHTS = {"alex": "AlexNet_Weights", "vgg": "VGG16_Weights", "squeeze": "SqueezeNet1_1_Weights"}


def backbone_url(net: str) -> str:
    import torchvision.models as tvm

    if net not in TORCHVISION_WEIGHTS:
        raise IbenchError(f"lpips.net {net!r}: expected one of {', '.join(TORCHVISION_WEIGHTS)}")
    return getattr(tvm, TORCHVISION_WEIGHTS[net]).IMAGENET1K_V1.url


def lpips_state(model_net: torch.nn.Module, backbone: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision's ``features.<i>.<param>`` names as the lpips backbone's ``slice<k>.<i>.<param>``."""
    out = {}
    for name in model_net.state_dict():
        _, rest = name.split(".", 1)
        key = f"features.{rest}"
        if key not in backbone:
            raise IbenchError(f"LPIPS backbone weights have no {key!r}: are they torchvision's {model_net.__class__.__name__}?")
        out[name] = backbone[key]
    return out


class Lpips(Extractor):
    """LPIPS v0.1 as a distance map (``spatial=True``); not a feature extractor: the kinds call ``distance_map``."""

    name = "lpips"

    def __init__(self, config: ExtractorConfig, device: str = "cpu"):
        super().__init__(device)
        self.net = config.lpips_net
        url = backbone_url(self.net)
        self.backbone: Optional[Path] = None
        if config.lpips_backbone:
            self.backbone = Path(config.lpips_backbone).expanduser()
            if not self.backbone.is_file():
                raise IbenchError(f"LPIPS backbone weights {self.backbone} not found (lpips.backbone)")
        else:
            cached = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
            if cached.is_file():
                self.backbone = cached
            elif offline():
                raise IbenchError(f"LPIPS needs torchvision's {self.net} weights ({cached.name}), not in {cached.parent} "
                                  f"and HF_HUB_OFFLINE is set: download {url} where there is internet into that folder, "
                                  f"or set lpips.backbone to the file (--extractor-config / IBENCH_LPIPS_BACKBONE)")
        self.url = url
        self.id = f"lpips:v0.1:{self.net}:{file_identity(self.backbone) if self.backbone else url.rsplit('/', 1)[-1]}"
        self.preprocessing = "lpips-rgb-[-1,1]"
        self.model = None

    def _load(self) -> None:
        import warnings

        try:
            import lpips
        except ImportError:
            raise IbenchError("LPIPS metrics need the lpips package: pip install 'ibench[eval]'") from None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchvision's deprecated `pretrained` argument inside lpips
            model = lpips.LPIPS(net=self.net, spatial=True, pnet_rand=True, verbose=False)
        if self.backbone is not None:
            state = torch.load(self.backbone, map_location="cpu", weights_only=True)
        else:
            state = torch.hub.load_state_dict_from_url(self.url, map_location="cpu")  # torchvision's own download
        model.net.load_state_dict(lpips_state(model.net, state))
        self.model = model.to(self.device).eval()

    @property
    def transform(self):
        return to_tensor

    def distance_map(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) LPIPS map of two (N, 3, H, W) batches with RGB in [0, 1]."""
        self.load()
        with torch.inference_mode():
            return self.model(a.to(self.device) * 2 - 1, b.to(self.device) * 2 - 1).float().cpu()


def to_tensor(image: Image.Image) -> torch.Tensor:
    """(3, H, W) float RGB in [0, 1]."""
    return torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()


def working_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    w, h = size
    scale = long_side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def outside_mask(mask: Optional[Image.Image], size: tuple[int, int], dilate_px: int) -> np.ndarray:
    """(H, W) True where the edit must not change anything: outside the dilated mask (everywhere without one)."""
    if mask is None:
        return np.ones((size[1], size[0]), bool)
    import cv2

    m = (np.asarray(mask.convert("L").resize(size, Image.NEAREST)) > 127).astype(np.uint8)
    if dilate_px > 0:
        m = cv2.dilate(m, np.ones((2 * dilate_px + 1, 2 * dilate_px + 1), np.uint8))
    return m == 0


class LocalityDataset(Dataset):
    """Items ``(key, output, source, mask or None, size, dilate_px)`` -> ``(key, source, output, outside, error)``."""

    def __init__(self, items: list[tuple]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        key, out_path, src_path, mask_path, long_side, dilate_px = self.items[i]
        try:
            with Image.open(src_path) as s, Image.open(out_path) as o:
                size = working_size(s.size, long_side)
                src = s.convert("RGB").resize(size, Image.BICUBIC)
                out = o.convert("RGB").resize(size, Image.BICUBIC)
            if mask_path is None:
                outside = outside_mask(None, size, dilate_px)
            else:
                with Image.open(mask_path) as m:
                    outside = outside_mask(m, size, dilate_px)
        except (OSError, SyntaxError, ValueError) as exc:
            return key, None, None, None, f"{type(exc).__name__}: {exc}"
        return key, to_tensor(src), to_tensor(out), torch.from_numpy(outside), None


def _params(m: MetricDef) -> tuple[int, int]:
    return int(m.params.get("size", LOCALITY["size"])), int(m.params.get("dilate_px", LOCALITY["dilate_px"]))


class LocalityKind(MetricKind):
    def check(self, metric: MetricDef) -> None:
        if metric.target != "source" or metric.extractor not in (None, "lpips"):
            raise IbenchError(f"metric {metric.name!r}: kind 'locality' needs target source and extractor lpips or none")

    def score(self, ctx: ScoringContext, metrics: list[MetricDef]) -> KindOutput:
        out = KindOutput(rows={m.name: [] for m in metrics})
        items, empty = [], {m.name: 0 for m in metrics}
        for m in metrics:
            for g in ctx.ok:
                ins = ctx.instances[g.instance_id].instruction
                masks = [r.images[0] for r in ins.of_kind("control") if r.control == "mask"]
                for cond, (src, *_) in m.conditions(ctx.instances[g.instance_id]):
                    items.append(((m, g.instance_id, g.sample, cond), ctx.store.path / g.image, ctx.root.resolve(src),
                                  ctx.root.resolve(masks[0]) if masks else None, *_params(m)))
        for batch in loader(LocalityDataset(items), ctx.batch_size, ctx.num_workers, collate_fn=list):
            for (m, iid, sample, cond), src, output, outside, error in batch:
                if error:
                    raise IbenchError(f"cannot score {m.name} for {iid} sample {sample}: {error}")
                if not outside.any():
                    empty[m.name] += 1
                    out.fail(m.name, iid, sample, "no pixel outside the dilated mask")
                    continue
                if m.extractor:
                    dist = ctx.extractors[m.extractor].distance_map(src[None], output[None])[0, 0]
                else:
                    dist = (src - output).abs().mean(dim=0)
                out.rows[m.name].append({"instance_id": iid, "sample": sample, "metric": m.name, "condition": cond,
                                         "value": float(dist[outside].mean())})
        for name, n in empty.items():
            if n:
                out.details[name] = {"failures": {"no pixel outside the dilated mask": n}}
        return out


class DiversityKind(MetricKind):
    def check(self, metric: MetricDef) -> None:
        if metric.extractor != "lpips" or metric.target is not None:
            raise IbenchError(f"metric {metric.name!r}: kind 'diversity' needs extractor lpips and no target")

    def score(self, ctx: ScoringContext, metrics: list[MetricDef]) -> KindOutput:
        out = KindOutput(rows={m.name: [] for m in metrics})
        by_instance: dict[str, list] = {}
        for g in ctx.ok:
            by_instance.setdefault(g.instance_id, []).append(g)
        for m in metrics:
            side = _params(m)[0]
            for iid, gens in sorted(by_instance.items()):
                if len(gens) < 2:
                    continue
                images = []
                for g in gens:
                    with Image.open(ctx.store.path / g.image) as im:
                        images.append(to_tensor(im.convert("RGB").resize((side, side), Image.BICUBIC)))
                n = len(gens)
                pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
                dist = ctx.extractors[m.extractor].distance_map(torch.stack([images[i] for i, _ in pairs]),
                                                                torch.stack([images[j] for _, j in pairs]))
                d = dist.mean(dim=(1, 2, 3)).numpy()
                full = np.zeros((n, n))
                for (i, j), v in zip(pairs, d):
                    full[i, j] = full[j, i] = v
                for i, g in enumerate(gens):
                    out.rows[m.name].append({"instance_id": iid, "sample": g.sample, "metric": m.name,
                                             "condition": "samples", "value": float(full[i].sum() / (n - 1))})
            if not out.rows[m.name] and ctx.ok:
                out.skipped[m.name] = "skipped: needs at least 2 samples of an instance"
        return out
