"""Locks between ibench processes (``fcntl.flock``) and cache entries that are built once, whole.

- ``hold(path)``: an exclusive lock on a lock file; ``wait=False`` refuses at once, in one line
  naming who holds it. Re-entrant within a process (``ibench run`` holds its run dir's lock through
  generation and scoring). The kernel drops the lock when its holder dies, even by SIGKILL.
- ``cache_entry(folder, build)``: a folder of the cache (the tiny model, the tiny extractors) that
  two first runs may race to build. It is built in a temporary sibling, stamped with the size of
  every file, and renamed into place under a lock; an entry whose files no longer match their
  stamp (a torn write, a half-deleted folder) is rebuilt.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from ibench.errors import IbenchError

STAMP = ".ibench-entry.json"
_HELD: dict[str, int] = {}  # resolved lock path -> depth, for the locks this process holds


def _holder(path: Path) -> str:
    """`` (pid N: command)`` of the process holding a flock on ``path`` (from Linux's /proc/locks), or ''."""
    try:
        inode = str(path.stat().st_ino)
        for line in Path("/proc/locks").read_text().splitlines():
            parts = line.split()  # "1: FLOCK  ADVISORY  WRITE 1234 00:2e:5678 0 EOF"; waiters have "->"
            if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5].rsplit(":", 1)[-1] == inode:
                cmd = Path(f"/proc/{parts[4]}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                return f" (pid {parts[4]}: {cmd.strip()[:120]})"
    except OSError:
        pass
    return ""


@contextmanager
def hold(path: str | Path, what: str, wait: bool = True) -> Iterator[None]:
    """Hold the exclusive lock ``path``; ``wait=False`` raises one line if another process has it."""
    path = Path(path)
    key = str(path.resolve())
    if key in _HELD:  # this process holds it already
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise IbenchError(f"{what} is in use by another ibench process{_holder(path)}: wait for it to "
                                  f"finish, then rerun the same command (it resumes)") from None
            fcntl.flock(fd, fcntl.LOCK_EX)
        _HELD[key] = 1
        try:
            yield
        finally:
            del _HELD[key]
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _stamp(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_size
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != STAMP}


def entry_complete(folder: Path) -> bool:
    """Whether ``folder`` is a whole cache entry: its stamp exists and every file has its stamped size."""
    try:
        stamped = json.loads((folder / STAMP).read_text(encoding="utf-8"))
        return isinstance(stamped, dict) and bool(stamped) and all(
            (folder / rel).is_file() and (folder / rel).stat().st_size == size for rel, size in stamped.items())
    except (OSError, ValueError):
        return False


def cache_entry(folder: str | Path, build: Callable[[Path], None]) -> Path:
    """``folder``, built by ``build(temporary folder)`` unless a complete entry is already there."""
    folder = Path(folder)
    if entry_complete(folder):
        return folder
    with hold(folder.with_name(f".{folder.name}.lock"), f"cache entry {folder}"):
        if entry_complete(folder):  # another process built it while we waited
            return folder
        for stale in [*folder.parent.glob(f".{folder.name}.*.build"), *folder.parent.glob(f".{folder.name}.*.old")]:
            shutil.rmtree(stale, ignore_errors=True)  # left by a builder that was killed (we hold the lock)
        tmp = folder.with_name(f".{folder.name}.{os.getpid()}.build")
        try:
            tmp.mkdir(parents=True)
            build(tmp)
            (tmp / STAMP).write_text(json.dumps(_stamp(tmp), sort_keys=True), encoding="utf-8")
            if folder.exists():  # torn or stale: nobody else builds it while we hold the lock
                old = folder.with_name(f".{folder.name}.{os.getpid()}.old")
                os.replace(folder, old)
                shutil.rmtree(old, ignore_errors=True)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder
