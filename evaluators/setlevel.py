"""Metric kind ``set``: distribution distances (FID, KID) between all outputs and the task's reference set.

Features come from the shared feature cache; the reference set's features are kept as one array per
(set, preprocessing, extractor, count); a result is memoised by everything it depends on.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from ibench.core.jsonio import write_json_atomic
from ibench.core.metrics import MetricDef
from ibench.core.paths import cache_dir
from ibench.errors import IbenchError

from . import cache as fcache
from .extractor import Extractor
from .features import ensure_image_features
from .kinds import KindOutput, MetricKind, ScoringContext
from .refset import ReferenceSet, reference_set
from .setmetrics import KID_MAX_SUBSET, KID_SEED, KID_SUBSETS, SET_METRICS, set_metric


def reference_features(ctx: ScoringContext, refs: ReferenceSet, ext: Extractor) -> np.ndarray:
    path = fcache.reference_stats_path(refs.key, ext.preprocessing, ext.id, len(refs.files))
    feats = fcache.load_array(path)
    if feats is None:
        shas = [ctx.hasher(p) for p in refs.files]
        ensure_image_features({ext.name: dict(zip(shas, refs.files))}, {ext.name: ext}, {ext.name: ctx.caches[ext.name]},
                              ctx.batch_size, ctx.num_workers, ctx.progress)
        got = ctx.caches[ext.name].get(shas)
        feats = np.stack([got[s] for s in shas]).astype(np.float32)
        fcache.save_array(path, feats)
    return feats


class SetKind(MetricKind):
    level = "set"

    def check(self, metric: MetricDef) -> None:
        if metric.name not in SET_METRICS or not metric.extractor:
            raise IbenchError(f"metric {metric.name!r}: kind 'set' computes {', '.join(sorted(SET_METRICS))} "
                              f"on an extractor's features")

    def score(self, ctx: ScoringContext, metrics: list[MetricDef]) -> KindOutput:
        out = KindOutput()
        refs = reference_set(ctx.spec, list(ctx.instances.values()), ctx.root)
        for m in metrics:
            ext, cache = ctx.extractors[m.extractor], ctx.caches[m.extractor]
            ensure_image_features({ext.name: {g.sha256: ctx.store.path / g.image for g in ctx.ok}}, {ext.name: ext},
                                  {ext.name: cache}, ctx.batch_size, ctx.num_workers, ctx.progress)
            shas = sorted({g.sha256 for g in ctx.ok})  # a set of distinct images; order does not change FID
            ident = json.dumps([m.name, shas, refs.key, ext.id, ext.preprocessing, KID_SEED, KID_SUBSETS,
                                KID_MAX_SUBSET])
            memo = cache_dir() / "set_results" / f"{hashlib.sha256(ident.encode()).hexdigest()[:24]}.json"
            if memo.is_file():
                out.sets[m.name] = json.loads(memo.read_text())
                continue
            ref = reference_features(ctx, refs, ext)
            got = cache.get(shas)
            gen = np.stack([got[s] for s in shas]).astype(np.float32) if shas else np.zeros((0, ref.shape[1]))
            value, stable, note = set_metric(m.name, gen, ref)
            out.sets[m.name] = {"metric": m.name, "value": value, "n": len(shas), "n_reference": len(refs.files),
                                "reference": refs.key, "preprocessing": ext.preprocessing, "extractor": ext.id,
                                "stable": stable, "note": note, "higher_is_better": m.higher_is_better}
            memo.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(memo, out.sets[m.name])
        return out
