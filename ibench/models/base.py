"""The model adapter protocol: declared capabilities and a batched ``generate``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from PIL import Image

from ..instances import Instance
from ..paths import DataRoot

ALL_CAPABILITIES = frozenset({"subject", "style", "content", "control:edge", "control:depth", "control:mask",
                              "control:sketch"})


@dataclass
class Request:
    """One image to make: an instance, the sample index and its seed."""

    instance: Instance
    sample: int
    seed: int
    root: DataRoot = field(repr=False)

    def images(self, marker: str) -> list[Image.Image]:
        """The decoded RGB images of a reference."""
        ref = self.instance.instruction.reference(marker)
        out = []
        for rel in ref.images:
            with Image.open(self.root.resolve(rel)) as im:
                out.append(im.convert("RGB"))
        return out


class ModelAdapter(ABC):
    """Turns multi-modal instructions into images.

    Subclasses set ``name`` and ``capabilities`` (reference kinds they can use, e.g. ``subject``,
    ``style``, ``control:edge``), accept their settings as keyword arguments and implement
    ``generate``. ``settings()`` returns what changes the output (it is part of the run id and
    the manifest); settings that do not (batch size, device, offload) go in ``runtime_keys``.
    """

    name: ClassVar[str] = "model"
    capabilities: ClassVar[frozenset[str]] = frozenset()
    runtime_keys: ClassVar[frozenset[str]] = frozenset({"device", "batch_size", "offload", "compile"})
    max_batch: ClassVar[int | None] = None  # cap on requests per generate call (None: any)

    def __init__(self, **options: Any):
        self.options = dict(options)

    def settings(self) -> dict[str, Any]:
        return {k: v for k, v in sorted(self.options.items()) if k not in self.runtime_keys}

    def missing(self, instance: Instance) -> set[str]:
        """Reference capabilities the instance needs that this model lacks."""
        return instance.instruction.capabilities - set(self.capabilities)

    @abstractmethod
    def generate(self, batch: list[Request]) -> list[Image.Image]:
        """One PIL image per request, in order. Raise to mark the whole batch failed."""

    def close(self) -> None:
        """Free resources (GPU memory) when the run ends."""
