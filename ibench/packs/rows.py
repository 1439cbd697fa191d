"""Reading a dataset snapshot in its on-hub format, and turning rows into ibench instances.

The hub stores a ``datasets`` dataset as parquet shards (``data/<split>-00000-of-0000N[-hash].parquet``,
``push_to_hub``) or as Arrow stream files (``<split>/data-00000-of-0000N.arrow``, ``save_to_disk``); an
``Image`` column is a struct ``{bytes, path}`` in both. Rows are read a batch at a time (shards are
hundreds of MB of image bytes). Reference images are written under ``<root>/packs/<pack>/`` with their
original bytes (never re-encoded), each decoded once to check it.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from ibench.core.images import open_image
from ibench.core.instance import SAFE_ID, Instance
from ibench.core.instruction import Instruction, Reference
from ibench.errors import IbenchError

#: Folder of a data root that holds the packs' reference images.
PACKS_DIR = "packs"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_EXT = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "BMP": "bmp", "GIF": "gif", "TIFF": "tif"}


@dataclass
class Converted:
    """What a conversion made: the instances, and every row it could not use with the reason."""

    instances: list[Instance] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (row key, why)


def split_files(snapshot: Path, split: str) -> list[Path]:
    """The snapshot's data files of ``split``, sorted; one line naming what is there when none match."""
    snapshot = Path(snapshot)
    found = []
    for path in sorted(snapshot.rglob("*")):
        if path.suffix not in (".parquet", ".arrow") or not path.is_file():
            continue
        if path.name.startswith((f"{split}-", f"{split}.")) or path.parent.name == split:
            found.append(path)
    if not found:
        have = sorted(p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.suffix in (".parquet", ".arrow"))
        raise IbenchError(f"{snapshot}: no parquet or arrow file of split {split!r} (data files: "
                          f"{', '.join(have[:6]) or 'none'})")
    return found


def read_rows(files: Iterable[Path], columns: tuple[str, ...], batch: int = 16, text: tuple[str, ...] = (),
              skipped: Optional[list] = None) -> Iterator[dict]:
    """Rows of parquet or Arrow-stream files, ``batch`` rows at a time; a missing column is one line. A row
    whose ``text`` field is null or blank goes to ``skipped`` (``(row, reason)``), or is one line without it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for path in files:
        try:
            if path.suffix == ".parquet":
                reader = pq.ParquetFile(path)
                names = reader.schema_arrow.names
            else:
                stream = _open_arrow(path)
                names = stream.schema.names
            missing = [c for c in columns if c not in names]
            if missing:
                raise IbenchError(f"{path}: no column {missing[0]!r} (columns: {', '.join(names)})")
            # parquet reads only the columns used (the unused image columns are most of a shard's bytes)
            batches = reader.iter_batches(batch_size=batch, columns=list(columns)) if path.suffix == ".parquet" \
                else iter(stream)
            number = 0
            for record_batch in batches:
                for row in record_batch.select(list(columns)).to_pylist():
                    number += 1
                    blank = next((c for c in text if not str(row[c] if row[c] is not None else "").strip()), None)
                    if blank is None:
                        yield row
                    elif skipped is None:
                        raise IbenchError(f"{path} row {number}: field {blank!r} is empty")
                    else:
                        skipped.append((f"{path.name} row {number}", f"field {blank!r} is empty"))
        except (pa.ArrowInvalid, OSError) as exc:
            raise IbenchError(f"{path}: not a readable {path.suffix[1:]} file ({exc})") from None


def _open_arrow(path: Path):
    """An Arrow file as ``datasets`` writes it (the stream format), or the random-access file format."""
    import pyarrow as pa

    try:
        return pa.ipc.open_stream(pa.memory_map(str(path)))
    except pa.ArrowInvalid:
        return pa.ipc.open_file(pa.memory_map(str(path)))


def image_bytes(cell: Any, where: str) -> bytes:
    """The bytes of a ``datasets`` Image cell (``{bytes, path}``)."""
    data = cell.get("bytes") if isinstance(cell, dict) else None
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise IbenchError(f"{where}: the image cell holds no bytes (an image stored by path only is not supported)")
    return bytes(data)


def save_image(data: bytes, root: Path, stem: str, where: str) -> str:
    """Write ``data`` as ``<root>/<stem>.<ext>`` (ext from the decoded format) unless the same bytes are
    there; return the path relative to ``root``. A file that does not decode is refused in one line."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            kind = im.format
    except (UnidentifiedImageError, OSError):
        raise IbenchError(f"{where}: the image bytes do not decode") from None
    rel = f"{stem}.{_EXT.get(kind or '', 'img')}"
    path = Path(root) / rel
    if not (path.is_file() and path.read_bytes() == data):
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        part.write_bytes(data)
        os.replace(part, path)
    open_image(path, what=f"{where}: image")  # decodes whole; refuses a decompression bomb
    return rel


def safe_key(*parts: object) -> str:
    """An id part from anchor keys: unsafe characters become ``_``; a changed or long key gets a hash."""
    raw = "-".join(str(p) for p in parts)
    key = _UNSAFE.sub("_", raw)
    if key != raw or len(key) > 96:
        key = f"{key[:86]}-{hashlib.sha1(raw.encode()).hexdigest()[:8]}"
    return key


def bind(text: str, name: str, marker: str) -> tuple[str, bool]:
    """``text`` with the first mention of ``name`` replaced by ``[marker]`` (exact case first)."""
    if name:
        at = text.find(name)
        if at < 0:
            at = text.lower().find(name.lower())
        if at >= 0:
            return f"{text[:at]}[{marker}]{text[at + len(name):]}", True
    return text, False


def instance(pack_task: str, family: str, key: str, text: str, references: list[Reference],
             target_prompt: str, checklist: list[str], meta: dict) -> Instance:
    """A pack instance; its id is ``<task>-<key>`` (keys come from the anchor, so ids are stable)."""
    ident = f"{pack_task}-{key}"
    if not SAFE_ID.match(ident):
        raise IbenchError(f"{pack_task}: row key {key!r} does not make a safe instance id")
    try:
        instruction = Instruction(text=text, references=references, target_prompt=target_prompt)
    except ValueError as exc:
        raise IbenchError(f"{pack_task} row {key}: {exc}") from None
    return Instance(id=ident, task=pack_task, task_version=1, family=family, instruction=instruction,
                    checklist=checklist, meta=meta)
