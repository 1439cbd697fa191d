"""Pairwise judging: for every two runs of a task, per shared (instance, sample), which output is better.

Each pair is asked in both orders (``ab``: run A's image shown first), so position bias can be
measured; the answer may be a tie. Verdicts become ``ibench.core.pairwise.Preference`` records (the
format the rating app's pairwise studies write), naming the model, never the screen position; a failed
verdict becomes no record (it is counted, with its reason, in the verdict log).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Optional

from ibench.core.instance import Instance
from ibench.core.pairwise import Preference
from ibench.core.rundir import Generation, RunStore
from ibench.errors import IbenchError

from .engine import Judge
from .prompts import PAIR_QUESTIONS, Image, Query


@dataclass
class PairRun:
    """A run as pairwise judging sees it: where it is and how tables name its model."""

    path: Path
    label: str

    def __post_init__(self) -> None:
        store = RunStore(self.path)
        manifest = store.manifest()
        self.run_id, self.task = manifest.run_id, manifest.identity.task
        self.root = store.data_root()
        self.instances: dict[str, Instance] = {i.id: i for i in store.instances()}
        self.images: dict[tuple[str, int], Generation] = {g.key: g for g in store.generations() if g.ok}


@dataclass
class PairwiseResult:
    preferences: list[Preference]
    verdicts: list[dict]  # every question with its verdict (failed and pending ones included)
    judge: dict


def _references(run: PairRun, inst: Instance, hasher) -> dict[str, list[Image]]:
    return {r.marker: [Image(p, hasher(p)) for p in map(run.root.resolve, r.images)] for r in inst.instruction.references}


def pair_queries(judge: Judge, runs: list[PairRun], aspect: str, limit: Optional[int] = None) -> list[Query]:
    """Both orders of every shared (instance, sample) of every two runs of the same task."""
    from ..kinds import ReferenceHasher

    if aspect not in PAIR_QUESTIONS:
        raise IbenchError(f"pairwise aspect {aspect!r}: expected one of {', '.join(PAIR_QUESTIONS)}")
    hasher, queries = ReferenceHasher(), []
    for a, b in combinations(runs, 2):
        if a.task != b.task:
            continue
        if a.label == b.label:
            raise IbenchError(f"runs {a.run_id} and {b.run_id} have the same label {a.label!r}: label them apart")
        shared = sorted(set(a.images) & set(b.images))
        ids = sorted({iid for iid, _ in shared} & set(a.instances))[:limit]
        for iid, sample in (k for k in shared if k[0] in ids):
            inst = a.instances[iid]
            refs = _references(a, inst, hasher)
            img = {r.run_id: Image(r.path / r.images[(iid, sample)].image, r.images[(iid, sample)].sha256)
                   for r in (a, b)}
            for order, (first, second) in (("ab", (a, b)), ("ba", (b, a))):
                meta = {"task": a.task, "instance_id": iid, "sample": sample, "order": order, "aspect": aspect,
                        "model_a": a.label, "model_b": b.label, "run_a": a.run_id, "run_b": b.run_id}
                queries.append(judge.builder.pair(inst.instruction, refs, img[first.run_id], img[second.run_id],
                                                  aspect, meta))
    return queries


def preference(meta: dict, winner_shown: str, judge_label: str, reason: str = "") -> Preference:
    """A verdict on screen positions ("1", "2", "tie") as a preference between models A and B."""
    if winner_shown == "tie":
        winner = "tie"
    else:
        first_is_a = meta["order"] == "ab"
        winner = "a" if (winner_shown == "1") == first_is_a else "b"
    fields = {k: meta[k] for k in ("task", "instance_id", "sample", "model_a", "model_b", "run_a", "run_b", "aspect",
                                   "order")}
    return Preference(**fields, winner=winner, judge=judge_label, reason=reason or None)


def judge_pairs(runs: list[PairRun], config=None, aspect: str = "sc", max_calls: Optional[int] = None,
                limit: Optional[int] = None, progress: bool = False) -> PairwiseResult:
    """Ask the judge about every pair; returns preferences, the verdict log and the judge's record."""
    if len(runs) < 2:
        raise IbenchError("pairwise judging needs at least two runs")
    judge = Judge(config, max_calls=max_calls)
    try:
        queries = pair_queries(judge, runs, aspect, limit)
        if not queries:
            raise IbenchError("the runs share no judged (instance, sample) of one task: pair runs of the same task")
        verdicts = judge.ask(queries, progress=progress)
    finally:
        judge.close()
    log, prefs = [], []
    for q in queries:
        record = verdicts[q.key]
        log.append({**q.meta, "key": q.key, **record})
        if record["status"] == "ok":
            prefs.append(preference(q.meta, record["winner"], judge.label, record.get("reasoning", "")))
    return PairwiseResult(prefs, log, judge.record(log))
