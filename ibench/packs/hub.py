"""Downloading a pack's test set from the Hugging Face hub at a pinned revision, verified.

``download`` asks ``huggingface_hub`` for the dataset repo's listing at the revision and the files matching
the pack's patterns (into the HF cache; resumable; offline it is served from the cache), then checks
every file: against ibench's own pin when the pack has one, else against the listing (an LFS file's
SHA-256; a small file's git blob id). A mismatch is refused in one line and nothing is converted from
it. What was verified is written as ``SOURCE.json`` next to the pack's images in the data root.
"""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ibench.core.jsonio import write_json_atomic
from ibench.core.paths import sha256_file
from ibench.errors import IbenchError

from .spec import HubDataset


@dataclass(frozen=True)
class Snapshot:
    """A verified local copy of one dataset repo at one commit."""

    repo: str
    commit: str
    pinned: bool  # False: the pack names no revision and ``commit`` is what the hub's main resolved to
    folder: Path
    files: dict  # path -> {"sha256", "size", "checked_against"}


def git_blob_id(path: Path) -> str:
    """The git blob id (sha1 of ``blob <size>\\0`` + bytes) the hub lists for a non-LFS file."""
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _hub_error(exc: Exception, dataset: HubDataset, revision: str) -> IbenchError:
    name = type(exc).__name__
    if name == "RepositoryNotFoundError":
        return IbenchError(f"dataset {dataset.repo} is not on the hub (or needs a login: `hf auth login`)")
    if name == "RevisionNotFoundError":
        return IbenchError(f"dataset {dataset.repo} has no revision {revision}")
    if name in ("LocalEntryNotFoundError", "OfflineModeIsEnabled"):
        return IbenchError(f"dataset {dataset.repo}@{revision[:12]} is not in the HF cache and the hub cannot be "
                           f"reached (HF_HUB_OFFLINE?); run `ibench data fetch --pack` once online")
    return IbenchError(f"dataset {dataset.repo}@{revision[:12]}: {name}: {str(exc).splitlines()[0] if str(exc) else ''}")


def download(dataset: HubDataset, endpoint: Optional[str] = None, cache_dir: Optional[Path] = None,
             revision: Optional[str] = None) -> Snapshot:
    """Download and verify the files of ``dataset`` (``revision`` overrides the pack's pin)."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.hf_api import RepoFile

    api = HfApi(endpoint=endpoint)
    wanted = revision or dataset.revision
    try:
        commit = wanted or api.dataset_info(dataset.repo, revision="main").sha
        listing = {f.path: f for f in api.list_repo_tree(dataset.repo, repo_type="dataset", revision=commit,
                                                          recursive=True) if isinstance(f, RepoFile)}
        picked = sorted(p for p in listing if any(fnmatch.fnmatch(p, pat) for pat in dataset.patterns))
        if not picked:
            raise IbenchError(f"dataset {dataset.repo}@{commit[:12]} has no file matching "
                              f"{', '.join(dataset.patterns)} (files: {', '.join(sorted(listing)[:8])})")
        folder = Path(snapshot_download(dataset.repo, repo_type="dataset", revision=commit, allow_patterns=picked,
                                        endpoint=endpoint, cache_dir=cache_dir))
    except IbenchError:
        raise
    except Exception as exc:  # huggingface_hub's own errors: one line naming the dataset
        raise _hub_error(exc, dataset, wanted or "main") from None
    files = {}
    for rel in picked:
        files[rel] = _verify(folder / rel, rel, listing[rel], dataset, commit)
    return Snapshot(dataset.repo, commit, wanted is not None, folder, files)


def _verify(path: Path, rel: str, entry, dataset: HubDataset, commit: str) -> dict:
    """Check one downloaded file against ibench's pin or the hub's listing; refuse it otherwise."""
    if not path.is_file():
        raise IbenchError(f"dataset {dataset.repo}@{commit[:12]}: {rel} was listed but not downloaded")
    digest, size = sha256_file(path), path.stat().st_size
    if rel in dataset.pins:
        want, want_size, against = *dataset.pins[rel], "ibench pin"
        ok = digest == want and size == want_size
    elif entry.lfs is not None:
        want, want_size, against = entry.lfs.sha256, entry.lfs.size, "hub LFS sha256"
        ok = digest == want and size == want_size
    else:
        want, want_size, against = entry.blob_id, entry.size, "hub git blob id"
        ok = git_blob_id(path) == want and size == want_size
    if not ok:
        raise IbenchError(f"dataset {dataset.repo}@{commit[:12]}: {rel} does not match the {against} "
                          f"({want[:12]}..., {want_size} bytes; got sha256 {digest[:12]}..., {size} bytes); "
                          f"delete it from the HF cache and fetch again")
    return {"sha256": digest, "size": size, "checked_against": against}


def record(snapshots: list[Snapshot], folder: Path) -> Path:
    """Write ``<folder>/SOURCE.json``: what each dataset was, at which commit, verified how."""
    path = Path(folder) / "SOURCE.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, {"datasets": [{"repo": s.repo, "commit": s.commit, "pinned": s.pinned, "files": s.files}
                                          for s in snapshots]})
    return path
