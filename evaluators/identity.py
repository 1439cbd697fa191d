"""What local weights *are*: the identity an extractor (or a judge's local weights) carries into results.json,
reports and its feature-cache key.

- a snapshot in the Hugging Face cache (``.../models--org--name/snapshots/<commit>/...``) is the hub's
  revision: ``hf:org/name@<commit 12>`` (plus the file inside, for one file);
- anything else is its content: ``sha256:<16 hex>`` of every file's SHA-256 (folders: with their paths
  inside the folder; hidden files left out), each computed once and remembered by (path, size, mtime) in
  the cache dir (``weights-identity.json``), so re-scoring never hashes gigabytes twice;
- weights that ``ibench.evaluators.tiny`` made (a ``.ibench-tiny`` marker beside them) say so first.

So the same weights in two folders, on two machines or in a moved cache have one identity, results from
both are recognised as comparable, and a feature cache can be shared. Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from pathlib import Path
from typing import Optional

from .tiny_mark import TINY_MARK

MEMO_FILE = "weights-identity.json"
COMMIT = re.compile(r"^[0-9a-f]{40}$")
_REPO_KINDS = ("models--", "datasets--", "spaces--")
_memo: dict[str, str] = {}
_loaded: set[str] = set()
_lock = threading.Lock()


def hub_snapshot(path: Path) -> Optional[tuple[str, str, str]]:
    """(repo id, commit, path inside) when ``path`` lies in a Hugging Face cache snapshot, else None."""
    parts = path.parts
    for i in range(len(parts) - 2):
        if parts[i].startswith(_REPO_KINDS) and parts[i + 1] == "snapshots" and COMMIT.match(parts[i + 2]):
            repo = parts[i].split("--", 1)[1].replace("--", "/")
            return repo, parts[i + 2], "/".join(parts[i + 3:])
    return None


def weights_name(model: str) -> str:
    """A model setting as an identity shows it: a hub id or registered name as it is, a local path as ``local``
    (where the weights lie is no part of what they are)."""
    return "local" if model.startswith(("/", ".", "~")) or Path(model).expanduser().exists() else model


def file_identity(path: str | Path) -> str:
    """The identity of local weights (a file or a folder): the hub revision of an HF-cache snapshot, else a
    content hash (see the module docstring); tiny random weights are marked first."""
    path = Path(os.path.abspath(Path(path).expanduser()))  # not resolved: a snapshot's files link into blobs/
    tiny = ((path if path.is_dir() else path.parent) / f".{TINY_MARK}").is_file()
    snapshot = hub_snapshot(path)
    if snapshot is not None:
        repo, commit, inside = snapshot
        ident = f"hf:{repo}@{commit[:12]}" + (f":{inside}" if inside else "")
    else:
        ident = f"sha256:{content_digest(path)[:16]}"
    return f"{TINY_MARK + ':' if tiny else ''}{ident}"


def content_digest(path: Path) -> str:
    """SHA-256 over a file's bytes, or over a folder's files (relative path + the file's SHA-256 each)."""
    if not path.is_dir():
        return _file_digest(path)
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts):
            h.update(f"{rel.as_posix()}\0{_file_digest(p)}\n".encode())
    return h.hexdigest()


def _memo_path() -> Path:
    from ibench.core.paths import cache_dir

    return cache_dir() / MEMO_FILE


def _file_digest(path: Path) -> str:
    st = path.stat()
    key = f"{path.resolve()}\t{st.st_size}\t{st.st_mtime_ns}"
    memo = _memo_path()
    with _lock:
        if str(memo) not in _loaded:
            _loaded.add(str(memo))
            _memo.update(_read_memo(memo))
        if key in _memo:
            return _memo[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    with _lock:
        _memo[key] = digest
        _write_memo(memo, {**_read_memo(memo), key: digest})
    return digest


def _read_memo(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or torn: hashes are computed again
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(data, dict) else {}


def _write_memo(path: Path, memo: dict[str, str]) -> None:
    from ibench.core.jsonio import write_json_atomic

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, memo)
    except OSError:  # a read-only cache: the hash is still right, only not remembered
        pass
