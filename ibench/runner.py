"""Generation stage: build instances, ask a model for images, record them (resumable)."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from . import __version__
from .errors import IbenchError
from .instances import Instance, build_instances
from .models.base import ModelAdapter, Request
from .paths import DataRoot
from .runstore import Generation, RunStore
from .taskspec import TaskSpec

PACKAGES = ("torch", "diffusers", "transformers", "open_clip_torch", "clean-fid", "accelerate", "numpy", "pillow")


def sample_seed(base: int, instance_id: str, sample: int) -> int:
    """Seed of one sample: depends only on (base seed, instance, sample), not on batching or GPUs."""
    digest = hashlib.sha256(f"{base}:{instance_id}:{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def data_fingerprint(root: DataRoot) -> str:
    """Hash of the data root's source files (relative path and size): synthetic != real data."""
    h = hashlib.sha256()
    for folder in ("dreambench", "styles", "content"):
        for p in sorted((root.root / folder).rglob("*")):
            if p.is_file():
                h.update(f"{p.relative_to(root.root).as_posix()}:{p.stat().st_size}\n".encode())
    return h.hexdigest()[:16]


def identity(spec: TaskSpec, model: ModelAdapter, seed: int, root: DataRoot) -> dict:
    """Only what changes the outputs: not batch size, device, worker count, limit or samples."""
    name = model.name
    if name == ModelAdapter.name:  # a user adapter that kept the default name: its class tells runs apart
        name = f"{type(model).__module__}.{type(model).__qualname__}"
    return {"task": spec.name, "task_version": spec.version, "spec_hash": spec.spec_hash(),
            "model": name, "model_settings": model.settings(), "seed": seed,
            "data": data_fingerprint(root)}


def run_id(ident: dict) -> str:
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"{ident['task']}-{ident['model']}-{digest}".replace(":", "_").replace("/", "_")


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {"ibench": __version__, "python": platform.python_version(), "packages": versions,
            "git_commit": _git_commit(), "argv": sys.argv}


def refuse_text_only(model: str, task: str) -> IbenchError:
    return IbenchError(f"model {model!r} returns a reference image, and task {task!r} has instances without "
                       f"references (text only): it has nothing to return; use it on tasks with references")


def check_capabilities(model: ModelAdapter, instances: list[Instance], task: str) -> None:
    if model.needs_references and any(not i.instruction.references for i in instances):
        raise refuse_text_only(model.name, task)
    lacking = sorted(set().union(*(model.missing(i) for i in instances))) if instances else []
    if lacking:
        raise IbenchError(f"model {model.name!r} cannot use the {', '.join(lacking)} references that task {task!r} "
                          f"needs (it supports: {', '.join(sorted(model.capabilities)) or 'text only'})")


@dataclass
class Plan:
    """What a generate call will do: the store, the instances and the samples still to make."""

    store: RunStore
    instances: list[Instance]
    todo: list[tuple[Instance, int]]
    seed: int
    samples: int


def plan(spec: TaskSpec, model: ModelAdapter, root: DataRoot, out: Path, limit: int | None = None,
         samples: int | None = None, seed: int = 0, instances: list[Instance] | None = None) -> Plan:
    """Build (or take the given) instances, open (or create) the run, list the samples not yet made."""
    samples = samples or spec.samples
    ident = identity(spec, model, seed, root)
    if instances is None:
        instances = build_instances(spec, root, seed=seed, count=limit)
    else:  # a user's own instance list is part of what the outputs depend on
        ident["instances"] = hashlib.sha256(" ".join(i.id for i in instances).encode()).hexdigest()[:16]
        instances = instances[:limit] if limit else instances
    check_capabilities(model, instances, spec.name)
    store = RunStore(Path(out) / run_id(ident))
    try:
        store.create({"run_id": store.path.name, "identity": ident, "family": spec.family,
                      "created": datetime.now(timezone.utc).isoformat(),
                      "data_root": str(root.root), "derived_dir": str(root.derived_dir),
                      "environment": environment()})
        store.add_instances(instances)
    except OSError as exc:
        raise IbenchError(f"--out {out}: cannot write the run directory {store.path} ({exc.strerror or exc})") from None
    done = {g.key for g in store.generations() if g.ok}
    todo = [(inst, k) for inst in instances for k in range(samples) if (inst.id, k) not in done]
    return Plan(store, instances, todo, seed, samples)


