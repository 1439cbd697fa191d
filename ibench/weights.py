"""Find model weights: a local path, the Hugging Face cache, or downloaded from the hub now.

One path for every loader: ``locate`` (one weight) and ``locate_all`` (a model's weights) always return
a LOCAL path (a folder or a file): a local path as given, else the HF cache's snapshot folder, else,
where the hub answers, the snapshot folder after downloading the files the loader reads
(``WeightFiles``). ``check_all`` asks the same without downloading (a preflight); ``find_local`` says where
one weight is, downloading nothing (None: not cached, the hub can serve it). The hub is asked
only when something is not cached (a second run makes no request), and at most once per process
whether it answers (a short HEAD request to ``HF_ENDPOINT``, default https://huggingface.co, within
``IBENCH_HUB_TIMEOUT`` seconds), so an offline machine learns it at once instead of after a minute of
retries. Weights that cannot be had raise ``MissingWeights``; ``gather`` runs several look-ups and
raises one error listing every miss, so a user learns all the downloads at once.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Optional, TypeVar, Union

from ibench.errors import IbenchError

T = TypeVar("T")
DEFAULT_ENDPOINT = "https://huggingface.co"
#: What a model repo's loader reads besides weights (configs, tokenizer and processor files).
CONFIG_FILES = ("*.json", "*.txt", "*.model", "*.jinja")
#: Weight formats, preferred first: each folder of a repo gets the first one it has.
WEIGHT_FORMATS = (".safetensors", ".bin")


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


# -- which files of a repo ------------------------------------------------------------------------
@dataclass(frozen=True)
class PipelineFiles:
    """A diffusers pipeline repo (``model_index.json``), fetched as diffusers' own ``DiffusionPipeline.download``
    picks its files: the components' folders, one weights format, the ``variant``'s files; ``skip`` names
    components the adapter passes itself at load time (e.g. ``safety_checker=None``), never downloaded."""

    variant: Optional[str] = None
    skip: tuple[str, ...] = ()

    def kwargs(self) -> dict:
        return {"variant": self.variant, **{name: None for name in self.skip}}


#: What to fetch of a repo: None (a model repo: ``model_files``), glob patterns, or a diffusers pipeline.
WeightFiles = Union[None, list[str], PipelineFiles]
#: A model's weights: ``{setting: (hub id or local path, WeightFiles)}`` (``ModelAdapter.weights``).
Wanted = dict[str, tuple[str, WeightFiles]]


def model_files(listing: Iterable[str]) -> list[str]:
    """The files of a model repo that its loader reads: configs and tokenizer files, and in each folder one
    weights format (safetensors, else bin), without variant copies (``x.fp16.safetensors``) where the plain
    files are there; never root checkpoints of other formats (``.ckpt``, ``.pth``)."""
    from fnmatch import fnmatch

    files = list(listing)
    chosen = [f for f in files if any(fnmatch(f.rsplit("/", 1)[-1], p) for p in CONFIG_FILES)]
    folders = sorted({f.rpartition("/")[0] for f in files if f.endswith(WEIGHT_FORMATS)})
    for folder in folders:
        mine = [f for f in files if f.rpartition("/")[0] == folder]
        for ext in WEIGHT_FORMATS:
            found = [f for f in mine if f.endswith(ext)]
            plain = [f for f in found if "." not in f.rpartition("/")[2][:-len(ext)]]
            if found:
                chosen += plain or found
                break
    return chosen


def _cached_listing(name: str) -> Optional[list[str]]:
    """The repo's file listing as the HF cache recorded it (huggingface_hub >= 2.x), or None."""
    try:
        from huggingface_hub import get_cached_repo_tree
    except ImportError:  # an older huggingface_hub keeps no listing: the snapshot folder is taken as it is
        return None
    try:
        return [entry.path for entry in get_cached_repo_tree(name)]
    except Exception:  # noqa: BLE001 - nothing cached for this repo
        return None


