"""Metric kind ``set``: distribution distances (FID, KID) between all outputs and the task's reference set.

Every successful generation counts, duplicates included (as clean-fid counts every file of a
folder): a run that collapses onto a few images must score worse, not be scored on its few
distinct images. Features come from the shared feature cache; the reference set's features are
kept as one array per (set, preprocessing, extractor, count); a result and a noise floor are each
memoised by everything they depend on.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Callable

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
from . import setmetrics as sm

#: Part of every memo key: bump when what a memoised record holds or means changes.
MEMO_VERSION = "set-v2"


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


def _memo(kind: str, *parts) -> Path:
    ident = json.dumps([MEMO_VERSION, kind, *parts])
    return cache_dir() / "set_results" / f"{kind}-{hashlib.sha256(ident.encode()).hexdigest()[:24]}.json"


def _memoised(path: Path, compute: Callable[[], dict]) -> dict:
    if path.is_file():
        return json.loads(path.read_text())
    record = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, record)
    return record


class SetKind(MetricKind):
    level = "set"

    def check(self, metric: MetricDef) -> None:
        if metric.name not in sm.SET_METRICS or not metric.extractor:
            raise IbenchError(f"metric {metric.name!r}: kind 'set' computes {', '.join(sorted(sm.SET_METRICS))} "
                              f"on an extractor's features")

    def score(self, ctx: ScoringContext, metrics: list[MetricDef]) -> KindOutput:
        out = KindOutput()
        refs = reference_set(ctx.spec, list(ctx.instances.values()), ctx.root)
        gens = sorted(ctx.ok, key=lambda g: (g.instance_id, g.sample))
        shas = [g.sha256 for g in gens]  # one entry per generated image, duplicates included
        for m in metrics:
            ext, cache = ctx.extractors[m.extractor], ctx.caches[m.extractor]
            ensure_image_features({ext.name: {g.sha256: ctx.store.path / g.image for g in gens}}, {ext.name: ext},
                                  {ext.name: cache}, ctx.batch_size, ctx.num_workers, ctx.progress)
            ident = (m.name, sorted(shas), refs.key, ext.id, ext.preprocessing)

            def compute(m: MetricDef = m, ext: Extractor = ext, cache=cache) -> dict:
                ref = reference_features(ctx, refs, ext)
                got = cache.get(shas)
                gen = np.stack([got[s] for s in shas]).astype(np.float32) if shas else np.zeros((0, ref.shape[1]))
                floor_ident = (m.name, refs.key, ext.id, ext.preprocessing, len(shas), sm.FLOOR_SPLITS, sm.FLOOR_SEED)
                floor = _memoised(_memo("floor", *floor_ident),
                                  lambda: {"floor": _floor_record(sm.noise_floor(m.name, ref, len(shas)))})["floor"]
                return {"metric": m.name, **sm.set_metric(m.name, gen, ref, _floor(floor)), "n": len(shas),
                        "n_distinct": len(set(shas)), "n_reference": len(refs.files), "reference": refs.key,
                        "reference_reason": refs.reason, "preprocessing": ext.preprocessing, "extractor": ext.id,
                        "higher_is_better": m.higher_is_better}

            out.sets[m.name] = _memoised(_memo("value", *ident), compute)
        return out


def _floor_record(floor: "sm.Floor | None") -> "dict | None":
    return None if floor is None else floor.as_dict()


def _floor(record: "dict | None") -> "sm.Floor | None":
    if record is None:
        return None
    return sm.Floor(record["value"], math.nan if record["sd"] is None else record["sd"], record["n"], record["splits"])
