"""FID/KID features: clean-fid's Inception (torchscript) on clean-fid's "clean" preprocessing.

"clean" = clean-fid's own resizer (``cleanfid.resize.build_resizer("clean")``: PIL bicubic resize of
each channel as float32 to 299x299, no re-quantisation); the network is loaded by clean-fid's own
``InceptionV3W`` from a folder holding ``inception-2015-12-05.pt``. Where that file comes from:
``inception.weights`` / ``IBENCH_INCEPTION_WEIGHTS`` (the file or its folder), else the ibench cache
(``<cache>/weights``), else clean-fid's default ``/tmp``, else a download into the ibench cache.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image

from ibench.errors import IbenchError
from ibench.core.paths import cache_dir
from ibench.weights import Missing, MissingWeights, hub_unavailable

from .config import ExtractorConfig
from .extractor import Extractor
from .identity import file_identity

INCEPTION_FILE = "inception-2015-12-05.pt"
PREPROCESSING = "clean"  # clean-fid's mode name


class CleanResize:
    """PIL image -> float32 CHW tensor in [0, 255] at 299x299, exactly as clean-fid's ``ResizeDataset``."""

    def __init__(self):
        from cleanfid.resize import build_resizer

        self.fn = build_resizer(PREPROCESSING)

    def __getstate__(self):  # the resizer is a closure: rebuild it in the worker
        return {}

    def __setstate__(self, state):
        self.__init__()

    def __call__(self, image: Image.Image) -> torch.Tensor:
        arr = self.fn(np.asarray(image.convert("RGB")))
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def find_inception(config: ExtractorConfig) -> Path:
    """The local Inception file, downloading it into the cache dir when allowed; one clear error otherwise."""
    from cleanfid.downloads_helper import inception_url

    if config.inception_weights:
        path = Path(config.inception_weights).expanduser()
        path = path / INCEPTION_FILE if path.is_dir() else path
        if not path.is_file():
            raise IbenchError(f"FID Inception weights not found at {path} (inception.weights / IBENCH_INCEPTION_WEIGHTS)")
        if path.name != INCEPTION_FILE:
            raise IbenchError(f"FID Inception weights {path}: clean-fid loads a file named {INCEPTION_FILE}; rename it")
        return path
    ours = cache_dir() / "weights"
    tmp = Path("./" if platform.system() == "Windows" else "/tmp")  # clean-fid's own download folder
    for folder in (ours, tmp):
        if (folder / INCEPTION_FILE).is_file():
            return folder / INCEPTION_FILE
    how = (f"download {inception_url} where there is internet and point inception.weights (or "
           f"IBENCH_INCEPTION_WEIGHTS) at it, or put it in {ours}")
    reason = hub_unavailable()
    if reason:
        raise MissingWeights([Missing(f"FID Inception weights ({INCEPTION_FILE})", how=how)], reason)
    from cleanfid.downloads_helper import check_download_inception

    ours.mkdir(parents=True, exist_ok=True)
    part = Path(tempfile.mkdtemp(prefix=".inception.", dir=ours))  # renamed into place only when whole
    try:
        os.replace(check_download_inception(fpath=str(part)), ours / INCEPTION_FILE)
        return ours / INCEPTION_FILE
    except Exception as exc:  # noqa: BLE001 - URLError, HTTPError, timeouts: all mean "not available"
        raise IbenchError(f"could not download the FID Inception weights ({type(exc).__name__}): {how}") from None
    finally:
        shutil.rmtree(part, ignore_errors=True)


class Inception(Extractor):
    """2048-d pool features of clean-fid's Inception (or any module mapping [0,255] 299² images to vectors)."""

    name = "inception"

    def __init__(self, config: Optional[ExtractorConfig] = None, device: str = "cpu",
                 module: Optional[torch.nn.Module] = None, identity: str = ""):
        super().__init__(device)
        self.preprocessing = PREPROCESSING
        self._transform = CleanResize()
        if module is not None:
            self.model, self.path, self.id = module, None, f"module:{identity or type(module).__name__}"
        else:
            self.model, self.path = None, find_inception(config or ExtractorConfig())
            self.id = f"clean-fid:InceptionV3W:{file_identity(self.path)}"

    def _load(self) -> None:
        if self.model is None:
            import warnings

            from cleanfid.inception_torchscript import InceptionV3W

            with warnings.catch_warnings():  # torch.jit.load is deprecated; it is clean-fid's format
                warnings.simplefilter("ignore", FutureWarning)
                self.model = InceptionV3W(str(self.path.parent), download=False, resize_inside=False)
        self.model = self.model.to(self.device).eval()

    @property
    def transform(self):
        return self._transform

    def _forward(self, batch: torch.Tensor) -> np.ndarray:
        x = batch.to(self.device)
        if self.path is None:
            return self.model(x).float().cpu().numpy()
        # InceptionV3W.forward without its hard-coded 2048 (so tiny test nets may be narrower); same maths
        return self.model.layers((x - 128) / 128).reshape(len(x), -1).float().cpu().numpy()
