"""Scoring a pack run: the benchmark's own judge protocol (``judging``), its aggregation, bootstrap CIs,
failures and coverage, written to the run's ``pack.json`` (``ibench.evaluators.pack_results``).

Every judge that scores a run adds (or replaces) its own entry, so the benchmark's official judge and an
open one sit side by side. The CIs are percentile intervals of the anchor's own formula over bootstrap
replicates that redraw the judged samples *within* each group the anchor averages over (task type,
category, language: ``Pack.strata``), so a mean of group means keeps its groups; a sample drawn twice is
relabelled (``Pack.unit``) so that aggregations keyed by sample count it twice.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ibench.core.jsonio import read_jsonl, write_jsonl_atomic
from ibench.core.rundir import RunLayout, RunStore
from ibench.errors import IbenchError

from . import judges
from .judging import JUDGED_SAMPLE, Asker, Output, anchor_texts, records
from .registry import PACKS
from .spec import Pack

RESAMPLES = 1000
CONFIDENCE = 0.95


def pack_of_task(task: str) -> tuple[Pack, Optional[str]]:
    """The pack (and subset) a run's task name belongs to; a run not made from a pack is one line."""
    for pack in PACKS.values():
        if task == pack.task and not pack.subsets:
            return pack, None
        for subset in pack.subsets:
            if task == f"{pack.task}_{subset}":
                return pack, subset
    raise IbenchError(f"task {task!r} is not a benchmark pack's (packs: {', '.join(PACKS)}; `ibench run --pack`)")


def bootstrap(pack: Pack, recs: list[dict], names: list[str], resamples: int = RESAMPLES,
              seed: int = 0) -> dict[str, tuple[Optional[float], Optional[float]]]:
    """Percentile CI of each headline number, redrawing samples within the anchor's groups."""
    units: dict[tuple, dict[str, list[dict]]] = {}
    for r in recs:
        units.setdefault(tuple(r[f] for f in pack.strata), {}).setdefault(r["instance_id"], []).append(r)
    groups = [list(g.values()) for _, g in sorted(units.items())]
    if resamples <= 0 or not groups or all(len(g) < 2 for g in groups):
        return {n: (None, None) for n in names}
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(resamples):
        sample: list[dict] = []
        for g in groups:
            for k, pick in enumerate(rng.integers(0, len(g), len(g))):
                sample += [{**r, pack.unit: f"{r[pack.unit]}#{k}"} for r in g[pick]]
        values, _ = pack.headlines(sample)
        for n in names:
            if values.get(n) is not None:
                draws[n].append(values[n])
    alpha = (1 - CONFIDENCE) / 2
    return {n: ((float(np.quantile(d, alpha)), float(np.quantile(d, 1 - alpha))) if len(d) == resamples else (None, None))
            for n, d in draws.items()}


def _counts(logged: list[dict]) -> dict:
    status = Counter(r["status"] for r in logged)
    fresh = [c for r in logged if not r.get("cached") for c in r["calls"]]
    return {"questions": len(logged), "ok": status["ok"], "failed": status["failed"], "pending": status["pending"],
            "failures": dict(sorted(Counter(r["failure"] for r in logged if r["status"] == "failed").items())),
            "cached": sum(bool(r.get("cached")) for r in logged), "calls": len(fresh),
            "prompt_tokens": sum(c["prompt_tokens"] for c in fresh),
            "completion_tokens": sum(c["completion_tokens"] for c in fresh)}


def _keep_earlier_verdicts(verdicts: dict[str, dict], log: Path) -> dict[str, dict]:
    """What an earlier scoring of the run logged stays where this one did worse: a question not asked now (the
    call budget) keeps its earlier verdict, a failed one its earlier answer. E.g. rescoring on a machine whose
    verdict cache is empty never replaces what was paid for by a failure or a blank."""
    earlier = {r.pop("key"): r for r in read_jsonl(log) if r.get("key") in verdicts and r.get("status") != "pending"}
    keep = {k for k, v in verdicts.items() if k in earlier and (
        v["status"] == "pending" or (v["status"] == "failed" and earlier[k]["status"] == "ok"))}
    return {k: {**earlier[k], "cached": True} if k in keep else v for k, v in verdicts.items()}


