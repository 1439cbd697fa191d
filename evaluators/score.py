"""Score a run: fill the feature caches (streaming), then compute per-condition rows from the
cache, control fidelity in DataLoader workers, set metrics, and write scores/ and results.json."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import numpy as np

from ibench import __version__
from ibench.catalog import Catalog
from ibench.errors import IbenchError
from ibench.instances import Instance
from ibench.paths import DataRoot, cache_dir
from ibench.runstore import Generation, RunStore, sha256_file, write_json_atomic

from . import cache as fcache
from .config import ExtractorConfig, resolve_config
from .extractor import Extractor
from .features import ensure_image_features, ensure_text_features, loader
from .metrics import ControlFidelity, Metric, SetMetric, Similarity, parse_metrics
from .refset import ReferenceSet, reference_set
from .results import SCHEMA, RESULTS, summarize, write_rows, write_set
from .setmetrics import KID_MAX_SUBSET, KID_SEED, KID_SUBSETS, set_metric

CHUNK = 512  # generated images whose features are in memory at once while scoring


def _task_spec(name: str):
    from ibench.registry import get_task

    try:
        return get_task(name)
    except IbenchError:
        return None


def build_extractors(names: set[str], config: ExtractorConfig, device: str) -> dict[str, Extractor]:
    """Extractor objects (cheap: weights are located, not loaded)."""
    out: dict[str, Extractor] = {}
    if names & {"clip", "clip_text"}:
        from .clip import ClipBackend, ClipImage, ClipText

        backend = ClipBackend(config, device)
        out["clip"], out["clip_text"] = ClipImage(backend), ClipText(backend)
    if "dino" in names:
        from .dino import Dino

        out["dino"] = Dino(config, device)
    if "gram" in names:
        from .gram import Gram

        out["gram"] = Gram(config, device)
    if "inception" in names:
        from .inception import Inception

        out["inception"] = Inception(config, device)
    return {n: e for n, e in out.items() if n in names}


class _Hasher:
    """SHA-256 of reference files, computed once per path."""

    def __init__(self):
        self.memo: dict[Path, str] = {}

    def __call__(self, path: Path) -> str:
        if path not in self.memo:
            if not path.is_file():
                raise IbenchError(f"reference image {path} not found (is the run's data root {path.parent} "
                                  f"still there? pass --data-dir)")
            self.memo[path] = sha256_file(path)
        return self.memo[path]


class _SubjectPhotos:
    """DreamBench's protocol: a subject reference is compared with every real photo of its subject in the
    data root (the catalog's ``dreambench/<subject>/``), not only the views the model was shown."""

    def __init__(self, root: DataRoot):
        self.root, self.by_image = root, None

    def __call__(self, views: list[str]) -> list[str]:
        if self.by_image is None:
            try:
                subjects = Catalog(self.root).subjects
            except IbenchError:  # a root without DreamBench's layout: the given views are all we know
                subjects = []
            self.by_image = {im: list(s.images) for s in subjects for im in s.images}
        return self.by_image.get(views[0], views) if views else views


def _conditions(m: Similarity, inst: Instance, photos: _SubjectPhotos) -> list[tuple[str, list[str]]]:
    return [(c, photos(refs) if m.kind == "subject" else refs) for c, refs in m.conditions(inst)]


def _similarity_rows(metrics: list[Similarity], ok: list[Generation], instances: dict[str, Instance],
                     root: DataRoot, extractors: dict[str, Extractor], caches: dict[str, fcache.FeatureCache],
                     hasher: _Hasher, run: Path, batch_size: int, num_workers: int, progress: bool) -> dict[str, list]:
    from functools import lru_cache

    from .clip import text_key

    resolve = lru_cache(maxsize=None)(root.resolve)  # each reference path is met once per generation
    needs: dict[str, dict[str, Path]] = {}
    texts: dict[str, str] = {}
    photos = _SubjectPhotos(root)
    for m in metrics:
        wanted = needs.setdefault(m.extractor, {})
        for g in ok:
            wanted[g.sha256] = run / g.image
            for _, refs in _conditions(m, instances[g.instance_id], photos):
                if m.kind == "text":
                    texts.update({text_key(t): t for t in refs})
                else:
                    wanted.update({hasher(resolve(r)): resolve(r) for r in refs})
    ensure_image_features(needs, extractors, caches, batch_size, num_workers, progress)
    if texts:
        ensure_text_features(texts, extractors["clip_text"], caches["clip_text"])
    ref_feats: dict[str, dict[str, np.ndarray]] = {}
    gen_shas = {g.sha256 for g in ok}
    for m in metrics:
        cache = caches["clip_text" if m.kind == "text" else m.extractor]
        shas = list(texts) if m.kind == "text" else [s for s in needs[m.extractor] if s not in gen_shas]
        ref_feats[m.name] = cache.get(shas)
    rows: dict[str, list] = {m.name: [] for m in metrics}
    for start in range(0, len(ok), CHUNK):
        chunk = ok[start:start + CHUNK]
        gen = {name: caches[name].get(g.sha256 for g in chunk) for name in {m.extractor for m in metrics}}
        for g in chunk:
            inst = instances[g.instance_id]
            for m in metrics:
                v = gen[m.extractor][g.sha256].astype(np.float32)
                for cond, refs in _conditions(m, inst, photos):
                    keys = [text_key(t) for t in refs] if m.kind == "text" else [hasher(resolve(r)) for r in refs]
                    refs_m = ref_feats[m.name]
                    if m.kind != "text":  # a reference that is also a generated image: read it
                        refs_m.update(caches[m.extractor].get(k for k in keys if k not in refs_m))
                    value = float(np.mean([float(v @ refs_m[k].astype(np.float32)) for k in keys]))
                    rows[m.name].append({"instance_id": g.instance_id, "sample": g.sample, "metric": m.name,
                                         "condition": cond, "value": value})
    return rows


def _control_rows(metrics: list[ControlFidelity], ok: list[Generation], instances: dict[str, Instance],
                  root: DataRoot, run: Path, config: ExtractorConfig, device: str, batch_size: int,
                  num_workers: int, skipped: dict[str, str]) -> dict[str, list]:
    from .control import ControlDataset, DepthModel

    rows: dict[str, list] = {m.name: [] for m in metrics}
    items = []
    depth: Optional[DepthModel] = None
    for m in metrics:
        if m.control == "depth":
            try:
                depth = DepthModel(config.depth_model, device)
            except IbenchError as exc:
                skipped[m.name] = f"skipped: no depth model ({exc})"
                continue
        for g in ok:
            for cond, (rel,) in m.conditions(instances[g.instance_id]):
                items.append(((m.name, g.instance_id, g.sample, cond), run / g.image, root.resolve(rel), m.control))
    for batch in loader(ControlDataset(items), batch_size, num_workers, collate_fn=list):
        pending = []
        for key, value, pair, error in batch:
            if error:
                raise IbenchError(f"cannot score {key[0]} for {key[1]} sample {key[2]}: {error}")
            if pair is not None:
                pending.append((key, pair))
            else:
                _append(rows, key, value)
        if pending and depth is not None:
            for (key, _), value in zip(pending, depth.errors([p for _, p in pending])):
                _append(rows, key, value)
    return rows


def _append(rows: dict[str, list], key: tuple, value: float) -> None:
    name, iid, sample, cond = key
    rows[name].append({"instance_id": iid, "sample": sample, "metric": name, "condition": cond, "value": float(value)})


def _reference_features(refs: ReferenceSet, ext: Extractor, cache: fcache.FeatureCache, hasher: _Hasher,
                        batch_size: int, num_workers: int, progress: bool) -> np.ndarray:
    path = fcache.reference_stats_path(refs.key, ext.preprocessing, ext.id, len(refs.files))
    feats = fcache.load_array(path)
    if feats is None:
        shas = [hasher(p) for p in refs.files]
        ensure_image_features({ext.name: dict(zip(shas, refs.files))}, {ext.name: ext}, {ext.name: cache},
                              batch_size, num_workers, progress)
        got = cache.get(shas)
        feats = np.stack([got[s] for s in shas]).astype(np.float32)
        fcache.save_array(path, feats)
    return feats


def _set_results(metrics: list[SetMetric], ok: list[Generation], refs: ReferenceSet, ext: Extractor,
                 cache: fcache.FeatureCache, hasher: _Hasher, run: Path, batch_size: int, num_workers: int,
                 progress: bool) -> dict[str, dict]:
    ensure_image_features({ext.name: {g.sha256: run / g.image for g in ok}}, {ext.name: ext}, {ext.name: cache},
                          batch_size, num_workers, progress)
    shas = sorted({g.sha256 for g in ok})  # a set of distinct images; order does not change FID
    out, ref = {}, None
    for m in metrics:
        ident = json.dumps([m.name, shas, refs.key, ext.id, ext.preprocessing, KID_SEED, KID_SUBSETS, KID_MAX_SUBSET])
        memo = cache_dir() / "set_results" / f"{hashlib.sha256(ident.encode()).hexdigest()[:24]}.json"
        if memo.is_file():
            out[m.name] = json.loads(memo.read_text())
            continue
        if ref is None:
            ref = _reference_features(refs, ext, cache, hasher, batch_size, num_workers, progress)
            got = cache.get(shas)
            gen = np.stack([got[s] for s in shas]).astype(np.float32) if shas else np.zeros((0, ref.shape[1]))
        value, stable, note = set_metric(m.name, gen, ref)
        out[m.name] = {"metric": m.name, "value": value, "n": len(shas), "n_reference": len(refs.files),
                       "reference": refs.key, "preprocessing": ext.preprocessing, "extractor": ext.id,
                       "stable": stable, "note": note, "higher_is_better": m.higher_is_better}
        memo.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(memo, out[m.name])
    return out


def score_run(run_dir: str | Path, metrics: "list[str] | str | None" = None, device: str = "cpu",
              batch_size: int = 32, num_workers: int = 2, config: "ExtractorConfig | dict | str | Path | None" = None,
              data_root: "DataRoot | str | Path | None" = None, progress: bool = False) -> dict:
    """Score a run with ``metrics`` (default: its task's) and write scores/ and results.json; returns the results."""
    store = RunStore(run_dir)
    manifest = store.manifest()
    ident = manifest.get("identity", {})
    spec = _task_spec(ident.get("task", ""))
    if metrics is None:
        if spec is None:
            raise IbenchError(f"task {ident.get('task')!r} of {store.path} is not registered: pass --metrics")
        metrics = list(spec.metrics) + list(spec.set_metrics)
    chosen: list[Metric] = parse_metrics(metrics)
    notes = []
    if spec is not None and ident.get("spec_hash") and spec.spec_hash() != ident["spec_hash"]:
        notes.append(f"task {spec.name!r} changed since this run was generated (spec_hash {ident['spec_hash']} -> "
                     f"{spec.spec_hash()}, version {ident.get('task_version')} -> {spec.version}): the run's own "
                     f"instances were scored, with the current spec's defaults (metrics, FID/KID reference pools); "
                     f"regenerate the run to evaluate the current task")
    cfg = resolve_config(config)
    if isinstance(data_root, DataRoot):
        root = data_root
    elif data_root:
        root = DataRoot(data_root)
    else:  # where the run found its references and control maps
        root = store.data_root()
    instances = {i.id: i for i in store.instances()}
    gens = store.generations()
    ok = [g for g in gens if g.ok and g.instance_id in instances]
    sims = [m for m in chosen if isinstance(m, Similarity)]
    ctrls = [m for m in chosen if isinstance(m, ControlFidelity)]
    sets = [m for m in chosen if isinstance(m, SetMetric)]
    names = {m.extractor for m in sims} | ({"clip_text"} if any(m.kind == "text" for m in sims) else set())
    extractors = build_extractors(names | ({"inception"} if sets else set()), cfg, device)
    caches = {n: fcache.FeatureCache(e.id, e.preprocessing) for n, e in extractors.items()}
    hasher, skipped = _Hasher(), {}
    try:
        rows = _similarity_rows(sims, ok, instances, root, extractors, caches, hasher, store.path, batch_size,
                                num_workers, progress) if sims else {}
        rows.update(_control_rows(ctrls, ok, instances, root, store.path, cfg, device, batch_size, num_workers,
                                  skipped) if ctrls else {})
        set_out = _set_results(sets, ok, reference_set(spec, list(instances.values()), root), extractors["inception"],
                               caches["inception"], hasher, store.path, batch_size, num_workers, progress) if sets else {}
    finally:
        for c in caches.values():
            c.close()
    for name, r in rows.items():
        write_rows(store.scores_dir, name, r)
    for name, rec in set_out.items():
        write_set(store.scores_dir, name, rec)
    results = _results(manifest, spec, chosen, rows, set_out, skipped, gens, ok, len(instances), extractors)
    results["notes"] = notes
    write_json_atomic(store.path / RESULTS, results)
    return results


def _results(manifest: dict, spec, chosen: list[Metric], rows: dict, set_out: dict, skipped: dict,
             gens: list[Generation], ok: list[Generation], n_instances: int, extractors: dict) -> dict:
    ident = manifest.get("identity", {})
    per_metric = {}
    for m in chosen:
        if isinstance(m, SetMetric):
            continue
        overall, conds = summarize(rows.get(m.name, []))
        reason = skipped.get(m.name)
        if reason is None and not rows.get(m.name):
            reason = "skipped: no condition of this kind in the run's instances" if ok else "skipped: no images"
        per_metric[m.name] = {**overall, "n_rows": len(rows.get(m.name, [])), "higher_is_better": m.higher_is_better,
                              "description": m.description, "conditions": conds, "skipped": reason}
    return {
        "schema": SCHEMA, "run_id": manifest.get("run_id", ""), "task": ident.get("task", ""),
        "task_version": ident.get("task_version"), "family": manifest.get("family") or (spec.family if spec else ""),
        "model": ident.get("model", ""), "model_settings": ident.get("model_settings", {}),
        "scored_at": datetime.now(timezone.utc).isoformat(), "ibench_version": __version__,
        "counts": {"instances": n_instances, "samples": len(gens), "failed": len(gens) - len(ok), "scored": len(ok)},
        "extractors": {n: {"id": e.id, "preprocessing": e.preprocessing} for n, e in sorted(extractors.items())},
        "metrics": per_metric,
        "set_metrics": set_out,
    }
