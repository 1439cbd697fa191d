"""Find model weights: a local path, the Hugging Face cache, or the hub when it can be reached.

Whether the hub can be reached is asked once per process (a short HEAD request to ``HF_ENDPOINT``,
default https://huggingface.co, within ``IBENCH_HUB_TIMEOUT`` seconds), so an offline machine
learns it at once instead of after a minute of retries. Weights that cannot be had raise
``MissingWeights``; ``gather`` runs several look-ups and raises one error listing every miss, so a
user learns all the downloads at once (extractors and model components alike).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Optional, TypeVar

from ibench.errors import IbenchError

T = TypeVar("T")
DEFAULT_ENDPOINT = "https://huggingface.co"
#: What ``locate(download=True)`` fetches from a hub repo: the first group that has a weights file.
WEIGHT_FILES = (("*.json", "*.safetensors"), ("*.json", "*.bin"))


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes", "on"}


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


@lru_cache(maxsize=None)
def _probe(url: str, timeout: float) -> Optional[str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return None
    except urllib.error.HTTPError:  # any HTTP answer: the hub is there
        return None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"the hub at {url} cannot be reached ({getattr(reason, 'strerror', None) or reason})"


UNREACHABLE_ENV = "IBENCH_HUB_UNREACHABLE"  # set (with the reason) once the probe found no hub


def hub_unavailable() -> Optional[str]:
    """Why the hub cannot be used now (``HF_HUB_OFFLINE``, or no answer), or None; asked once per endpoint.

    A hub that does not answer turns on ``HF_HUB_OFFLINE`` for this process (and its children), so
    huggingface_hub and transformers do not wait for it again (retries, a registry fetch on every
    header build)."""
    if os.environ.get(UNREACHABLE_ENV):
        return os.environ[UNREACHABLE_ENV]
    if offline():
        return "HF_HUB_OFFLINE is set"
    reason = _probe(endpoint(), float(os.environ.get("IBENCH_HUB_TIMEOUT", "3")))
    if reason:
        os.environ[UNREACHABLE_ENV], os.environ["HF_HUB_OFFLINE"] = reason, "1"
        constants = sys.modules.get("huggingface_hub.constants")
        if constants is not None:  # read at import: tell an imported huggingface_hub too
            constants.HF_HUB_OFFLINE = True
    return reason


@dataclass(frozen=True)
class Missing:
    """One weight that is not on this machine: ``label`` names it, ``hub_id`` is what to download."""

    label: str
    hub_id: Optional[str] = None
    flag: str = ""
    how: str = ""  # for weights that are not a hub repo: where to get them


class MissingWeights(IbenchError):
    """Weights that are not here and cannot be downloaded now: one line naming all of them."""

    def __init__(self, items: list[Missing], reason: str = "", hint: str = ""):
        self.items, self.reason = list(dict.fromkeys(items)), reason
        super().__init__(self._message() + hint)

    def _message(self) -> str:
        ids = [m.hub_id for m in self.items if m.hub_id]
        steps = [m.how for m in self.items if m.how]
        if ids:
            steps.insert(0, "where there is internet run " + ", ".join(f"`hf download {i}`" for i in ids)
                         + " (then copy the Hugging Face cache here)")
        why = " not on this machine" + (f" and {self.reason}" if self.reason else "")
        if len(self.items) == 1:
            m = self.items[0]
            if not m.hub_id and not m.how:
                return f"{m.label} not found" + (f" (check {m.flag})" if m.flag else "")
            verb = "are" if "weights" in m.label.split("'")[0] else "is"
            where = " not in the Hugging Face cache" + (f" and {self.reason}" if self.reason else "") if m.hub_id else why
            local = f", or pass a local folder with {m.flag}" if m.flag and m.hub_id else ""
            return f"{m.label} {verb}{where}: {'; '.join(steps)}{local}"
        listed = "; ".join(m.label + (f" ({m.flag})" if m.flag else "") for m in self.items)
        steps.append("point the settings at local folders" if steps else "check the paths")
        return f"{len(self.items)} weights are{why}: {listed}: {'; or '.join(steps)}"


def gather(lookups: Iterable[Callable[[], T]]) -> list[T]:
    """Run every look-up; if any weights are missing, raise one ``MissingWeights`` naming them all."""
    found, missing, reason = [], [], ""
    for lookup in lookups:
        try:
            found.append(lookup())
        except MissingWeights as exc:
            missing += exc.items
            reason = reason or exc.reason
    if missing:
        raise MissingWeights(missing, reason)
    return found


def resolve_all(name: str, wanted: dict[str, tuple[str, Optional[list[str]]]]) -> dict[str, str]:
    """``resolve_weights`` of each of a model's ``{setting: (hub id or path, allow_patterns)}``; every
    missing one is named in one line."""
    def lookup(label: str, ident: str, patterns: Optional[list[str]]) -> str:
        flag = f"--model-arg {label}=PATH" if "." not in label else f"`{label}` in --model-config"
        return resolve_weights(str(ident), f"{name} {label}", flag, patterns)

    labels = list(wanted)
    return dict(zip(labels, gather([lambda lab=lab: lookup(lab, *wanted[lab]) for lab in labels])))


def _cached(name: str, allow_patterns: Optional[list[str]]) -> Optional[str]:
    hub_unavailable()  # first: a silent hub turns HF_HUB_OFFLINE on before huggingface_hub waits for it
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(name, local_files_only=True, allow_patterns=allow_patterns)
    except Exception:  # noqa: BLE001 - any miss in the cache means "not cached"
        return None


def locate(name: str, what: str, flag: str = "", allow_patterns: Optional[list[str]] = None,
           download: bool = False) -> str:
    """A local path for ``name`` (a folder, a file, or a hub id in the HF cache), else the hub id.

    ``download``: fetch a hub id that is not cached now (the weights files of ``WEIGHT_FILES``) and
    return its local folder, for loaders that need files (and for a weights identity from them).
    Raises ``MissingWeights`` when the weights are not here and the hub cannot be used.
    """
    path = Path(name).expanduser()
    if path.exists():
        return str(path)
    if name.startswith((".", "/", "~")):
        raise MissingWeights([Missing(f"{what} weights at {path}", flag=flag)])
    local = _cached(name, allow_patterns)
    if local is not None:
        return local
    reason = hub_unavailable()
    if reason:
        raise MissingWeights([Missing(f"{what} '{name}'", name, flag)], reason)
    return _download(name, what, allow_patterns) if download else name


def resolve_weights(name: str, what: str, flag: str = "", allow_patterns: Optional[list[str]] = None) -> str:
    """``locate`` without downloading: online, an uncached hub id is returned for the loader to fetch."""
    return locate(name, what, flag, allow_patterns)


def _download(name: str, what: str, allow_patterns: Optional[list[str]]) -> str:
    """Download a hub repo's config and weights files (one format: safetensors if it has them)."""
    from fnmatch import fnmatch

    from huggingface_hub import HfApi, snapshot_download

    try:
        if allow_patterns is None:
            files = HfApi(endpoint=endpoint()).list_repo_files(name)
            groups = [g for g in WEIGHT_FILES if any(fnmatch(f, g[-1]) for f in files)]
            allow_patterns = list(groups[0]) if groups else None
        return snapshot_download(name, allow_patterns=allow_patterns)
    except Exception as exc:  # noqa: BLE001 - 404s, timeouts, disk full: one line
        raise download_error(name, what, exc) from None


def download_error(name: str, what: str, exc: BaseException) -> IbenchError:
    """Turn a failed hub download into one line that says what to do."""
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return IbenchError(f"could not get {what} '{name}' ({type(exc).__name__}: {first}): check the id and your "
                       f"network, or download it where there is internet (`hf download {name}`) and pass the "
                       f"local folder")

