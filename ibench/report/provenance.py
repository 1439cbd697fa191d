"""Where a report's numbers come from: per run the seed, samples, model settings and the ibench that
made and scored it; the feature extractors (and judges) with their weights; and whether any of them
were ``ibench.evaluators.tiny``'s random ones (then every score is meaningless, and the report says so)."""

from __future__ import annotations

from collections import defaultdict

from ibench.core.rundir import RunStore
from ibench.evaluators.tiny_mark import is_tiny

from .runs import RunInfo

TINY_BANNER = ("These scores were computed with tiny random feature extractors (ibench.evaluators.tiny: "
               "random weights, made offline for tests and demos). They say nothing about image quality or "
               "instruction following: even noise scores high. Score with real extractor weights "
               "(see docs/evaluators.md) before drawing any conclusion.")


def run_record(run: RunInfo) -> dict:
    """One run: identity, what was made (instances, samples, images, failures) and by which ibench."""
    store = RunStore(run.path)
    gens = store.generations()
    manifest = store.manifest()
    res = run.results
    per_instance = defaultdict(set)
    for g in gens:
        per_instance[g.instance_id].add(g.sample)
    return {**run.identity_record(), "n_instances": len(store.instances()), "n_images": sum(g.ok for g in gens),
            "n_failed": sum(not g.ok for g in gens),
            "samples": max((len(s) for s in per_instance.values()), default=0),
            "created": manifest.created, "generated_by": manifest.environment.get("ibench"),
            "scored_by": res.ibench_version if res else None, "scored_at": res.scored_at if res else None,
            "extractors": {name: e.id for name, e in sorted(res.extractors.items())} if res else {},
            "judges": judge_identities(res)}


def judge_identities(res) -> dict:  # noqa: ANN001 - Results or None
    """The judge of each judge metric (its id), as the provenance table lists identities."""
    if res is None:
        return {}
    return {name: judge["id"] for name, m in sorted(res.metrics.items())
            if isinstance(judge := getattr(m, "judge", None), dict) and "id" in judge}


def extractor_table(runs: list[dict]) -> list[dict]:
    """Each distinct extractor (or judge) identity, the runs that used it, and whether it is a tiny one."""
    used: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for r in runs:
        for kind, table in (("extractor", r.get("extractors") or {}), ("judge", r.get("judges") or {})):
            for name, ident in table.items():
                used[(kind, name, str(ident))].append(r["run_id"])
    return [{"kind": kind, "name": name, "id": ident, "tiny": is_tiny(ident), "runs": sorted(rids)}
            for (kind, name, ident), rids in sorted(used.items())]


def tiny_runs(runs: list[dict]) -> list[str]:
    """Runs scored (partly) with tiny random extractors."""
    return sorted(r["run_id"] for r in runs if any(is_tiny(i) for i in (r.get("extractors") or {}).values()))
