"""A run directory: its layout (named here once), manifest, instances, generation records and images.

``runs/<run_id>/manifest.json``      identity (what the outputs depend on) and provenance
``runs/<run_id>/instances.jsonl``    built instances, one per line
``runs/<run_id>/generations*.jsonl`` one record per (instance, sample); per-process shards merge
``runs/<run_id>/images/<instance_id>/<sample>.png``
``runs/<run_id>/scores/<metric>.jsonl`` and ``scores/<metric>.json`` (written by the scoring stage)
``runs/<run_id>/results.json``       aggregates (written by the scoring stage)
``runs/<run_id>/judge/<sc|pq>.jsonl`` every verdict of the VLM judge, failed ones included (scoring stage)

A record is appended only after its image is completely on disk; readers take the last record of a
(instance, sample) key, so a retried failure supersedes the failed record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from PIL import Image
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from ibench.errors import IbenchError

from .instance import SAFE_ID, Instance
from .jsonio import append_jsonl, read_json, read_jsonl, remove_stray_temps, replace_atomic, write_json_atomic
from .manifest import Manifest
from .paths import DataRoot, sha256_file
from .yamlio import describe


class RunLayout:
    """File names inside a run directory; every stage spells them through this class."""

    MANIFEST = "manifest.json"
    INSTANCES = "instances.jsonl"
    GENERATIONS = "generations.jsonl"
    GENERATION_SHARDS = "generations*.jsonl"
    RESULTS = "results.json"
    SCORES = "scores"
    IMAGES = "images"
    JUDGE = "judge"  # judge/<sc|pq>.jsonl: one verdict per question
    PACK_RESULTS = "pack.json"  # a benchmark pack's table per judge (``ibench.evaluators.pack_results``)
    PACK_VERDICTS = "pack"  # pack/<judge id>.jsonl: one verdict per question of a benchmark's own judge protocol
    LOCK = ".ibench.lock"  # held by the process that writes the run (``RunStore.lock``)

    @staticmethod
    def shard(name: str) -> str:
        return f"generations.{name}.jsonl"

    @staticmethod
    def image(instance_id: str, sample: int) -> str:
        return f"images/{instance_id}/{sample}.png"

    @staticmethod
    def score_rows(metric: str) -> str:
        return f"scores/{metric}.jsonl"

    @staticmethod
    def score_set(metric: str) -> str:
        return f"scores/{metric}.json"


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
    meta: Optional[dict[str, Any]] = None  # what the adapter recorded (rendered prompt, image map, provider notes)

    @model_validator(mode="after")
    def _image_in_place(self) -> "Generation":
        if not SAFE_ID.match(self.instance_id):
            raise ValueError(f"instance_id {self.instance_id!r} is not a safe id")
        if self.sample < 0:
            raise ValueError(f"sample {self.sample} is negative")
        if self.image is not None and self.image != RunLayout.image(self.instance_id, self.sample):
            raise ValueError(f"image {self.image!r} is not {RunLayout.image(self.instance_id, self.sample)!r}")
        return self

    @property
    def key(self) -> tuple[str, int]:
        return (self.instance_id, self.sample)

    @property
    def ok(self) -> bool:
        return self.error is None and self.image is not None


class RunStore:
    """Reads and appends to one run directory."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    # -- manifest ---------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.path / RunLayout.MANIFEST

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def manifest(self) -> Manifest:
        """The typed manifest; a missing or malformed one is one line naming the file and field."""
        if not self.exists():
            raise IbenchError(f"{self.path} is not an ibench run (no {RunLayout.MANIFEST})")
        return Manifest.parse(read_json(self.manifest_path, "manifest"), str(self.manifest_path))

    def data_root(self) -> DataRoot:
        """The data root (and derived dir of control maps) the run's references resolve against."""
        manifest = self.manifest()
        return DataRoot(manifest.data_root, derived_dir=manifest.derived_dir)

    def create(self, manifest: Manifest) -> None:
        """Write the manifest of a new run, or check an existing run has the same identity."""
        if self.exists():
            if self.manifest().identity != manifest.identity:
                raise IbenchError(f"{self.path} holds a different run (identity differs); use another --out")
            return
        self.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.manifest_path, manifest.as_dict())

    # -- instances --------------------------------------------------------------------------
    def instances(self) -> list[Instance]:
        out: dict[str, Instance] = {}
        path = self.path / RunLayout.INSTANCES
        for n, row in enumerate(read_jsonl(path), 1):
            try:
                inst = Instance.model_validate(row)
            except ValidationError as exc:
                raise IbenchError(f"{path}: record {n}: {describe(exc)}") from None
            out.setdefault(inst.id, inst)
        return list(out.values())

    def add_instances(self, instances: list[Instance]) -> None:
        known = {i.id for i in self.instances()}
        new = [i.model_dump(mode="json") for i in instances if i.id not in known]
        if new:
            append_jsonl(self.path / RunLayout.INSTANCES, new)

    # -- generations ------------------------------------------------------------------------
    def generation_files(self) -> list[Path]:
        return sorted(self.path.glob(RunLayout.GENERATION_SHARDS))

    def generations(self) -> list[Generation]:
        """The last record of each (instance, sample), over the main file and all shards."""
        latest: dict[tuple[str, int], Generation] = {}
        for path in self.generation_files():
            for n, row in enumerate(read_jsonl(path), 1):
                try:
                    rec = Generation.model_validate(row)
                except ValidationError as exc:
                    raise IbenchError(f"{path}: record {n}: {describe(exc)}") from None
                if rec.key not in latest or rec.ok or not latest[rec.key].ok:
                    latest[rec.key] = rec
        return sorted(latest.values(), key=lambda g: g.key)

    def intact(self, gen: Generation) -> bool:
        """Whether a successful generation's image is on disk with the SHA-256 its record holds."""
        path = self.path / str(gen.image)
        return gen.ok and path.is_file() and sha256_file(path) == gen.sha256

    def intact_generations(self) -> list[Generation]:
        """The successful generations whose images are intact (a resume makes the others again)."""
        return [g for g in self.generations() if self.intact(g)]

    def append_generations(self, records: list[Generation], shard: str | None = None) -> None:
        name = RunLayout.GENERATIONS if shard is None else RunLayout.shard(shard)
        append_jsonl(self.path / name, [r.model_dump(mode="json", exclude=None if r.meta else {"meta"}) for r in records])

    def save_image(self, image: Image.Image, instance_id: str, sample: int) -> tuple[str, str]:
        """Write an image atomically; returns (relative path, sha256)."""
        rel = RunLayout.image(instance_id, sample)
        path = self.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_atomic(path, lambda tmp: image.convert("RGB").save(tmp, format="PNG"))
        return rel, sha256_file(path)

    def lock(self, what: str = "run"):
        """Hold this run's lock (refused, in one line, while another process holds it); on taking it,
        delete temp files left by writers that were killed."""
        from contextlib import ExitStack

        from .locks import hold

        stack = ExitStack()
        stack.enter_context(hold(self.path / RunLayout.LOCK, f"{what} {self.path}", wait=False))
        remove_stray_temps(self.path)
        return stack

    @property
    def scores_dir(self) -> Path:
        return self.path / RunLayout.SCORES

    @property
    def results_path(self) -> Path:
        return self.path / RunLayout.RESULTS
