"""The anchors' own judge prompt files, fetched at run time from a pinned commit and checked.

ibench never ships an anchor's prompt text: a pack names each file by repository, commit, path, SHA-256
and size (``spec.AnchorFile``); ``load`` downloads it once into the cache dir (through
``ibench.data.fetch``: resumable, size-bounded, refused on a hash mismatch) and reads it from there
afterwards, offline. ``IBENCH_MIRROR``/``base_url`` serves the same files from a mirror (tests: a loopback
server). Some anchors keep their prompts as Python string constants; ``python_strings`` reads those
without running the file.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Optional

from ibench.core.paths import cache_dir, sha256_file
from ibench.data.fetch import ChecksumMismatch, Source, fetch_one
from ibench.errors import IbenchError

from .spec import AnchorFile


def cache_root() -> Path:
    """Where fetched anchor files are kept: ``<cache dir>/packs/anchor-files/<sha256>/<name>``."""
    return cache_dir() / "packs" / "anchor-files"


def cached_path(pin: AnchorFile) -> Path:
    return cache_root() / pin.sha256 / pin.name


def load(pin: AnchorFile, base_url: Optional[str] = None, retries: int = 2, timeout: float = 30.0) -> str:
    """The text of ``pin``: from the cache when verified there, else downloaded from its pinned URL (or the
    mirror) and verified. A changed file upstream is refused, never used; the message names the pin."""
    path = cached_path(pin)
    if not (path.is_file() and path.stat().st_size == pin.size and sha256_file(path) == pin.sha256):
        source = Source(path=f"{pin.sha256}/{pin.name}", url=pin.url, sha256=pin.sha256, size=pin.size)
        try:
            fetch_one(cache_root(), source, base_url=base_url, retries=retries, timeout=timeout)
        except ChecksumMismatch as exc:
            raise IbenchError(f"anchor prompt file {pin.repo}@{pin.commit[:10]}:{pin.path} does not match its "
                              f"pin ({exc}); the file was not used") from None
        except OSError as exc:
            raise IbenchError(f"cannot write the anchor file cache {cache_root()}: {exc.strerror or exc}") from None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise IbenchError(f"anchor file {pin.repo}:{pin.path} is not UTF-8 text") from None


def load_all(pins: tuple[AnchorFile, ...], base_url: Optional[str] = None) -> dict[str, str]:
    """``{path: text}`` for every pin (each fetched or read from the cache)."""
    return {pin.path: load(pin, base_url) for pin in pins}


def python_strings(text: str, where: str) -> dict[str, str]:
    """Module-level ``NAME = "..."`` string constants of a Python file, read with ``ast`` (never run)."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise IbenchError(f"{where}: not Python ({exc.msg}, line {exc.lineno})") from None
    out = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            out[node.targets[0].id] = node.value.value
    return out


def strings(pin: AnchorFile, names: tuple[str, ...], base_url: Optional[str] = None) -> dict[str, str]:
    """The named string constants of a pinned Python file; a missing one is one line naming the pin."""
    found = python_strings(load(pin, base_url), f"{pin.repo}:{pin.path}")
    missing = [n for n in names if n not in found]
    if missing:
        raise IbenchError(f"{pin.repo}@{pin.commit[:10]}:{pin.path} has no string constant {missing[0]!r}")
    return {n: found[n] for n in names}
