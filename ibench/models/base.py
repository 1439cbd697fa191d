"""The model adapter protocol: declared capabilities and a batched ``generate``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from PIL import Image

from ..errors import IbenchError
from ..instances import Instance
from ..paths import DataRoot

ALL_CAPABILITIES = frozenset({"subject", "style", "content", "control:edge", "control:depth", "control:mask",
                              "control:sketch"})


def check_settings(model: str, given: dict[str, Any], defaults: dict[str, Any],
                   extra: frozenset[str] = frozenset()) -> None:
    """One-line errors for settings a model cannot use: unknown keys, and values of the wrong type.

    ``defaults`` gives each known key's default; its type is what a value must have: an int default
    (steps, size) wants a whole number >= 1, a float default a number, a dict default a mapping.
    ``extra`` are keys accepted without a check (runtime keys such as ``device``).
    """
    unknown = sorted(set(given) - set(defaults) - set(extra))
    if unknown:
        raise IbenchError(f"model {model!r}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(defaults))})")
    for key, value in given.items():
        default = defaults.get(key)
        if value is None or isinstance(default, bool) or default is None:
            continue
        if isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise IbenchError(f"model {model!r}: setting {key!r} must be a whole number >= 1, not {value!r}")
        elif isinstance(default, float) and not isinstance(value, dict):  # scales may also be per-layer dicts
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise IbenchError(f"model {model!r}: setting {key!r} must be a number, not {value!r}")
        elif isinstance(default, dict) and not isinstance(value, dict):
            raise IbenchError(f"model {model!r}: setting {key!r} must be a mapping (KEY: VALUE), not {value!r}")


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
    needs_references: ClassVar[bool] = False  # True: refuses text-only instances (the `references` oracle)

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
