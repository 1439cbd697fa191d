"""Run the ibench CLI with a fault: SIGKILL inside a file write, or a write limit (a full disk).

``python tests/faults.py KIND N PATTERN -- ARGS...``:

- ``replace``: the Nth atomic whole-file write (``ibench.core.jsonio.replace_atomic``) of a file
  whose name matches PATTERN writes half of its temp file, then the process SIGKILLs itself, the
  temp file still open (an image, a score file, ``index.html``, ...);
- ``append``: the Nth durable append to a matching JSONL file writes half of its bytes, then SIGKILL
  (a torn record);
- ``fsize``: every file write beyond N bytes fails with EFBIG (``RLIMIT_FSIZE``), like a full disk.

Nothing here is in ibench itself: the patch is installed before ibench's modules import their writers.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
from fnmatch import fnmatch
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _swap(original, patched) -> None:
    """Replace ``original`` in every ibench module already imported (later imports get the patched one)."""
    for name, module in list(sys.modules.items()):
        if name.startswith("ibench") and module is not None:
            for attr, value in list(vars(module).items()):
                if value is original:
                    setattr(module, attr, patched)


def install(kind: str, n: int, pattern: str) -> None:
    from ibench.core import jsonio

    calls = {"n": 0}

    def hit(path: Path) -> bool:
        if not fnmatch(Path(path).name, pattern):
            return False
        calls["n"] += 1
        return calls["n"] == n

    if kind == "replace":
        original = jsonio.replace_atomic

        def replace_atomic(path, write):
            if hit(path):
                tmp = jsonio.temp_path(Path(path))
                write(tmp)
                with open(tmp, "r+b") as f:
                    f.truncate(os.path.getsize(tmp) // 2)
                    _kill()
            return original(path, write)

        _swap(original, replace_atomic)
    elif kind == "append":
        original_append = jsonio.append_jsonl

        def append_jsonl(path, rows):
            rows = list(rows)
            if hit(path):
                data = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows).encode()
                with open(path, "ab") as f:
                    f.write(data[:max(1, len(data) // 2)])
                    f.flush()
                    _kill()
            return original_append(path, rows)

        _swap(original_append, append_jsonl)
    elif kind == "fsize":
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing us
        resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))
    else:
        raise SystemExit(f"unknown fault {kind!r}")


if __name__ == "__main__":
    kind, n, pattern, sep, *args = sys.argv[1:]
    assert sep == "--"
    install(kind, int(n), pattern)
    from ibench.cli import main

    main(args)
