"""The generation stage: plan a run, ask a model for images, record them (resumable, multi-process)."""

from .options import GenerateOptions
from .runner import generate

__all__ = ["GenerateOptions", "generate"]
