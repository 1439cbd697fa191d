"""Score a run: dispatch every chosen metric through its kind (``registry.KINDS``), then write
``scores/`` and ``results.json``. Kinds share one set of extractors and feature caches."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from ibench import __version__
from ibench.core.metrics import METRICS, MetricDef, parse_metrics
from ibench.core.paths import DataRoot
from ibench.core.registry import get_task
from ibench.core.rundir import Generation, RunStore
from ibench.core.jsonio import json_safe, remove_stray_temps
from ibench.devices import resolve_device
from ibench.errors import IbenchError

from . import cache as fcache
from .config import ExtractorConfig, resolve_config
from .coverage import ROW_MISSING, measure
from .kinds import KindOutput, ScoringContext
from .options import ScoreOptions
from .registry import build_extractors, get_kind
from .results import SCHEMA, Results, load_results, summarize, write_results, write_rows, write_set


def _task_spec(name: str):
    try:
        return get_task(name)
    except IbenchError:
        return None


def score_run(run_dir: str | Path, options: ScoreOptions = ScoreOptions()) -> dict:
    """Score a run as ``options`` say (default: its task's metrics, all of it) and write scores/ and
    results.json; returns the results.json document written (``load_results`` reads it back, typed).

    Entries of metrics scored before and not re-scored now stay in results.json (their score files stay
    too). Holds the run's lock. A write that fails (disk full) is one line; the scores written before stay
    whole.
    """
    store = RunStore(run_dir)
    store.manifest()  # not a run: one line, before anything is written
    try:
        with store.lock("run"):
            stats = fcache.reference_stats_dir()
            if stats.is_dir():
                remove_stray_temps(stats)  # reference statistics whose writer was killed
            return _score(store, options, resolve_device(options.device))
    except (OSError, sqlite3.Error) as exc:
        raise IbenchError(f"{store.path}: scoring stopped, cannot write ({getattr(exc, 'strerror', None) or exc}); "
                          f"the images and the scores written before are kept: free space and rerun") from None


def _plan(chosen: list[MetricDef]) -> tuple[dict[str, list[MetricDef]], dict, set[str]]:
    """The chosen metrics by kind, the kinds (an unknown one: one line, before any work) and the extractors they need."""
    by_kind: dict[str, list[MetricDef]] = {}
    for m in chosen:
        by_kind.setdefault(m.kind, []).append(m)
    kinds = {name: get_kind(name) for name in by_kind}
    names = set().union(*(kinds[k].extractors(ms) for k, ms in by_kind.items())) if by_kind else set()
    return by_kind, kinds, names


def check_weights(spec, config: "ExtractorConfig | dict | str | Path | None" = None) -> None:
    """Locate (download, where the hub answers) the weights a task's scoring needs, loading nothing: every
    missing one is named in one ``MissingWeights`` line (``ibench run`` asks before it generates)."""
    _, _, names = _plan(parse_metrics(list(spec.metrics) + list(spec.set_metrics)))
    build_extractors(names, resolve_config(config), "cpu")


def _score(store: RunStore, opts: ScoreOptions, device: str) -> dict:
    manifest = store.manifest()
    metrics, data_root, limit, samples = opts.metrics, opts.data_root, opts.limit, opts.samples
    ident = manifest.identity
    spec = _task_spec(ident.task)
    if metrics is None:
        if spec is None:
            raise IbenchError(f"task {ident.task!r} of {store.path} is not registered: pass --metrics")
        metrics = list(spec.metrics) + list(spec.set_metrics)
    chosen: list[MetricDef] = parse_metrics(metrics)
    notes = []
    if spec is not None and spec.spec_hash() != ident.spec_hash:
        notes.append(f"task {spec.name!r} changed since this run was generated (spec_hash {ident.spec_hash} -> "
                     f"{spec.spec_hash()}, version {ident.task_version} -> {spec.version}): the run's own "
                     f"instances were scored, with the current spec's defaults (metrics, FID/KID reference pools); "
                     f"regenerate the run to evaluate the current task")
    if isinstance(data_root, DataRoot):
        root = data_root
    elif data_root:
        root = DataRoot(data_root)
    else:  # where the run found its references and control maps
        root = store.data_root()
    run_instances = store.instances()
    instances = {i.id: i for i in run_instances[:limit]}
    all_gens = store.generations()
    gens = [g for g in all_gens if g.instance_id in instances and (samples is None or g.sample < samples)]
    if len(gens) < len(all_gens):
        notes.append(f"scored {len(instances)} of the run's {len(run_instances)} instances and {len(gens)} of its "
                     f"{len(all_gens)} samples (what the command asked for); `ibench score {store.path}` scores all")
    for g in gens:
        if g.ok and not store.intact(g):
            raise IbenchError(f"{store.path / str(g.image)} is missing or changed since it was generated (its SHA-256 "
                              f"is not the one in the generation record): rerun the generating command to make it again")
    by_kind, kinds, names = _plan(chosen)
    ctx = ScoringContext(store=store, manifest=manifest, spec=spec, instances=instances,
                         ok=[g for g in gens if g.ok], root=root,
                         config=resolve_config(opts.extractors), device=device, batch_size=opts.batch_size,
                         num_workers=opts.num_workers, progress=opts.progress, options=dict(opts.kinds))
    ctx.extractors = build_extractors(names, ctx.config, device)
    ctx.caches = {n: fcache.FeatureCache(e.id, e.preprocessing) for n, e in ctx.extractors.items()}
    output = KindOutput()
    try:
        for kind_name, ms in by_kind.items():
            got = kinds[kind_name].score(ctx, ms)
            for part in ("rows", "sets", "skipped", "details", "failed", "missing"):
                getattr(output, part).update(getattr(got, part))
    finally:
        for c in ctx.caches.values():
            c.close()
    copies_note(output)
    for name, r in output.rows.items():
        write_rows(store.scores_dir, name, r)
    for name, rec in output.sets.items():
        if name in METRICS:
            rec.update(recipe_of(METRICS[name]))
        write_set(store.scores_dir, name, rec)
    plan = Plan(gens, planned_samples(samples, all_gens, spec), kinds)
    results = _results(ctx, chosen, output, plan)
    _keep_previous(store, results)
    results["notes"] = notes
    return write_results(store.path, Results.model_validate(json_safe(results)))


def _keep_previous(store: RunStore, results: dict) -> None:
    """Carry over the previous results.json's entries of metrics not scored this time."""
    if not store.results_path.is_file():
        return
    try:
        old = load_results(store.path).as_json()
    except IbenchError:  # an old schema or a torn file: start afresh
        return
    if old["run_id"] != results["run_id"]:
        return
    for part in ("metrics", "set_metrics"):
        for name, entry in old[part].items():
            results[part].setdefault(name, entry)


@dataclass(frozen=True)
class Plan:
    """What each metric set out to score: the generation records in scope, samples per instance, the kinds."""

    gens: list[Generation]
    samples: int
    kinds: dict


def planned_samples(asked: Optional[int], gens: list[Generation], spec) -> int:  # noqa: ANN001 - a TaskSpec
    """Samples each instance was to have: as asked, else as many as any instance has, else the task's."""
    if asked is not None:
        return asked
    if gens:
        return max(g.sample for g in gens) + 1
    return spec.samples if spec is not None else 1


def _coverage(ctx: ScoringContext, m: MetricDef, rows: list[dict], output: KindOutput, plan: Plan) -> dict:
    kind = plan.kinds[m.kind]
    planned = {iid: plan.samples for iid, inst in ctx.instances.items() if kind.applies(m, inst)}
    made = {g.key: g.ok for g in plan.gens}
    scored = {(r["instance_id"], r["sample"]) for r in rows}
    why = output.skipped.get(m.name) or ROW_MISSING
    return measure(planned, made, scored, output.failed.get(m.name, {}), output.missing.get(m.name, {}),
                   why).model_dump()


def _results(ctx: ScoringContext, chosen: list[MetricDef], output: KindOutput, plan: Plan) -> dict:
    ident, ok, gens = ctx.manifest.identity, ctx.ok, plan.gens
    per_metric = {}
    for m in chosen:
        if m.level == "set":
            continue
        rows = output.rows.get(m.name, [])
        overall, conds = summarize(rows)
        reason = output.skipped.get(m.name)
        if reason is None and not rows:
            reason = "skipped: no condition of this kind in the run's instances" if ok else "skipped: no images"
        per_metric[m.name] = {**overall, "n_rows": len(rows), "higher_is_better": m.higher_is_better,
                              "description": m.description, "conditions": conds, "skipped": reason,
                              **recipe_of(m), **output.details.get(m.name, {}),
                              "coverage": _coverage(ctx, m, rows, output, plan)}
    return {
        "schema": SCHEMA, "run_id": ctx.manifest.run_id, "task": ident.task,
        "task_version": ident.task_version, "family": ctx.manifest.family or (ctx.spec.family if ctx.spec else ""),
        "model": ident.model, "model_settings": ident.model_settings,
        "scored_at": datetime.now(timezone.utc).isoformat(), "ibench_version": __version__,
        "counts": {"instances": len(ctx.instances), "samples": len(gens), "failed": len(gens) - len(ok),
                   "scored": len(ok)},
        "extractors": {n: {"id": e.id, "preprocessing": e.preprocessing} for n, e in sorted(ctx.extractors.items())},
        "metrics": per_metric,
        "set_metrics": output.sets,
    }


def copies_note(output: KindOutput, copy_metric: str = "copy_rate") -> None:
    """A FID below its noise floor says how many outputs copy a reference, when ``copy_rate`` was scored with it:
    a value under the floor is what copies of the reference set give, not small-sample bias."""
    fid, rows = output.sets.get("fid"), output.rows.get(copy_metric)
    if not fid or not rows or not str(fid.get("note", "")).startswith("below its noise floor"):
        return
    copies = sum(r["value"] >= 1 for r in rows)
    fid["note"] += f" ({copy_metric}: {copies} of {len(rows)} outputs are near copies of a reference)"


def recipe_of(metric: MetricDef) -> dict:
    """What a metric's number means: its recipe and the published tables it is comparable with."""
    return {"recipe": dict(metric.recipe), "comparable_with": list(metric.comparable_with)}
