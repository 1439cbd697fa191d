"""Generation stage: build instances, ask a model for images, record them (resumable)."""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from PIL import Image

from ibench import __version__
from ibench.core.instance import Instance
from ibench.core.jsonio import remove_stray_temps
from ibench.core.manifest import Identity, Manifest, ScalingPoint
from ibench.core.paths import DataRoot
from ibench.core.rundir import Generation, RunStore
from ibench.core.taskspec import TaskSpec
from ibench.data.instances import build_instances
from ibench.errors import IbenchError
from ibench.models.base import Failed, ModelAdapter, Request, StopRun, check_capabilities
from ibench.progress import progress as progress_bar

from .options import GenerateOptions

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


def identity(spec: TaskSpec, model: ModelAdapter, seed: int, root: DataRoot,
             instances: list[Instance] | None = None) -> Identity:
    """Only what changes the outputs: not batch size, device, worker count, limit or samples."""
    name = model.name
    if name == ModelAdapter.name:  # a user adapter that kept the default name: its class tells runs apart
        name = f"{type(model).__module__}.{type(model).__qualname__}"
    given = hashlib.sha256(" ".join(i.id for i in instances).encode()).hexdigest()[:16] if instances else None
    return Identity(task=spec.name, task_version=spec.version, spec_hash=spec.spec_hash(), model=name,
                    model_settings=model.settings(), seed=seed, data=data_fingerprint(root), instances=given)


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


@dataclass
class Plan:
    """What a generate call will do: the store, the instances and the samples still to make."""

    store: RunStore
    instances: list[Instance]
    todo: list[tuple[Instance, int]]
    seed: int
    samples: int
    batch_size: int  # requests per model call (the adapter's cap applied)
    lock: ExitStack = field(default_factory=ExitStack, repr=False)  # the run dir's lock, while held


def plan(spec: TaskSpec, model: ModelAdapter, root: DataRoot, opts: GenerateOptions, lock: bool = True) -> Plan:
    """Build (or take the given) instances, open (or create) the run, list the samples not yet made.

    ``lock``: take the run dir's lock (refused in one line while another process writes the run);
    under a launcher only rank 0 takes it, for the whole job."""
    samples = opts.samples or spec.samples
    ident = identity(spec, model, opts.seed, root, opts.instances)
    if opts.instances is None:
        instances = build_instances(spec, root, seed=opts.seed, count=opts.limit)
    else:  # a user's own instance list is part of what the outputs depend on (``identity.instances``)
        instances = opts.instances[:opts.limit] if opts.limit else opts.instances
    check_capabilities(model, {c for i in instances for c in i.instruction.capabilities},
                       any(not i.instruction.references for i in instances), spec.name)
    if root.derived_dir.is_dir():
        remove_stray_temps(root.derived_dir)  # control maps whose writer was killed
    store = RunStore(Path(opts.out) / ident.run_id())
    held = ExitStack()
    try:
        if lock:
            store.path.mkdir(parents=True, exist_ok=True)
            held.enter_context(store.lock())
        store.create(Manifest(run_id=store.path.name, identity=ident, family=spec.family,
                              created=datetime.now(timezone.utc).isoformat(), data_root=str(root.root),
                              derived_dir=str(root.derived_dir), environment=environment(),
                              model_defaults=type(model).default_settings(), scaling=ScalingPoint.of(spec)))
        store.add_instances(instances)
        done = {g.key for g in store.intact_generations()}
    except OSError as exc:
        held.close()
        raise IbenchError(f"--out {opts.out}: cannot write the run directory {store.path} "
                          f"({exc.strerror or exc})") from None
    except BaseException:
        held.close()
        raise
    todo = [(inst, k) for inst in instances for k in range(samples) if (inst.id, k) not in done]
    return Plan(store, instances, todo, opts.seed, samples, opts.batch_for(model.max_batch), held)


