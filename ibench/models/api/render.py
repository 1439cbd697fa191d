"""An instruction as a provider-neutral request: text segments interleaved with PNG-encoded reference images."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Union

from PIL import Image

from ibench.core.instruction import MARKER

from ..base import Request


@dataclass
class Rendered:
    """``segments`` alternate text (str) and image numbers (int, 1-based) in instruction order."""

    segments: list[Union[str, int]]
    images: list[bytes]  # PNG bytes, image i at index i - 1
    numbers: dict[str, list[int]] = field(default_factory=dict)  # marker -> its image numbers

    def prompt(self, name: str = "image {i}", joiner: str = " and ") -> str:
        """The text with each run of images named (``image 1 and image 2``)."""
        out: list[str] = []
        run: list[int] = []
        for seg in self.segments + [""]:
            if isinstance(seg, int):
                run.append(seg)
                continue
            if run:
                out.append(joiner.join(name.format(i=i) for i in run))
                run = []
            out.append(seg)
        return "".join(out)

    def hashes(self) -> list[str]:
        return [hashlib.sha256(b).hexdigest() for b in self.images]


def png(image: Image.Image, side: int) -> bytes:
    """RGB PNG bytes of ``image``, scaled down to fit ``side`` x ``side`` (deterministic, fast encoding)."""
    im = image.convert("RGB")
    if max(im.size) > side:
        im.thumbnail((side, side), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


@lru_cache(maxsize=256)
def _reference_png(path: str, side: int) -> bytes:
    """A reference file as sent (samples of one instance, and instances sharing a style, reuse it)."""
    with Image.open(path) as im:
        return png(im, side)


def render(req: Request, views: int, side: int) -> Rendered:
    """Split the instruction at each ``[ref#k]``; each reference gives its first ``views`` images once."""
    text = req.instance.instruction.text
    segments: list[Union[str, int]] = []
    images: list[bytes] = []
    numbers: dict[str, list[int]] = {}
    pos = 0
    for m in MARKER.finditer(text):
        if m.start() > pos:
            segments.append(text[pos:m.start()])
        marker = m.group(1)
        if marker not in numbers:
            numbers[marker] = []
            for rel in req.instance.instruction.reference(marker).images[:views]:
                images.append(_reference_png(str(req.root.resolve(rel)), side))
                numbers[marker].append(len(images))
        segments.extend(numbers[marker])
        pos = m.end()
    if pos < len(text):
        segments.append(text[pos:])
    return Rendered(segments, images, numbers)
