"""Generation over 2 CPU processes (accelerate's debug launcher: fork + gloo, fixed port 29500).

The 2-process run must produce exactly the records of a 1-process run; a run whose second process
is killed resumes with a different number of processes; merging shards is idempotent.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ibench.run.distributed import merge_shards
from ibench.models import get_model
from ibench.core.paths import DataRoot
from ibench.core.registry import get_task
from ibench.run import GenerateOptions, generate
from ibench.core.rundir import RunLayout, RunStore
from crash_checks import HOLD
from tiny_pipelines import tiny_composite_config

torch.set_num_threads(1)
TASK, LIMIT, SAMPLES = "style_subject_control", 3, 2


@pytest.fixture(scope="session")
def tiny_cfg(tmp_path_factory) -> dict:
    return tiny_composite_config(tmp_path_factory.getbasetemp() / "tiny-weights")


def _generate(cfg: dict, data: Path, derived: Path, out: Path, model=None) -> RunStore:
    model = model or get_model("sd-composite", **cfg)
    store, _ = generate(get_task(TASK), model, DataRoot(data, derived_dir=derived), GenerateOptions(out=out, limit=LIMIT, samples=SAMPLES,
                        batch_size=2, progress=False))
    return store


def _worker(cfg: dict, data: Path, derived: Path, out: Path, die_on_rank: int | None = None) -> None:
    """One launched process: the same call a 1-process run makes; optionally die after one batch."""
    torch.set_num_threads(1)
    model = get_model("sd-composite", **cfg)
    if die_on_rank is not None:
        inner = model.generate

        def generate_then_die(batch):
            if torch.distributed.get_rank() == die_on_rank and getattr(model, "_batches", 0) >= 1:
                os._exit(9)  # like SIGKILL: no cleanup, no barrier
            model._batches = getattr(model, "_batches", 0) + 1
            return inner(batch)

        model.generate = generate_then_die
    _generate(cfg, data, derived, out, model)


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    """Same CPU thread count as the 1-process run: accelerate would otherwise set cores/processes
    threads per process, and CPU kernels sum in a thread-count-dependent order (last-bit changes)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def _launch(*args) -> None:
    from accelerate import debug_launcher

    debug_launcher(_worker, args=args, num_processes=2)


def _records(store: RunStore) -> dict:
    return {g.key: (g.seed, g.image, g.sha256, g.error) for g in store.generations()}


@pytest.fixture(scope="module")
def reference(tiny_cfg, shared_data, tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("ref")
    store = _generate(tiny_cfg, shared_data, tmp / "derived", tmp / "runs")
    recs = _records(store)
    assert len(recs) == LIMIT * SAMPLES and all(r[3] is None for r in recs.values())
    return recs


def test_two_processes_make_exactly_the_one_process_records(reference, tiny_cfg, shared_data, tmp_path):
    out = tmp_path / "runs"
    _launch(tiny_cfg, shared_data, tmp_path / "derived", out)
    (run_dir,) = out.iterdir()
    store = RunStore(run_dir)
    assert _records(store) == reference
    assert [p.name for p in store.generation_files()] == [RunLayout.GENERATIONS]  # shards merged by rank 0
    assert len((run_dir / RunLayout.GENERATIONS).read_text().splitlines()) == LIMIT * SAMPLES


def test_resume_after_a_process_is_killed(reference, tiny_cfg, shared_data, tmp_path):
    out = tmp_path / "runs"
    with pytest.raises(Exception, match="exit"):  # the launcher reports the killed process, stops the other
        _launch(tiny_cfg, shared_data, tmp_path / "derived", out, 0)  # rank 0: no merge ever happens
    (run_dir,) = out.iterdir()
    store = RunStore(run_dir)
    partial = {k for k, r in _records(store).items() if r[3] is None}
    assert 0 < len(partial) < LIMIT * SAMPLES
    assert any(p.name.startswith("generations.rank") for p in store.generation_files())
    # resume with ONE process: only the missing samples are made, and the result equals a clean run
    model = get_model("sd-composite", **tiny_cfg)
    store2, counts = generate(get_task(TASK), model, DataRoot(shared_data, derived_dir=tmp_path / "derived"), GenerateOptions(out=out,
                              limit=LIMIT, samples=SAMPLES, batch_size=2, progress=False))
    assert counts["skipped"] == len(partial) and counts["generated"] == LIMIT * SAMPLES - len(partial)
    assert _records(store2) == reference
    assert [p.name for p in store2.generation_files()] == [RunLayout.GENERATIONS]
    text = (run_dir / RunLayout.GENERATIONS).read_text()
    assert merge_shards(store2) == 0 and (run_dir / RunLayout.GENERATIONS).read_text() == text  # idempotent


def test_a_refused_run_lock_stops_every_process(reference, tiny_cfg, shared_data, tmp_path):
    """Rank 0 cannot take the run dir's lock (another job holds it): rank 1 must not generate alone."""
    from ibench.run.runner import identity

    out = tmp_path / "runs"
    run_id = identity(get_task(TASK), get_model("sd-composite", **tiny_cfg), 0, DataRoot(shared_data)).run_id()
    lock = out / run_id / RunLayout.LOCK
    lock.parent.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(Exception):
            _launch(tiny_cfg, shared_data, tmp_path / "derived", out)
    finally:
        holder.kill()
        holder.wait()
    assert sorted(p.name for p in (out / run_id).iterdir()) == [RunLayout.LOCK]  # nothing generated, no shard


def test_merge_consolidates_duplicates(tmp_path):
    from ibench.core.rundir import Generation

    store = RunStore(tmp_path)
    ok = Generation(instance_id="a", sample=0, seed=1, image="images/a/0.png", sha256="x")
    store.append_generations([Generation(instance_id="a", sample=0, seed=1, error="boom")])
    store.append_generations([ok], shard="rank0")
    store.append_generations([ok, Generation(instance_id="b", sample=0, seed=2, image="images/b/0.png", sha256="y")], shard="rank1")
    assert merge_shards(store) == 2
    lines = (tmp_path / RunLayout.GENERATIONS).read_text().splitlines()
    assert len(lines) == 2 and [g.key for g in store.generations()] == [("a", 0), ("b", 0)]
    assert store.generations()[0].ok
    assert merge_shards(store) == 0 and (tmp_path / RunLayout.GENERATIONS).read_text().splitlines() == lines
