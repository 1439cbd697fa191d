"""Provider replies cached by request, so a rerun (or a resumed run) never pays for the same image twice.

The key hashes (provider, model, output-affecting settings, the rendered request with image hashes,
sample and seed). An entry is ``<root>/<provider>/<kk>/<key>.json`` (the request as sent, without
credentials, and the outcome) plus ``<key>.png`` for an image; both are written atomically, the image
first. Refusals are cached too (asking again would be billed and refused again); transient failures
are not.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ibench.core.jsonio import read_json, replace_atomic, write_json_atomic


def request_key(provider: str, model: str, settings: dict, request: dict, sample: int, seed: int) -> str:
    blob = json.dumps({"provider": provider, "model": model, "settings": settings, "request": request,
                       "sample": sample, "seed": seed}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class Reply:
    """What a provider answered: image bytes, or the reason it refused; plus notes for the record."""

    image: Optional[bytes] = None
    refusal: Optional[str] = None
    meta: dict[str, Any] = field(default_factory=dict)


class RequestCache:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _paths(self, provider: str, key: str) -> tuple[Path, Path]:
        base = self.root / provider / key[:2] / key
        return base.with_suffix(".json"), base.with_suffix(".png")

    def get(self, provider: str, key: str) -> Optional[Reply]:
        meta_path, png_path = self._paths(provider, key)
        if not meta_path.is_file():
            return None
        entry = read_json(meta_path, "API cache entry")
        if entry.get("refusal") is None:
            if not png_path.is_file():
                return None
            return Reply(image=png_path.read_bytes(), meta=entry.get("meta", {}))
        return Reply(refusal=entry["refusal"], meta=entry.get("meta", {}))

    def put(self, provider: str, key: str, request: dict, reply: Reply) -> None:
        meta_path, png_path = self._paths(provider, key)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        if reply.image is not None:
            replace_atomic(png_path, lambda tmp: tmp.write_bytes(reply.image))
        write_json_atomic(meta_path, {"key": key, "request": request, "refusal": reply.refusal, "meta": reply.meta})
