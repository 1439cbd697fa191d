"""Images as the rating page sends them: JPEG data URIs scaled to fit a size (cached per file version),
so the page needs no file server and a rater's browser never sees a path (paths name runs)."""

from __future__ import annotations

import base64
import io
from functools import lru_cache
from pathlib import Path
from typing import Optional

OUTPUT_SIZE = 768  # the output(s) to rate: sharp on a 1440x900 screen
REFERENCE_SIZE = 512  # references: thumbnails on the page, this size when enlarged


@lru_cache(maxsize=512)
def _encode(path: str, mtime_ns: int, size: int, max_side: int) -> str:
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        im.thumbnail((max_side, max_side), Image.BICUBIC)
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def data_uri(path: Optional[str], max_side: int) -> Optional[str]:
    """The image at ``path`` as a data URI no larger than ``max_side``; None when missing or unreadable."""
    if not path:
        return None
    p = Path(path)
    try:
        st = p.stat()
        return _encode(str(p), st.st_mtime_ns, st.st_size, max_side)
    except OSError:
        return None
