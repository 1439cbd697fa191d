"""Reading images from users and models: one place that decodes, guards and normalises them.

Every image ibench reads (references, imported outputs, generated outputs, control maps) goes
through ``open_image``: the file is decoded whole (a truncated file fails here, not later), an
image over ``MAX_PIXELS`` is refused before it is decoded (a decompression bomb), and 16-bit or
float images are scaled to 8 bits instead of clipped (PIL's ``convert`` turns 16-bit mid-grey
into white). Failures are one ``ImageFileError`` naming the file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ibench.errors import IbenchError

#: Largest image accepted (pixels): 8192 x 8192, far above any benchmark image.
MAX_PIXELS = 8192 * 8192
_WIDE = {"I;16": 65535, "I;16B": 65535, "I;16L": 65535, "I;16N": 65535, "I": 65535}


class ImageFileError(IbenchError):
    """An image file that is missing, too large or does not decode."""


def eight_bit(image: Image.Image) -> Image.Image:
    """``image`` with 8-bit channels: 16-bit and 32-bit integer modes are scaled, float ``F`` too."""
    if image.mode in _WIDE:
        arr = np.asarray(image, dtype=np.float64)
        top = 255.0 if image.mode == "I" and arr.max(initial=0) <= 255 else float(_WIDE[image.mode])
        return Image.fromarray(np.clip(arr / top * 255.0, 0, 255).round().astype(np.uint8), "L")
    if image.mode == "F":
        arr = np.asarray(image, dtype=np.float64)
        top = 1.0 if arr.max(initial=0) <= 1.0 else 255.0
        return Image.fromarray(np.clip(arr / top * 255.0, 0, 255).round().astype(np.uint8), "L")
    return image


def open_image(path: str | Path, mode: str = "RGB", what: str = "image") -> Image.Image:
    """The decoded image at ``path`` in ``mode`` (``RGB`` or ``L``); one line naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ImageFileError(f"{what} {path} not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.width * im.height > MAX_PIXELS:
                    raise ImageFileError(f"{what} {path} is {im.width}x{im.height}, over the {MAX_PIXELS:,}-pixel "
                                         f"limit (a decompression bomb?); resize it")
                im.load()
                return eight_bit(im).convert(mode)
    except ImageFileError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageFileError(f"{what} {path} is over the {MAX_PIXELS:,}-pixel limit (a decompression bomb?); "
                             f"resize it") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageFileError(f"{what} {path} does not decode: {type(exc).__name__}: {exc}") from None
