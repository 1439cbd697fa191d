"""The judge backend protocol and table: a backend answers a list of ``Query`` with ``Reply`` objects.

A backend is one ``Backend`` subclass with its own ``Settings`` (a ``BackendSettings`` pydantic model:
unknown keys refused) and one entry in ``BACKENDS`` (``register_backend(name, "module:Class")``; the
class is imported only when a judge config names it). A judge config names its backend; every key of
the config that is not a common judge key is that backend's setting. The engine dispatches through
this table. A backend never parses or caches: it returns text (``generate``) or choice probabilities
(``logprob``), token usage and, where no answer came, a failure class. See docs/extending.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Optional

from pydantic import BaseModel, ConfigDict

from ibench.errors import IbenchError, unknown

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
    error: Optional[str] = None  # no answer: timeout | rate_limited | image_limit | http_<status> | connection | error
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


class BackendSettings(BaseModel):
    """A backend's own keys of the judge config. Fields in ``RUNTIME`` (where and how fast to ask) are
    left out of the judge's identity; every other field is in it (it may change verdicts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    RUNTIME: ClassVar[frozenset[str]] = frozenset()

    def identity(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude=set(self.RUNTIME))


class Backend:
    """Base class: ``run`` answers queries in order; ``identity`` says what pins the weights, if known."""

    name: ClassVar[str] = ""
    Settings: ClassVar[type[BackendSettings]] = BackendSettings
    modes: ClassVar[frozenset[str]] = frozenset({"generate"})  # add "logprob" when ``run`` fills Reply.probs

    def __init__(self, config: "JudgeConfig"):
        self.config = config
        self.settings = config.settings

    def identity(self) -> dict:
        """The identity fields this backend pins (model name, revision; resolved settings)."""
        return {"model": self.config.model, "revision": self.config.revision}

    @property
    def chunk(self) -> int:
        """Questions per chunk: the engine stores each chunk's verdicts before asking the next."""
        return 32

    @property
    def max_images(self) -> Optional[int]:
        """The most images one message may carry (a server's limit), None when unknown or unlimited."""
        return None

    def run(self, queries: "list[Query]") -> list[Reply]:
        raise NotImplementedError

    def close(self) -> None:
        """Release clients and models."""


def register_backend(name: str, target: str) -> None:
    """Add (or replace) a judge backend: ``target`` is ``module:Class`` of a ``Backend`` subclass."""
    BACKENDS[name] = target


def backend_class(name: str) -> type[Backend]:
    """The class a backend name stands for; one line for an unknown name or a target that is no backend."""
    from ibench.evaluators.registry import load_target

    if name not in BACKENDS:
        raise unknown("judge backend", name, list(BACKENDS))
    cls = load_target(BACKENDS[name], "judge backend")
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise IbenchError(f"judge backend {name!r} ({BACKENDS[name]}) is not a subclass of "
                          f"ibench.evaluators.judge.backend.Backend")
    return cls


def make_backend(config: "JudgeConfig") -> Backend:
    return backend_class(config.backend)(config)


def image_limit_detail(limit: Optional[int], count: int, said: str = "") -> str:
    """Why a message was refused for its images, and what to do."""
    took = f"takes at most {limit} images per message" if limit is not None else "refused the number of images"
    return (f"the judge server {took} and this message has {count}: serve it with a higher limit (vLLM: "
            f"--limit-mm-per-prompt '{{\"image\": N}}', N >= ibench.evaluators.judge.max_images_per_message of "
            f"your tasks) and set max_images_per_message in the judge config" + (f" [{said}]" if said else ""))


def load_image(path: Path, max_side: int) -> "PILImage.Image":
    """An RGB image, downscaled (never upscaled) so its longer side is at most ``max_side`` (bicubic)."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
    return downscale(im, max_side)


def downscale(im: "PILImage.Image", max_side: int) -> "PILImage.Image":
    from PIL import Image

    scale = max_side / max(im.size)
    if scale < 1:
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.BICUBIC)
    return im


def _open_rgb(path: str) -> "PILImage.Image":
    """As the anchors open an image: EXIF orientation applied, RGB (e.g. OmniContext's openai_util.load_image)."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).convert("RGB")


def prepare_image(part: dict, max_side: int) -> "PILImage.Image":
    """An image part as a backend sends it: what the part's ``preprocess`` says the benchmark's own judge code
    does first (``ibench.packs.protocol``: ``resize`` [w, h], ``resize_like`` another image's size, ``max_area``
    with sides floored to a ``multiple``, ``concat`` of several images side by side, each resized first), each
    resize with Pillow's default filter as the anchors call it; then downscaled to ``max_side``."""
    pre = part.get("preprocess") or {}
    if not pre:
        return load_image(Path(part["path"]), max_side)
    from PIL import Image

    if "concat" in pre:
        tiles = [_open_rgb(p).resize(tuple(pre["resize"])) for p in pre["concat"]]
        im = Image.new("RGB", (sum(t.width for t in tiles), max(t.height for t in tiles)))
        for k, tile in enumerate(tiles):
            im.paste(tile, (sum(t.width for t in tiles[:k]), 0))
        return downscale(im, max_side)
    im = _open_rgb(part["path"])
    if "resize" in pre:
        im = im.resize(tuple(pre["resize"]))
    if "resize_like" in pre:
        with Image.open(pre["resize_like"]) as like:
            im = im.resize(like.size)
    if "max_area" in pre:
        w, h = im.size
        if w * h > pre["max_area"]:
            ratio = (pre["max_area"] / (w * h)) ** 0.5
            w, h = int(w * ratio), int(h * ratio)
        m = pre.get("multiple", 1)
        im = im.resize((max(m, w // m * m), max(m, h // m * m)))
    return downscale(im, max_side)