def _fetch(name: str, files: WeightFiles, cached_only: bool) -> str:
    """The snapshot folder of hub repo ``name`` holding ``files``: from the cache only, or downloading."""
    from huggingface_hub import HfApi, snapshot_download

    if isinstance(files, PipelineFiles):
        from diffusers import DiffusionPipeline

        return str(DiffusionPipeline.download(name, local_files_only=cached_only, **files.kwargs()))
    patterns = files
    if patterns is None:
        listing = _cached_listing(name) if cached_only else HfApi(endpoint=endpoint()).list_repo_files(name)
        patterns = model_files(listing) if listing is not None else None
    return snapshot_download(name, local_files_only=cached_only, allow_patterns=patterns)


def _cached(name: str, files: WeightFiles) -> Optional[str]:
    from huggingface_hub import try_to_load_from_cache

    if isinstance(files, PipelineFiles) and not isinstance(try_to_load_from_cache(name, "model_index.json"), str):
        return None  # not cached at all: known without importing diffusers (a missing-weights line stays quick)
    try:
        return _fetch(name, files, cached_only=True)
    except Exception:  # noqa: BLE001 - any miss in the cache (absent, incomplete) means "not cached"
        return None


# -- the one way to a local path ------------------------------------------------------------------
def find_local(name: str, what: str, flag: str = "", files: WeightFiles = None) -> Optional[str]:
    """Where ``name`` is on this machine, downloading nothing (a check such as ``ibench doctor``'s): the path as
    given, or the HF cache's snapshot folder; None when it is a hub id that is not cached and the hub can serve
    now. Raises ``MissingWeights`` when the weights are not here and the hub cannot be used."""
    path = Path(name).expanduser()
    if path.exists():
        return str(path)
    if name.startswith((".", "/", "~")):
        raise MissingWeights([Missing(f"{what} weights at {path}", flag=flag)])
    local = _cached(name, files)
    if local is not None:
        return local
    reason = hub_unavailable()  # asked only now: a run whose weights are all cached makes no request
    if reason:
        raise MissingWeights([Missing(f"{what} '{name}'", name, flag)], reason)
    return None


def locate(name: str, what: str, flag: str = "", files: WeightFiles = None) -> str:
    """A LOCAL path for ``name`` (a folder, a file, or a hub id), downloading ``files`` of an uncached hub id
    where the hub answers. Raises ``MissingWeights`` when the weights are not here and the hub cannot be
    used, and one ``IbenchError`` line when a download fails (unknown id, gated, network)."""
    local = find_local(name, what, flag, files)
    if local is not None:
        return local
    try:
        return _fetch(name, files, cached_only=False)
    except Exception as exc:  # noqa: BLE001 - 404s, gated repos, timeouts, disk full: one line
        raise download_error(name, what, exc) from None


def _flag(label: str) -> str:
    return f"--model-arg {label}=PATH" if "." not in label else f"`{label}` in --model-config"


def check_all(name: str, wanted: Wanted) -> None:
    """Every weight of model ``name`` is here or can be downloaded now (nothing is downloaded); else one
    ``MissingWeights`` naming every missing one. A preflight: ``locate_all`` does the downloading."""
    gather([lambda lab=lab: find_local(str(wanted[lab][0]), f"{name} {lab}", _flag(lab), wanted[lab][1])
            for lab in wanted])


def locate_all(name: str, wanted: Wanted) -> dict[str, str]:
    """``locate`` of each of a model's ``{setting: (hub id or path, WeightFiles)}``: a local path per setting.
    Every missing one is named in one line before anything is downloaded."""
    check_all(name, wanted)
    return {lab: locate(str(ident), f"{name} {lab}", _flag(lab), files) for lab, (ident, files) in wanted.items()}


def download_error(name: str, what: str, exc: BaseException) -> IbenchError:
    """Turn a failed hub download into one line that says what to do."""
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return IbenchError(f"could not get {what} '{name}' ({type(exc).__name__}: {first}): check the id and your "
                       f"network, or download it where there is internet (`hf download {name}`) and pass the "
                       f"local folder")
