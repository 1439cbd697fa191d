"""The judge backend protocol and table: a backend answers a list of ``Query`` with ``Reply`` objects.

``BACKENDS`` maps a config's ``backend`` to ``module:Class`` (imported only when used), so adding one
(e.g. a Gemini SDK backend) is one class and one entry. A backend never parses or caches: it returns
text (``generate``) or choice probabilities (``logprob``), token usage and, where no answer came, a
failure class.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Optional

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from .config import JudgeConfig
    from .prompts import Query

BACKENDS: dict[str, str] = {
    "transformers": "ibench.evaluators.judge.hf:TransformersBackend",
    "openai": "ibench.evaluators.judge.api:OpenAIBackend",
}


@dataclass
class Reply:
    text: Optional[str] = None
    probs: Optional[dict[str, float]] = None  # logprob mode: each choice's probability (normalised over choices)
    mass: Optional[float] = None  # logprob mode: the raw probability of all choices together
    finish: str = "stop"  # stop | length | content_filter | refusal | error
    error: Optional[str] = None  # no answer: timeout | rate_limited | http_<status> | connection | error
    detail: str = ""
    transient: bool = False  # worth asking again on a later run (never cached)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    served_model: Optional[str] = None  # what the server says answered (API backends)
    fingerprint: Optional[str] = None  # the server's system_fingerprint, when it sends one

    def usage(self) -> dict:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "seconds": round(self.seconds, 4)}


class Backend:
    """Base class: ``run`` answers queries in order; ``identity`` says what pins the weights, if known."""

    name: ClassVar[str] = ""

    def __init__(self, config: "JudgeConfig"):
        self.config = config

    def identity(self) -> dict:
        """The identity fields this backend pins: model name, revision (and, in process, the dtype)."""
        return {"model": self.config.model, "revision": self.config.revision, "dtype": None}

    def run(self, queries: "list[Query]") -> list[Reply]:
        raise NotImplementedError

    def close(self) -> None:
        """Release clients and models."""


def make_backend(config: "JudgeConfig") -> Backend:
    from ibench.evaluators.registry import load_target

    return load_target(BACKENDS[config.backend], "judge backend")(config)


def load_image(path: Path, max_side: int) -> "PILImage.Image":
    """An RGB image, downscaled (never upscaled) so its longer side is at most ``max_side`` (bicubic)."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
    scale = max_side / max(im.size)
    if scale < 1:
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.BICUBIC)
    return im