def _checked(outcomes, n: int, allow_none: bool = False) -> list:
    """The adapter's outcomes, or a ``Failed`` for each when they are not one image/``Failed`` per request."""
    outcomes = list(outcomes)
    if len(outcomes) != n:
        return [Failed(f"RuntimeError: model returned {len(outcomes)} images for {n} requests")] * n
    bad = [o for o in outcomes if not (isinstance(o, (Image.Image, Failed)) or (allow_none and o is None))]
    if bad:
        return [Failed(f"TypeError: model returned a {type(bad[0]).__name__}, not a PIL image")] * n
    return outcomes


def execute(p: Plan, model: ModelAdapter, root: DataRoot, shard: str | None = None, progress: bool = True) -> dict:
    """Generate the planned samples; a failing batch is recorded per sample, not fatal."""
    counts = {"generated": 0, "failed": 0, "skipped": p.samples * len(p.instances) - len(p.todo)}
    bar = progress_bar(len(p.todo), p.store.path.name, "img", enabled=progress)
    for start in range(0, len(p.todo), p.batch_size):
        chunk = p.todo[start:start + p.batch_size]
        requests = [Request(inst, k, sample_seed(p.seed, inst.id, k), root) for inst, k in chunk]
        t0 = time.perf_counter()
        stop = None
        try:
            outcomes = _checked(model.generate(requests), len(requests))
        except StopRun as exc:  # the adapter ends the run: record what it made, then stop
            outcomes, stop = _checked(exc.outcomes, len(requests), allow_none=True), exc
        except Exception as exc:  # noqa: BLE001 - a model failure is data, recorded per sample
            outcomes = [Failed(f"{type(exc).__name__}: {exc}")] * len(requests)
        seconds = (time.perf_counter() - t0) / len(requests)
        records = []
        try:
            for req, out in zip(requests, outcomes):
                if out is None:
                    continue
                rec = Generation(instance_id=req.instance.id, sample=req.sample, seed=req.seed, seconds=seconds,
                                 error=out.reason if isinstance(out, Failed) else None, meta=req.meta or None)
                if not isinstance(out, Failed):
                    rec.image, rec.sha256 = p.store.save_image(out, req.instance.id, req.sample)
                records.append(rec)
            p.store.append_generations(records, shard=shard)
        except OSError as exc:  # disk full, read-only: stop; every record already written stays
            raise IbenchError(f"{p.store.path}: cannot write ({exc.strerror or exc}); the {counts['generated']} "
                              f"samples made so far are kept: rerun the same command to resume") from None
        failed = sum(r.error is not None for r in records)
        counts["failed"] += failed
        counts["generated"] += len(records) - failed
        bar.update(len(records))
        if stop is not None:
            bar.close()
            raise IbenchError(f"{stop} ({counts['generated']} made in this run; rerun the same command to resume)")
    bar.close()
    return counts


def generate(spec: TaskSpec, model: ModelAdapter, root: DataRoot, opts: GenerateOptions = GenerateOptions(),
             close: bool = True, keep_lock: ExitStack | None = None) -> tuple[RunStore, dict]:
    """Plan and execute a generation run; returns the store and counts. ``close=False`` keeps the
    model loaded for the next task (a suite loads each model once).

    The run dir's lock is held until the end, or handed to ``keep_lock`` (``ibench run`` keeps it
    through scoring). Under ``torchrun`` / ``accelerate launch`` the samples are split over the
    processes, each writes its own record shard and rank 0 merges them at the end (see
    ``ibench.run.distributed``).
    """
    from .distributed import Processes, merge_shards

    procs = Processes()
    p: Plan | None = None
    try:
        p = procs.main_first(lambda: plan(spec, model, root, opts, lock=procs.is_main))
        size = p.batch_size  # split whole batches: the same batches as 1 process
        chunks = procs.split([p.todo[i:i + size] for i in range(0, len(p.todo), size)])
        mine = replace(p, todo=[item for chunk in chunks for item in chunk])
        counts = execute(mine, model, root, shard=procs.shard, progress=opts.progress and procs.is_main)
        counts = {**procs.total(counts), "skipped": p.samples * len(p.instances) - len(p.todo)}
        procs.wait()
        if procs.is_main:
            merge_shards(p.store)
        if keep_lock is not None:
            keep_lock.push(p.lock.pop_all())
    finally:
        if p is not None:
            p.lock.close()
        if close:
            model.close()
    return p.store, counts
