"""The VLM judge (installed as ``ibench.evaluators.judge``): VIEScore-style SC/PQ/O, pointwise and pairwise.

Modules: ``config`` (the judge config and presets, ``configs/*.yaml``), ``prompts`` (versioned prompt
files ``prompts/<version>.yaml`` and the messages built from them), ``parse`` (reading replies),
``backend`` (the backend protocol and table: ``Backend``, ``BackendSettings``, ``register_backend``),
``hf`` (transformers, in process), ``api`` (any OpenAI-compatible endpoint), ``cache`` (the verdict
cache), ``engine`` (``Judge``: cache, budget, retries), ``limits`` (images per message,
``max_images_per_message``), ``kind`` (the ``judge`` metric kind), ``pairwise`` (which of two outputs is
better). See docs/judge.md; a backend of your own: docs/extending.md.
"""

from .backend import Backend, BackendSettings, Reply, register_backend
from .limits import max_images_per_message

__all__ = ["Backend", "BackendSettings", "Reply", "max_images_per_message", "register_backend"]
