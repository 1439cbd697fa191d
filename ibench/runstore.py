"""A run on disk: manifest, instances, generation records (append-only) and images.

``runs/<run_id>/manifest.json``      identity (task, model settings, seed, data) and environment
``runs/<run_id>/instances.jsonl``    built instances, one per line
``runs/<run_id>/generations*.jsonl`` one record per (instance, sample); per-process shards merge
``runs/<run_id>/images/<instance_id>/<sample>.png``
``runs/<run_id>/scores/<metric>.jsonl`` and ``results.json`` (written by the scoring stage)

A record is appended only after its image is completely on disk; readers take the last record of a
(instance, sample) key, so a retried failure supersedes the failed record.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from PIL import Image
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import IbenchError
from .instances import Instance
from .paths import DataRoot, sha256_file  # noqa: F401 (sha256_file: re-exported)

MANIFEST, INSTANCES, GENERATIONS = "manifest.json", "instances.jsonl", "generations.jsonl"


class Generation(BaseModel):
    """One generated (or failed) sample."""

    model_config = ConfigDict(extra="forbid")

    instance_id: str
    sample: int
    seed: int
    image: Optional[str] = None  # relative to the run dir
    sha256: Optional[str] = None
    seconds: float = 0.0
    error: Optional[str] = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.instance_id, self.sample)

    @property
    def ok(self) -> bool:
        return self.error is None and self.image is not None


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")
    os.replace(tmp, path)


def write_jsonl_atomic(path: Path, rows: Iterable[dict]) -> None:
    """Replace a JSONL file whole: written to a temp file, fsync'd, then renamed over it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, sort_keys=True, allow_nan=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_jsonl(path: Path) -> Iterator[dict]:
    """Lines of a JSONL file; a torn last line (a killed writer) is ignored."""
    if not path.is_file():
        return
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            if n == len(lines) - 1:  # torn tail: no newline was written after it
                return
            raise IbenchError(f"{path}: line {n + 1} is not valid JSON") from None


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


class RunStore:
    """Reads and appends to one run directory."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    # -- manifest ---------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def manifest(self) -> dict:
        if not self.exists():
            raise IbenchError(f"{self.path} is not an ibench run (no {MANIFEST})")
        try:
            return json.loads(self.manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise IbenchError(f"{self.manifest_path}: invalid JSON ({exc.msg}, line {exc.lineno})") from None

    def data_root(self) -> DataRoot:
        """The data root (and derived dir of control maps) the run's references resolve against."""
        manifest = self.manifest()
        return DataRoot(manifest["data_root"], derived_dir=manifest.get("derived_dir"))

    def create(self, manifest: dict) -> None:
        """Write the manifest of a new run, or check an existing run has the same identity."""
        if self.exists():
            old = self.manifest()
            if old.get("identity") != manifest.get("identity"):
                raise IbenchError(f"{self.path} holds a different run (identity differs); use another --out")
            return
        self.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.manifest_path, manifest)

    # -- instances --------------------------------------------------------------------------
    def instances(self) -> list[Instance]:
        out: dict[str, Instance] = {}
        for row in read_jsonl(self.path / INSTANCES):
            try:
                inst = Instance.model_validate(row)
            except ValidationError as exc:
                raise IbenchError(f"{self.path / INSTANCES}: invalid instance record: {exc.errors()[0]['msg']}") from None
            out.setdefault(inst.id, inst)
        return list(out.values())

    def add_instances(self, instances: list[Instance]) -> None:
        known = {i.id for i in self.instances()}
        new = [i.model_dump(mode="json") for i in instances if i.id not in known]
        if new:
            append_jsonl(self.path / INSTANCES, new)

    # -- generations ------------------------------------------------------------------------
    def generation_files(self) -> list[Path]:
        return sorted(self.path.glob("generations*.jsonl"))

    def generations(self) -> list[Generation]:
        """The last record of each (instance, sample), over the main file and all shards."""
        latest: dict[tuple[str, int], Generation] = {}
        for path in self.generation_files():
            for row in read_jsonl(path):
                rec = Generation.model_validate(row)
                if rec.key not in latest or rec.ok or not latest[rec.key].ok:
                    latest[rec.key] = rec
        return sorted(latest.values(), key=lambda g: g.key)

    def append_generations(self, records: list[Generation], shard: str | None = None) -> None:
        name = GENERATIONS if shard is None else f"generations.{shard}.jsonl"
        append_jsonl(self.path / name, [r.model_dump(mode="json") for r in records])

    def image_rel(self, instance_id: str, sample: int) -> str:
        return f"images/{instance_id}/{sample}.png"

    def save_image(self, image: Image.Image, instance_id: str, sample: int) -> tuple[str, str]:
        """Write an image atomically; returns (relative path, sha256)."""
        rel = self.image_rel(instance_id, sample)
        path = self.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        image.convert("RGB").save(tmp, format="PNG")
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return rel, sha256_file(path)

    @property
    def scores_dir(self) -> Path:
        return self.path / "scores"
