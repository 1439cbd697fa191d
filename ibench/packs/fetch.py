"""``ibench data fetch --pack NAME`` for a benchmark pack: download its test set at the pinned revision,
verify it, convert it to instances in the data root; offline afterwards.

The hub's files go to the Hugging Face cache (``HF_HUB_CACHE``/``HF_HOME``, resumable) and are checked
(``hub.download``); ``<root>/packs/<pack>/`` then holds the reference images, ``instances[-<subset>].jsonl``
(what ``ibench run --pack`` reads, no network), ``SOURCE.json`` (each dataset's commit and how each file was
verified) and ``skipped.jsonl`` (rows the conversion could not use, with the reason). A pack already
fetched at its pinned commits is not downloaded again (an unpinned dataset: again while the hub answers,
as its main may have moved; offline, the first fetch stands).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ibench.core.jsonio import read_json, write_jsonl_atomic
from ibench.errors import IbenchError

from . import hub, tasks
from .rows import PACKS_DIR
from .spec import Pack


@dataclass(frozen=True)
class Fetched:
    pack: str
    instances: int
    skipped: int
    files: list[Path]  # the instances files written
    downloaded: bool  # False: already fetched at these commits


def pack_folder(root: Path, pack: Pack) -> Path:
    return Path(root) / PACKS_DIR / pack.name


def _already(root: Path, pack: Pack, offline: bool) -> bool:
    """Fetched before at every pinned revision. An unpinned dataset is fetched again while the hub answers
    (its main may have moved); offline, the commit recorded at the first fetch stands."""
    source = pack_folder(root, pack) / "SOURCE.json"
    if not source.is_file():
        return False
    try:
        done = {d["repo"]: d["commit"] for d in read_json(source, "pack source record")["datasets"]}
    except (IbenchError, KeyError, TypeError):
        return False
    wanted = [tasks.instances_path(root, pack, s) for s in (pack.subsets or [None])]
    same = all(done.get(d.repo) == d.revision or (d.revision is None and offline and d.repo in done)
               for d in pack.datasets)
    return same and any(p.is_file() for p in wanted)


def fetch_pack(pack: Pack, root: Path, endpoint: Optional[str] = None, cache_dir: Optional[Path] = None,
               force: bool = False) -> Fetched:
    """Download, verify and convert ``pack`` into the data root ``root``."""
    from ibench.weights import offline

    root = Path(root).expanduser()
    if not force and _already(root, pack, offline()):
        files = [p for p in (tasks.instances_path(root, pack, s) for s in (pack.subsets or [None])) if p.is_file()]
        count = sum(sum(1 for line in p.read_text(encoding="utf-8").splitlines() if line.strip()) for p in files)
        return Fetched(pack.name, count, 0, files, False)
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    cache_dir = cache_dir or (Path(os.environ["HF_HUB_CACHE"]) if os.environ.get("HF_HUB_CACHE") else None)
    snaps = [hub.download(d, endpoint=endpoint, cache_dir=cache_dir) for d in pack.datasets]
    done = pack.convert({s.repo: s.folder for s in snaps}, root)
    if not done.instances:
        raise IbenchError(f"pack {pack.name}: no instance could be made ({len(done.skipped)} rows skipped; first: "
                          f"{done.skipped[0][1] if done.skipped else 'no rows'})")
    files = tasks.write_instances(done.instances, root, pack)
    write_jsonl_atomic(pack_folder(root, pack) / "skipped.jsonl", [{"row": k, "why": why} for k, why in done.skipped])
    hub.record(snaps, pack_folder(root, pack))  # last: its presence says the fetch finished
    return Fetched(pack.name, len(done.instances), len(done.skipped), files, True)
