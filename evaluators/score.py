"""Score a run: dispatch every chosen metric through its kind (``registry.KINDS``), then write
``scores/`` and ``results.json``. Kinds share one set of extractors and feature caches."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from ibench import __version__
from ibench.core.metrics import METRICS, MetricDef, parse_metrics
from ibench.core.paths import DataRoot
from ibench.core.registry import get_task
from ibench.core.rundir import Generation, RunStore
from ibench.core.jsonio import remove_stray_temps, write_json_atomic
from ibench.devices import resolve_device
from ibench.errors import IbenchError

from . import cache as fcache
from .config import ExtractorConfig, resolve_config
from .kinds import KindOutput, ScoringContext
from .registry import build_extractors, get_kind
from .results import SCHEMA, summarize, write_rows, write_set


def _task_spec(name: str):
    try:
        return get_task(name)
    except IbenchError:
        return None


def score_run(run_dir: str | Path, metrics: "list[str] | str | None" = None, device: str = "auto",
              batch_size: int = 32, num_workers: int = 2, config: "ExtractorConfig | dict | str | Path | None" = None,
              data_root: "DataRoot | str | Path | None" = None, progress: bool = False,
              options: Optional[dict[str, dict]] = None, limit: Optional[int] = None,
              samples: Optional[int] = None) -> dict:
    """Score a run with ``metrics`` (default: its task's) and write scores/ and results.json; returns the results.

    ``options`` are per metric kind (``{"judge": {"config": FILE, "max_calls": N}}``). Entries of metrics
    scored before and not re-scored now stay in results.json (their score files stay too).
    ``limit``/``samples``: score only the first ``limit`` instances and samples ``0..samples-1`` (what an
    ``ibench run --limit --samples`` asked for); the default is all of the run. Holds the run's lock.
    A write that fails (disk full) is one line; the scores written before stay whole.
    """
    store = RunStore(run_dir)
    store.manifest()  # not a run: one line, before anything is written
    try:
        with store.lock("run"):
            stats = fcache.reference_stats_dir()
            if stats.is_dir():
                remove_stray_temps(stats)  # reference statistics whose writer was killed
            return _score(store, metrics, resolve_device(device), batch_size, num_workers, config, data_root,
                          progress, options, limit, samples)
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


def _score(store: RunStore, metrics, device: str, batch_size: int, num_workers: int, config, data_root,
           progress: bool, options: Optional[dict[str, dict]], limit: Optional[int], samples: Optional[int]) -> dict:
    manifest = store.manifest()
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
                         config=resolve_config(config), device=device, batch_size=batch_size,
                         num_workers=num_workers, progress=progress, options=dict(options or {}))
    ctx.extractors = build_extractors(names, ctx.config, device)
    ctx.caches = {n: fcache.FeatureCache(e.id, e.preprocessing) for n, e in ctx.extractors.items()}
    output = KindOutput()
    try:
        for kind_name, ms in by_kind.items():
            got = kinds[kind_name].score(ctx, ms)
            for part in ("rows", "sets", "skipped", "details"):
                getattr(output, part).update(getattr(got, part))
    finally:
        for c in ctx.caches.values():
            c.close()
    for name, r in output.rows.items():
        write_rows(store.scores_dir, name, r)
    for name, rec in output.sets.items():
        if name in METRICS:
            rec.update(recipe_of(METRICS[name]))
        write_set(store.scores_dir, name, rec)
    results = _results(ctx, chosen, output, gens)
    _keep_previous(store, results)
    results["notes"] = notes
    write_json_atomic(store.results_path, results)
    return results


def _keep_previous(store: RunStore, results: dict) -> None:
    """Carry over the previous results.json's entries of metrics not scored this time."""
    if not store.results_path.is_file():
        return
    try:
        from .results import load_results

        old = load_results(store.path)
    except IbenchError:  # an old schema or a torn file: start afresh
        return
    if old.get("run_id") != results["run_id"]:
        return
    for part in ("metrics", "set_metrics"):
        for name, entry in old.get(part, {}).items():
            results[part].setdefault(name, entry)


def _results(ctx: ScoringContext, chosen: list[MetricDef], output: KindOutput, gens: list[Generation]) -> dict:
    ident, ok = ctx.manifest.identity, ctx.ok
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
                              **recipe_of(m), **output.details.get(m.name, {})}
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


def recipe_of(metric: MetricDef) -> dict:
    """What a metric's number means: its recipe and the published tables it is comparable with."""
    return {"recipe": dict(metric.recipe), "comparable_with": list(metric.comparable_with)}
