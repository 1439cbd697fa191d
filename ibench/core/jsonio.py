"""JSON files written atomically and read strictly: the one place ibench writes its records.

Whole files (manifests, results, baselines, reports) are written to a temp file, fsync'd and
renamed over the target, so a crash leaves the old file or the new one, never a torn one.
JSONL record files are appended durably; a torn last line left by a killed writer is ignored
on read and cut before the next append.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ibench.errors import IbenchError


def json_safe(value: Any) -> Any:
    """JSON-safe copy: NaN and ±inf -> None, numpy scalars -> Python, tuples -> lists, keys -> str."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def is_number(value: Any, integer: bool = False) -> bool:
    """Whether a value read from JSON is a finite number (not a bool); ``integer``: a whole number."""
    kinds = (int,) if integer else (int, float)
    return isinstance(value, kinds) and not isinstance(value, bool) and (integer or math.isfinite(value))


def temp_path(path: Path) -> Path:
    """The temp file ``path`` is written through: ``.<name>.<pid>.tmp`` beside it."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stray_temps(folder: Path) -> int:
    """Delete temp files under ``folder`` left by writers that died (SIGKILL, power loss); returns how many."""
    removed = 0
    for tmp in Path(folder).rglob(".*.tmp"):
        pid = tmp.name[:-len(".tmp")].rpartition(".")[2]
        if tmp.is_file() and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


def replace_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Replace ``path`` whole: ``write(temp path)``, fsync, rename; the temp file never outlives a failure."""
    path = Path(path)
    tmp = temp_path(path)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` whole with ``text``."""
    replace_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def dumps(data: Any) -> str:
    """Strict, stable JSON text (sorted keys, no NaN) of ``json_safe(data)``."""
    return json.dumps(json_safe(data), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, dumps(data))


def write_jsonl_atomic(path: Path, rows: Iterable[dict]) -> None:
    """Replace a JSONL file whole."""
    write_text_atomic(path, "".join(json.dumps(row, sort_keys=True, allow_nan=False) + "\n" for row in rows))


def read_json(path: Path, what: str = "file") -> Any:
    """A JSON document; a missing, unreadable or invalid file is one line naming it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise IbenchError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IbenchError(f"{path}: cannot read the {what} ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise IbenchError(f"{path}: invalid JSON ({exc.msg}, line {exc.lineno})") from None


def read_jsonl(path: Path) -> Iterator[dict]:
    """Lines of a JSONL file; a torn last line (a killed writer) is ignored."""
    if not path.is_file():
        return
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except UnicodeDecodeError:
        raise IbenchError(f"{path}: not UTF-8 text") from None
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if n == len(lines) - 1:  # torn tail: no newline was written after it
                return
            raise IbenchError(f"{path}: line {n + 1} is not valid JSON") from None
        if not isinstance(row, dict):
            raise IbenchError(f"{path}: line {n + 1} is not a JSON object")
        yield row


def append_jsonl(path: Path, rows: Iterable[dict]) -> None:
    """Append rows durably; first cut a torn last line left by a killed writer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        f.seek(0, os.SEEK_END)
        if f.tell():
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.seek(0)
                data = f.read()
                f.truncate(data.rfind(b"\n") + 1)
        f.seek(0, os.SEEK_END)
        for row in rows:
            f.write((json.dumps(row, sort_keys=True) + "\n").encode())
        f.flush()
        os.fsync(f.fileno())