def execute(p: Plan, model: ModelAdapter, root: DataRoot, batch_size: int = 1, shard: str | None = None,
            progress: bool = True) -> dict:
    """Generate the planned samples; a failing batch is recorded per sample, not fatal."""
    counts = {"generated": 0, "failed": 0, "skipped": p.samples * len(p.instances) - len(p.todo)}
    batch_size = min(batch_size, model.max_batch or batch_size)
    bar = tqdm(total=len(p.todo), desc=p.store.path.name, unit="img", disable=not progress, dynamic_ncols=True)
    for start in range(0, len(p.todo), batch_size):
        chunk = p.todo[start:start + batch_size]
        requests = [Request(inst, k, sample_seed(p.seed, inst.id, k), root) for inst, k in chunk]
        t0 = time.perf_counter()
        try:
            images = list(model.generate(requests))
            if len(images) != len(requests):
                raise RuntimeError(f"model returned {len(images)} images for {len(requests)} requests")
            if not all(isinstance(im, Image.Image) for im in images):
                bad = next(type(im).__name__ for im in images if not isinstance(im, Image.Image))
                raise TypeError(f"model returned a {bad}, not a PIL image")
            error = None
        except Exception as exc:  # noqa: BLE001 - a model failure is data, recorded per sample
            images, error = [None] * len(requests), f"{type(exc).__name__}: {exc}"
        seconds = (time.perf_counter() - t0) / len(requests)
        records = []
        try:
            for req, image in zip(requests, images):
                rec = Generation(instance_id=req.instance.id, sample=req.sample, seed=req.seed, seconds=seconds,
                                 error=error)
                if image is not None:
                    rec.image, rec.sha256 = p.store.save_image(image, req.instance.id, req.sample)
                records.append(rec)
            p.store.append_generations(records, shard=shard)
        except OSError as exc:  # disk full, read-only: stop; every record already written stays
            raise IbenchError(f"{p.store.path}: cannot write ({exc.strerror or exc}); the {counts['generated']} "
                              f"samples made so far are kept: rerun the same command to resume") from None
        counts["failed" if error else "generated"] += len(records)
        bar.update(len(records))
    bar.close()
    return counts


def generate(spec: TaskSpec, model: ModelAdapter, root: DataRoot, out: Path, limit: int | None = None,
             samples: int | None = None, seed: int = 0, batch_size: int = 1, progress: bool = True,
             instances: list[Instance] | None = None) -> tuple[RunStore, dict]:
    """Plan and execute a generation run; returns the store and counts.

    Under ``torchrun`` / ``accelerate launch`` the samples are split over the processes, each writes
    its own record shard and rank 0 merges them at the end (see ``ibench.distributed``).
    """
    from .distributed import Processes, merge_shards

    procs = Processes()
    try:
        p = procs.main_first(lambda: plan(spec, model, root, out, limit, samples, seed, instances))
        size = min(batch_size, model.max_batch or batch_size)  # split whole batches: the same batches as 1 process
        chunks = procs.split([p.todo[i:i + size] for i in range(0, len(p.todo), size)])
        mine = replace(p, todo=[item for chunk in chunks for item in chunk])
        counts = execute(mine, model, root, batch_size=batch_size, shard=procs.shard,
                         progress=progress and procs.is_main)
        counts = {**procs.total(counts), "skipped": p.samples * len(p.instances) - len(p.todo)}
        procs.wait()
        if procs.is_main:
            merge_shards(p.store)
    finally:
        model.close()
    return p.store, counts
