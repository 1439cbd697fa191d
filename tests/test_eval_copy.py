"""The copy diagnostic (``copy_rate``): pasted references raise it, honest outputs do not; its similarity
on real images against a direct NumPy computation; its threshold separates copies from re-photographs."""

from __future__ import annotations

import itertools
import json
import shutil

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from report_fixtures import report_inputs, score  # noqa: F401 (fixture)

from ibench.core.metrics import get_metric

THRESHOLD = float(get_metric("copy_rate").params["threshold"])


def test_pasted_references_raise_the_copy_rate(report_inputs, tmp_path):
    """The `references` oracle returns a reference image (a paste): copy rate 1; the tiny model's noise: 0."""
    rates = {}
    for run in report_inputs.runs:
        copy = tmp_path / run.name
        shutil.copytree(run, copy)
        score(copy, report_inputs.extractors, report_inputs.data, tmp_path, metrics=["copy_rate", "dino"])
        results = json.loads((copy / "results.json").read_text())
        m = results["metrics"]["copy_rate"]
        rows = [json.loads(line) for line in (copy / "scores" / "copy_rate.jsonl").read_text().splitlines()]
        assert len(rows) == results["counts"]["scored"] == 6 and {r["condition"] for r in rows} == {"references"}
        assert m["threshold"] == THRESHOLD and not m["higher_is_better"] and "NCC" in m["similarity"]
        rates[copy.name.split("-")[1]] = (m["mean"], m["max_similarity_mean"], results["metrics"]["dino"]["mean"])
    assert rates["references"][0] == 1.0 and rates["references"][1] > 0.999
    assert rates["tiny"][0] == 0.0 and rates["tiny"][1] < THRESHOLD


def test_similarity_equals_a_direct_computation_on_real_images(shared_data):
    from ibench.evaluators.copy import similarity, thumbnails

    a_path, b_path = sorted((shared_data / "dreambench" / "dog").glob("*.jpg"))[:2]
    a, b = Image.open(a_path).convert("RGB"), Image.open(b_path).convert("RGB")

    def views(im):
        grey = im.convert("L")
        w, h = grey.size
        m = min(w, h)
        out = []
        for v in (grey, grey.crop(((w - m) // 2, (h - m) // 2, (w - m) // 2 + m, (h - m) // 2 + m))):
            x = np.asarray(v.resize((32, 32), Image.BOX), dtype=float).ravel()
            out.append((x - x.mean()) / np.linalg.norm(x - x.mean()))
        return out

    direct = max(float(u @ v) for u in views(a) for v in views(b))
    assert similarity(thumbnails(a), thumbnails(b)) == pytest.approx(direct, abs=1e-12)


def test_threshold_flags_pastes_but_not_other_photos_of_the_subject(shared_data):
    """A sample of the calibration (benchmarks/calibrate_copy.py has the whole of ../shared/data)."""
    from ibench.evaluators.copy import similarity, thumbnails

    for subject in ("dog", "cat", "backpack", "teapot"):
        photos = [Image.open(p).convert("RGB") for p in sorted((shared_data / "dreambench" / subject).glob("*.jpg"))]
        thumbs = [thumbnails(p) for p in photos]
        for a, b in itertools.combinations(thumbs, 2):
            assert similarity(a, b) < THRESHOLD
        for photo, t in zip(photos, thumbs):
            pasted = [photo.resize((512, 512)), ImageEnhance.Contrast(photo).enhance(1.2), photo.resize((64, 64))]
            assert all(similarity(thumbnails(p), t) >= THRESHOLD for p in pasted)


def test_a_copy_metric_needs_a_threshold():
    from ibench.core.metrics import MetricDef
    from ibench.errors import IbenchError
    from ibench.evaluators.registry import register

    with pytest.raises(IbenchError, match="params.threshold"):
        register(MetricDef(name="copy_loose", kind="copy", higher_is_better=False, description="x"))
