"""Metric kind ``similarity``: mean cosine between the output's embedding and each reference's (or the
target prompt's), from cached features (CLIP-T, CLIP-I, DINO, style and content similarity).

An extractor may describe an image with a NaN vector (the face extractor: no face detected): such an
output gets no row but a recorded failure (``details[metric]``: counts and the failed samples), and
such a reference image is left out of the mean.

The features of every image are computed once per extractor and cached by content hash; the rows
are then read from the cache in chunks, so memory stays flat in the number of images.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ibench.core.instance import Instance
from ibench.core.metrics import MetricDef
from ibench.core.paths import DataRoot
from ibench.data.catalog import Catalog
from ibench.errors import IbenchError

from .features import ensure_image_features, ensure_text_features
from .kinds import KindOutput, MetricKind, ScoringContext

CHUNK = 512  # generated images whose features are in memory at once while scoring


class SubjectPhotos:
    """DreamBench's protocol: a subject reference is compared with every real photo of its subject in the
    data root (the catalog's ``dreambench/<subject>/``), not only the views the model was shown."""

    def __init__(self, root: DataRoot):
        self.root, self.by_image = root, None

    def __call__(self, views: list[str]) -> list[str]:
        if self.by_image is None:
            subjects = []
            for group in ("subjects", "faces"):  # a person's reference: every photo of that person
                try:
                    subjects += getattr(Catalog(self.root), group)
                except IbenchError:  # a root without that layout: the given views are all we know
                    pass
            self.by_image = {im: list(s.images) for s in subjects for im in s.images}
        return self.by_image.get(views[0], views) if views else views


def text_extractor(m: MetricDef) -> str:
    """The text tower paired with an image extractor (``clip`` -> ``clip_text``)."""
    return f"{m.extractor}_text"


class SimilarityKind(MetricKind):
    def check(self, metric: MetricDef) -> None:
        if not metric.extractor or metric.target is None or metric.control:
            raise IbenchError(f"metric {metric.name!r}: kind 'similarity' needs an extractor and a target "
                              f"(text, subject, style or content)")

    def extractors(self, metrics: list[MetricDef]) -> set[str]:
        return {m.extractor for m in metrics} | {text_extractor(m) for m in metrics if m.target == "text"}

    def score(self, ctx: ScoringContext, metrics: list[MetricDef]) -> KindOutput:
        from .clip import text_key

        resolve = lru_cache(maxsize=None)(ctx.root.resolve)  # each reference path is met once per generation
        photos = SubjectPhotos(ctx.root)

        def conditions(m: MetricDef, inst: Instance) -> list[tuple[str, list[str]]]:
            return [(c, photos(refs) if m.target == "subject" else refs) for c, refs in m.conditions(inst)]

        needs: dict[str, dict] = {}
        texts: dict[str, dict[str, str]] = {}
        for m in metrics:
            wanted = needs.setdefault(m.extractor, {})
            for g in ctx.ok:
                wanted[g.sha256] = ctx.store.path / g.image
                for _, refs in conditions(m, ctx.instances[g.instance_id]):
                    if m.target == "text":
                        texts.setdefault(text_extractor(m), {}).update({text_key(t): t for t in refs})
                    else:
                        wanted.update({ctx.hasher(resolve(r)): resolve(r) for r in refs})
        ensure_image_features(needs, ctx.extractors, ctx.caches, ctx.batch_size, ctx.num_workers, ctx.progress)
        for name, wanted_texts in texts.items():
            ensure_text_features(wanted_texts, ctx.extractors[name], ctx.caches[name])
        gen_shas = {g.sha256 for g in ctx.ok}
        ref_feats: dict[str, dict[str, np.ndarray]] = {}
        for m in metrics:
            if m.target == "text":
                ref_feats[m.name] = ctx.caches[text_extractor(m)].get(texts.get(text_extractor(m), {}))
            else:
                ref_feats[m.name] = ctx.caches[m.extractor].get(s for s in needs[m.extractor] if s not in gen_shas)
        out = KindOutput(rows={m.name: [] for m in metrics})
        failed: dict[str, list[dict]] = {m.name: [] for m in metrics}
        for start in range(0, len(ctx.ok), CHUNK):
            chunk = ctx.ok[start:start + CHUNK]
            gen = {name: ctx.caches[name].get(g.sha256 for g in chunk) for name in {m.extractor for m in metrics}}
            for g in chunk:
                inst = ctx.instances[g.instance_id]
                for m in metrics:
                    v = gen[m.extractor][g.sha256].astype(np.float32)
                    nothing = ctx.extractors[m.extractor].nothing
                    for cond, refs in conditions(m, inst):
                        text = m.target == "text"
                        keys = [text_key(t) for t in refs] if text else [ctx.hasher(resolve(r)) for r in refs]
                        refs_m = ref_feats[m.name]
                        if not text:  # a reference that is also a generated image: read it
                            refs_m.update(ctx.caches[m.extractor].get(k for k in keys if k not in refs_m))
                        described = (refs_m[k].astype(np.float32) for k in keys)
                        sims = [float(v @ r) for r in described if np.isfinite(r).all()]
                        why = (f"{nothing} in the output" if not np.isfinite(v).all()
                               else f"{nothing} in any reference image" if not sims else None)
                        if why:
                            failed[m.name].append({"instance_id": g.instance_id, "sample": g.sample,
                                                   "condition": cond, "reason": why})
                            out.fail(m.name, g.instance_id, g.sample, why)
                            continue
                        value = float(np.mean(sims))
                        out.rows[m.name].append({"instance_id": g.instance_id, "sample": g.sample,
                                                 "metric": m.name, "condition": cond, "value": value})
        for name, rows in failed.items():
            if rows:
                counts: dict[str, int] = {}
                for r in rows:
                    counts[r["reason"]] = counts.get(r["reason"], 0) + 1
                out.details[name] = {"failures": counts, "failed": rows}
        return out
