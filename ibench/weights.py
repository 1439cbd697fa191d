"""Find model weights: a local path, the Hugging Face cache, or (online) the hub."""

from __future__ import annotations

import os
from pathlib import Path

from ibench.errors import IbenchError


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes", "on"}


def resolve_weights(name: str, what: str, flag: str = "", allow_patterns: list[str] | None = None) -> str:
    """A local path for ``name`` (a folder, a file, or a hub id in the HF cache); online, the id itself.

    Raises one clear error naming the weights and how to get them when they cannot be had.
    """
    path = Path(name).expanduser()
    if path.exists():
        return str(path)
    if name.startswith((".", "/", "~")):
        raise IbenchError(f"{what} weights not found at {path}" + (f" (check {flag})" if flag else ""))
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(name, local_files_only=True, allow_patterns=allow_patterns)
    except Exception:  # noqa: BLE001 - any miss in the cache means "not cached"
        pass
    if offline():
        raise IbenchError(
            f"{what} '{name}' is not in the Hugging Face cache and HF_HUB_OFFLINE is set: on a machine with "
            f"internet run `hf download {name}` (or unset HF_HUB_OFFLINE), or pass a local folder"
            + (f" with {flag}" if flag else "")
        )
    return name


def download_error(name: str, what: str, exc: BaseException) -> IbenchError:
    """Turn a failed hub download into one line that says what to do."""
    return IbenchError(f"could not get {what} '{name}' ({type(exc).__name__}): check the id and your network, "
                       f"or download it where there is internet (`hf download {name}`) and pass the local folder")