def _coverage(instances: list, gens: dict, logged: list[dict]):
    """Planned: each instance's judged sample. Scored: every verdict of it ok; failed: a verdict failed (its
    kind) or the generation failed; missing: not generated, or not asked (the call budget)."""
    from ibench.evaluators.coverage import measure

    per: dict[tuple[str, int], list[dict]] = {}
    for r in logged:
        per.setdefault((r["instance_id"], r["sample"]), []).append(r)
    scored = {k for k, rs in per.items() if all(r["status"] == "ok" for r in rs)}
    failed = {k: f"judge: {sorted(r['failure'] for r in rs if r['status'] == 'failed')[0]}" for k, rs in per.items()
              if any(r["status"] == "failed" for r in rs)}
    missing = {k: "judge: not asked (--judge-max-calls)" for k, rs in per.items() if k not in failed and k not in scored}
    return measure({i.id: 1 for i in instances}, {k: g.ok for k, g in gens.items()}, scored, failed, missing)


def score_pack_run(run_dir: Union[str, Path], judge_config=None, max_calls: Optional[int] = None,
                   resamples: int = RESAMPLES, seed: int = 0, progress: bool = True,
                   base_url: Optional[str] = None):
    """Judge a pack run with ``judge_config`` (``anchor``: the benchmark's own judge) as the benchmark's code
    does, aggregate as it does, and add this judge's entry to the run's ``pack.json``; returns the results.
    The prompt files come from their pinned URLs, or from ``base_url`` / ``$IBENCH_MIRROR`` (a mirror of
    raw.githubusercontent.com, as ``ibench data fetch --base-url``)."""
    from ibench.evaluators.judge.engine import Judge
    from ibench.evaluators.pack_results import (PackEstimate, PackJudgeResult, PackResults, PublishedRow,
                                                load_pack_results, write_pack_results)

    store = RunStore(run_dir)
    manifest = store.manifest()
    pack, subset = pack_of_task(manifest.identity.task)
    config, official = judges.judge_config(pack, judge_config)
    texts = anchor_texts(pack, base_url or os.environ.get("IBENCH_MIRROR"))  # a missing or changed prompt file stops here
    with store.lock("run"):
        instances = store.instances()
        gens = {g.key: g for g in store.generations() if g.sample == JUDGED_SAMPLE}
        outputs = []
        for inst in instances:
            g = gens.get((inst.id, JUDGED_SAMPLE))
            if g is not None and g.ok:
                if not store.intact(g):
                    raise IbenchError(f"{store.path / str(g.image)} is missing or changed since it was generated: "
                                      f"rerun the generating command to make it again")
                outputs.append(Output(inst, JUDGED_SAMPLE, store.path / str(g.image), str(g.sha256)))
        judge = Judge(config, max_calls=max_calls)
        try:
            queries = Asker(pack, judge.id, store.data_root(), texts, seed).questions(outputs)
            verdicts = judge.ask(queries, progress=progress)
        finally:
            judge.close()
        folder = store.path / RunLayout.PACK_VERDICTS
        verdicts = _keep_earlier_verdicts(verdicts, folder / f"{judge.id}.jsonl")
        logged = [{**q.meta, "key": q.key, **verdicts[q.key]} for q in queries]
        folder.mkdir(parents=True, exist_ok=True)
        write_jsonl_atomic(folder / f"{judge.id}.jsonl", logged)
        by_id = {i.id: i for i in instances}
        recs = records(pack, by_id, queries, verdicts)
        values, table = pack.headlines(recs)
        ci = bootstrap(pack, recs, list(values), resamples, seed)
        coverage = _coverage(instances, gens, logged)
        record = judge.record(logged)
        sizes = pack.counts(table)
        entry = PackJudgeResult(
            judge_id=judge.id, label=judge.label, model=config.model, served_models=record["served_models"],
            official=official, comparable_with=judges.comparable_with(pack, config.model, record["served_models"]),
            identity=judge.identity,
            prompts=[{"repo": p.repo, "commit": p.commit, "path": p.path, "sha256": p.sha256} for p in pack.judge.prompts],
            repeats=pack.judge.repeats,
            headline={n: PackEstimate(value=_num(values[n]), ci_low=ci[n][0], ci_high=ci[n][1],
                                      n=sizes.get(n, 0)) for n in values},
            table=table, verdicts=_counts(logged), coverage=coverage, resamples=resamples,
            scored_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        previous = load_pack_results(store.path)
        results = PackResults(
            pack=pack.name, title=pack.title, subset=subset, task=manifest.identity.task, run_id=manifest.run_id,
            model=manifest.identity.model, anchor=f"{pack.anchor_repo}@{pack.anchor_commit}", headline=pack.headline,
            order=list(values),
            published=[PublishedRow(**{**r, "value": float(r["value"])}) for r in pack.published()
                       if subset is None or r["subset"].split("/")[0] in (subset, "all")],
            judges={**(previous.judges if previous is not None else {}), judge.id: entry})
        write_pack_results(store.path, results)
    return results


def _num(value) -> Optional[float]:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
