"""Generation over several processes (``torchrun`` / ``accelerate launch``): split, shard, merge.

Under a launcher (``WORLD_SIZE`` > 1) the runner

1. lets rank 0 plan first (build instances and control maps, write the manifest and instances),
   then every other rank plans against what is on disk; a second barrier makes sure all ranks have
   listed the samples still to make before anyone writes, so every rank sees the same list;
2. splits that list with accelerate's ``PartialState.split_between_processes``;
3. has each rank append its records to its own shard ``generations.rank<r>.jsonl``;
4. after a final barrier, rank 0 merges all shards into ``generations.jsonl`` (``merge_shards``).

Seeds derive from (base seed, instance, sample), never from the rank, so the records equal a
1-process run's; a killed run resumes with any number of processes because planning reads every
shard. With one process nothing here touches ``torch.distributed``.
"""

from __future__ import annotations

import os
from typing import Any, Callable, TypeVar

from ibench.core.jsonio import write_jsonl_atomic
from ibench.errors import IbenchError
from ibench.core.rundir import RunLayout, RunStore

T = TypeVar("T")


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Whether this is rank 0 (or the only process), for deciding who prints and scores."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


class Processes:
    """This process's place in a launch; a no-op stand-in when there is only one process."""

    def __init__(self) -> None:
        self.state = None
        if world_size() > 1:
            import torch
            from accelerate import PartialState

            self.state = PartialState(cpu=not torch.cuda.is_available())
        self.rank = self.state.process_index if self.state else 0
        self.count = self.state.num_processes if self.state else 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def shard(self) -> str | None:
        """The record shard this process appends to (None: the main generations.jsonl)."""
        return f"rank{self.rank}" if self.state else None

    def wait(self) -> None:
        if self.state is not None:
            self.state.wait_for_everyone()

    def main_first(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on rank 0, then on the others; if rank 0 fails (a refused run lock, bad input), every
        rank stops with it instead of going on alone. Every rank passes every barrier."""
        if self.state is None:
            return fn()
        from accelerate.utils import broadcast_object_list

        result: Any = None
        error: BaseException | None = None
        if self.is_main:
            try:
                result = fn()
            except Exception as exc:  # noqa: BLE001 - re-raised after the barrier
                error = exc
        self.wait()
        verdict = [None if error is None else f"{type(error).__name__}: {error}"]
        broadcast_object_list(verdict, from_process=0)
        if verdict[0] is not None:
            if error is not None:
                raise error
            raise IbenchError(f"rank 0 stopped ({verdict[0]}); this process stops with it")
        if not self.is_main:
            try:
                result = fn()
            except Exception as exc:  # noqa: BLE001 - re-raised after the barrier
                error = exc
        self.wait()
        if error is not None:
            raise error
        return result

    def split(self, items: list[T]) -> list[T]:
        """This process's contiguous share of ``items`` (the same split on every rank)."""
        if self.state is None:
            return list(items)
        with self.state.split_between_processes(list(items)) as part:
            return list(part)

    def total(self, counts: dict[str, int]) -> dict[str, int]:
        """Counts summed over all processes (every rank gets the totals)."""
        if self.state is None:
            return counts
        from accelerate.utils import gather_object

        everyone = gather_object([counts])
        return {k: sum(c.get(k, 0) for c in everyone) for k in counts}


def merge_shards(store: RunStore) -> int:
    """Consolidate ``generations.*.jsonl`` shards into ``generations.jsonl``, one record per key.

    Idempotent and crash-safe: the merged file replaces the old one atomically before the shards
    are removed, and readers merge shards anyway, so a merge cut short loses nothing. Returns the
    number of shards merged (0: nothing to do, nothing rewritten).
    """
    shards = [p for p in store.generation_files() if p.name != RunLayout.GENERATIONS]
    if not shards:
        return 0
    records = store.generations()
    write_jsonl_atomic(store.path / RunLayout.GENERATIONS, [rec.model_dump(mode="json") for rec in records])
    for path in shards:
        path.unlink(missing_ok=True)
    return len(shards)
