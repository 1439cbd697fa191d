"""The feature-extractor interface (weights identity, what goes into a cache key: ``evaluators.identity``).

An extractor has a cheap ``id`` (architecture + weights identity, known without loading the model),
a ``preprocessing`` name, a picklable ``transform`` (PIL image -> tensor, run in DataLoader workers)
and ``forward`` (batch -> numpy vectors). The model is loaded lazily, only when a feature is missing
from the cache, so a warm re-score never builds a network.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
import torch
from PIL import Image

from ibench.errors import IbenchError



def quiet_transformers() -> None:
    """transformers 5 prints load reports and progress bars; scoring output should stay readable."""
    try:
        from transformers.utils import logging as tlog

        tlog.set_verbosity_error()
        tlog.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass
    logging.getLogger("root").setLevel(logging.ERROR)  # open_clip warns about random init on root


class Extractor:
    """Base class: subclasses set ``name``, ``id``, ``preprocessing`` and implement ``_load``/``_forward``.

    The extractor table (``ibench.evaluators.registry.EXTRACTORS``) builds one through ``build``, which
    gets the extractor config, the device and a dict shared by the extractors of one scoring run (so
    the CLIP image and text extractors share one model).
    """

    name: str = ""
    kind: str = "image"  # or "text"
    id: str = ""
    preprocessing: str = ""
    nothing: str = "nothing to describe"  # why an image got a NaN vector (the face extractor: no face detected)

    def __init__(self, device: str = "cpu"):
        self.device = device
        self._loaded = False

    @classmethod
    def build(cls, config, device: str, shared: dict) -> "Extractor":
        """An extractor for ``config`` (an ``ExtractorConfig``) on ``device``; cheap: weights are located, not loaded."""
        return cls(config, device)

    def load(self) -> "Extractor":
        """Load the network once; weights that are there but do not load are one line naming them."""
        if not self._loaded:
            try:
                self._load()
            except IbenchError:
                raise
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                where = getattr(self, "source", None) or getattr(self, "path", None) or self.id
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
                raise IbenchError(f"the {self.name} extractor could not load its weights from {where} "
                                  f"({type(exc).__name__}: {first}); check the extractor config") from None
            self._loaded = True
        return self

    def _load(self) -> None:
        raise NotImplementedError

    @property
    def transform(self) -> Callable[[Image.Image], torch.Tensor]:
        """PIL RGB image -> tensor; valid after ``load()``."""
        raise NotImplementedError

    def forward(self, batch) -> np.ndarray:
        self.load()
        with torch.inference_mode():
            return self._forward(batch)

    def _forward(self, batch) -> np.ndarray:
        raise NotImplementedError


def l2_normalize(x: torch.Tensor) -> np.ndarray:
    return torch.nn.functional.normalize(x.float(), dim=-1).cpu().numpy().astype(np.float32)
