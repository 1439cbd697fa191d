"""The model adapter protocol: declared capabilities, pydantic settings and a batched ``generate``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from PIL import Image

from ibench.core.images import open_image
from ibench.core.instance import Instance
from ibench.core.paths import DataRoot
from ibench.core.vocabulary import ALL_CAPABILITIES, check_capability_names
from ibench.errors import IbenchError
from ibench.weights import Wanted

from .settings import AdapterSettings, parse_settings

__all__ = ["ALL_CAPABILITIES", "AdapterSettings", "Failed", "ModelAdapter", "Request", "StopRun", "check_capabilities"]


@dataclass
class Request:
    """One image to make: an instance, the sample index and its seed.

    ``meta`` is the adapter's note on this request (e.g. the rendered prompt and which image each marker
    became); the runner records it with the sample (``Generation.meta``), made or failed.
    """

    instance: Instance
    sample: int
    seed: int
    root: DataRoot = field(repr=False)
    meta: dict[str, Any] = field(default_factory=dict, repr=False)

    def images(self, marker: str) -> list[Image.Image]:
        """The decoded RGB images of a reference."""
        ref = self.instance.instruction.reference(marker)
        return [open_image(self.root.resolve(rel), what=f"reference {marker} image") for rel in ref.images]


@dataclass(frozen=True)
class Failed:
    """Returned by ``generate`` in place of one request's image: that sample failed, for ``reason``
    (a limit it breaks, a provider's refusal); the runner records it and goes on (a rerun retries it)."""

    reason: str


class StopRun(IbenchError):
    """Raised by ``generate`` to end the run cleanly (e.g. a call budget is spent).

    ``outcomes`` holds one entry per request: an image or ``Failed`` is recorded, ``None`` (not made) is
    left for a rerun; then the run stops with this message.
    """

    def __init__(self, message: str, outcomes: list):
        super().__init__(message)
        self.outcomes = outcomes


class ModelAdapter(ABC):
    """Turns multi-modal instructions into images.

    Subclasses set ``name``, ``capabilities`` (reference kinds they can use, e.g. ``subject``,
    ``style``, ``control:edge``; see ``ibench.core.vocabulary``) and ``Settings`` (a pydantic model
    of their settings), and implement ``generate``. ``self.config`` is the validated settings object,
    ``self.options`` the same as a dict; ``settings()`` is what enters the run id and the manifest.
    """

    name: ClassVar[str] = "model"
    capabilities: ClassVar[frozenset[str]] = frozenset()
    Settings: ClassVar[type[AdapterSettings]] = AdapterSettings
    max_batch: ClassVar[int | None] = None  # cap on requests per generate call (None: any)
    needs_references: ClassVar[bool] = False  # True: refuses text-only instances (the `references` oracle)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        check_capability_names(cls.capabilities, f"model adapter {cls.__name__}")

    def __init__(self, **options: Any):
        self.config = parse_settings(self.name, self.Settings, options)
        self.options: dict[str, Any] = self.config.model_dump()

    @classmethod
    def check_options(cls, options: dict[str, Any]) -> None:
        """Validate settings without building the adapter (before any weights load)."""
        parse_settings(cls.name, cls.Settings, options)

    @classmethod
    def weights(cls, config: AdapterSettings) -> Wanted:
        """The weights these settings load, ``{setting: (hub id or path, WeightFiles)}``: ``ibench run`` checks
        them with the scorer's before anything loads (``ibench.weights.check_all``), so every missing one is
        named at once; ``__init__`` gets local paths for them from ``ibench.weights.locate_all``."""
        return {}

    def settings(self) -> dict[str, Any]:
        return self.config.identity()

    @classmethod
    def default_settings(cls) -> dict[str, Any]:
        """The output-affecting settings a run gets when none is given (labels show what differs)."""
        return cls.Settings.model_construct().identity()

    def missing(self, instance: Instance) -> set[str]:
        """Reference capabilities the instance needs that this model lacks."""
        return instance.instruction.capabilities - set(self.capabilities)

    @abstractmethod
    def generate(self, batch: list[Request]) -> list[Image.Image | Failed]:
        """One PIL image (or ``Failed``) per request, in order. Raise to mark the whole batch failed."""

    def close(self) -> None:
        """Free resources (GPU memory) when the run ends."""


def check_capabilities(model: "ModelAdapter | type[ModelAdapter]", needed: set[str], text_only: bool,
                       task: str) -> None:
    """Refuse, in one line, a task whose references the model cannot use (never drop them silently).

    Works on a class (before its weights load: the class's capabilities are the most an adapter can
    have) and on a built adapter (whose settings may have narrowed them).
    """
    if model.needs_references and text_only:
        raise IbenchError(f"model {model.name!r} returns a reference image, and task {task!r} has instances "
                          f"without references (text only): it has nothing to return; use it on tasks with references")
    lacking = sorted(set(needed) - set(model.capabilities))
    if lacking:
        raise IbenchError(f"model {model.name!r} cannot use the {', '.join(lacking)} references that task {task!r} "
                          f"needs (it supports: {', '.join(sorted(model.capabilities)) or 'text only'})")
