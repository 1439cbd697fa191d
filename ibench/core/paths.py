"""Where ibench keeps things: cache dir, data root, derived control maps."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from platformdirs import user_cache_dir

from ibench.errors import IbenchError

SYNTHETIC = "synthetic"
DERIVED_PREFIX = "derived"


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_dir() -> Path:
    """The user cache dir (``IBENCH_CACHE_DIR`` overrides); never inside site-packages."""
    return Path(os.environ.get("IBENCH_CACHE_DIR") or user_cache_dir("ibench"))


def default_data_dir() -> Path:
    return Path(os.environ.get("IBENCH_DATA_DIR") or cache_dir() / "data")


class DataRoot:
    """A data root: relative reference paths resolve inside it and may never leave it.

    Paths under ``derived/`` (control maps made by ``ibench data prepare``) resolve inside
    ``derived_dir``, which defaults to ``<root>/derived`` when the root is writable and to a
    folder in the cache dir otherwise (a read-only root such as a shared data mount).
    """

    def __init__(self, root: str | Path, derived_dir: str | Path | None = None):
        self.root = Path(root).expanduser().resolve()
        if derived_dir is None:
            derived_dir = os.environ.get("IBENCH_DERIVED_DIR")
        if derived_dir is None:
            if os.access(self.root, os.W_OK):
                derived_dir = self.root / DERIVED_PREFIX
            else:
                import hashlib

                key = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
                derived_dir = cache_dir() / "derived" / key
        self.derived_dir = Path(derived_dir).expanduser().resolve()

    def __repr__(self) -> str:
        return f"DataRoot({str(self.root)!r})"

    def resolve(self, rel: str) -> Path:
        """Absolute path of a reference path; raises if it is absolute or escapes the root."""
        pure = PurePosixPath(rel)
        if pure.is_absolute() or rel.startswith("~") or "\\" in rel:
            raise IbenchError(f"reference path {rel!r} must be relative to the data root")
        parts = pure.parts
        base, rest = (self.derived_dir, parts[1:]) if parts[:1] == (DERIVED_PREFIX,) else (self.root, parts)
        path = (base.joinpath(*rest)).resolve()
        if path != base and base not in path.parents:
            raise IbenchError(f"reference path {rel!r} escapes the data root {base}")
        return path


def derived_path(control: str, source: str) -> str:
    """Relative path of the ``control`` map of image ``source`` (e.g. derived/edge/content/x.png)."""
    stem = source.rsplit(".", 1)[0]
    return f"{DERIVED_PREFIX}/{control}/{stem}.png"
