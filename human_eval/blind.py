"""What raters see of an output: every model's image at one common size, re-encoded without metadata.

Native pixel size (a 64 px model next to a 1024 px one) or file details (PNG text chunks, EXIF)
would tell raters which model made an image; served this way, only the pixels' content differs.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps

from ibench.core.images import open_image

RATER_SIZE = 512  # every output is shown at RATER_SIZE x RATER_SIZE


def rater_view(path: str | Path, size: int = RATER_SIZE) -> bytes:
    """The output at ``size`` x ``size`` (aspect kept, padded with white), as a PNG with no metadata."""
    image = ImageOps.pad(open_image(path), (size, size), method=Image.LANCZOS, color=(255, 255, 255))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()
