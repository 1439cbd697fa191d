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

    Paths under ``derived/`` are control maps. They are read from ``<root>/derived`` when ``ibench data
    prepare`` made them there, else from ``derived_dir``, where maps made on demand are written:
    by default a folder of the cache dir keyed by the root, so no command but ``data fetch`` and
    ``data prepare`` ever writes into a data root (which may be a shared, read-only mount).
    """

    def __init__(self, root: str | Path, derived_dir: str | Path | None = None):
        self.root = Path(root).expanduser().resolve()
        self.prepared_dir = self.root / DERIVED_PREFIX
        if derived_dir is None:
            derived_dir = os.environ.get("IBENCH_DERIVED_DIR")
        if derived_dir is None:
            import hashlib

            key = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
            derived_dir = cache_dir() / "derived" / key
        self.derived_dir = Path(derived_dir).expanduser().resolve()

    def __repr__(self) -> str:
        return f"DataRoot({str(self.root)!r})"

    def resolve(self, rel: str) -> Path:
        """Absolute path of a reference path; raises if it is absolute or escapes the root."""
        pure = PurePosixPath(rel)
        if pure.is_absolute() or rel.startswith("~") or "\\" in rel or "\x00" in rel:
            raise IbenchError(f"reference path {rel!r} must be relative to the data root")
        parts = pure.parts
        if parts[:1] != (DERIVED_PREFIX,):
            return self._inside(self.root, parts, rel)
        if self.prepared_dir != self.derived_dir:
            prepared = self._inside(self.prepared_dir, parts[1:], rel)
            if prepared.is_file():
                return prepared
        return self._inside(self.derived_dir, parts[1:], rel)

    @staticmethod
    def _inside(base: Path, parts: tuple[str, ...], rel: str) -> Path:
        path = base.joinpath(*parts).resolve()
        if path != base and base not in path.parents:
            raise IbenchError(f"reference path {rel!r} escapes the data root {base}")
        return path


def derived_path(control: str, source: str) -> str:
    """Relative path of the ``control`` map of image ``source`` (e.g. derived/mask/content/x.png); a control type
    whose maker is past version 1 has its version in the folder name (derived/edge-v2/content/x.png)."""
    from ibench.core.vocabulary import CONTROL_MAP_VERSIONS

    stem = source.rsplit(".", 1)[0]
    version = CONTROL_MAP_VERSIONS.get(control, 1)
    folder = control if version == 1 else f"{control}-v{version}"
    return f"{DERIVED_PREFIX}/{folder}/{stem}.png"
