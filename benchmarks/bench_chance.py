"""Chance levels of every control metric on the real images of ../shared/data.

A control metric compares an output with a map made from a photo. Its *chance level* is what an
output that ignores the map scores: here, a real photo paired with the map of another, unrelated
photo (a different DreamBench subject, or another content photo). Also printed: the score of the
photo the map was made from (the ceiling: the same detector on the same image).

Pools as the tasks draw them: ``dreambench`` (centred objects: DreamBench-like layouts), ``content``
(scenes) and both mixed. ``control_depth`` needs the depth model's weights (``--depth-model`` or
``IBENCH_DEPTH_MODEL``); without them it is reported as not measurable here.

    python benchmarks/bench_chance.py [--data ../shared/data] [--pairs 300] [--depth-model PATH]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

import numpy as np
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights from the local cache or a folder only
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from ibench.core.metrics import METRICS  # noqa: E402
from ibench.data import controls  # noqa: E402
from ibench.errors import IbenchError  # noqa: E402
from ibench.evaluators.control import DEPTH_SCORERS, PIXEL_SCORERS, scorer_of  # noqa: E402

MAKERS = {"edge": controls.canny, "mask": controls.grabcut_mask}


def photos(data: Path) -> dict[str, list[tuple[str, Path]]]:
    """(group, path) per pool: the group is the subject (DreamBench) or the photo (content)."""
    dream = [(s.name, p) for s in sorted((data / "dreambench").iterdir()) if s.is_dir()
             for p in sorted(s.glob("*.jpg"))]
    content = [(p.stem, p) for p in sorted((data / "content").iterdir()) if p.is_file()]
    return {"dreambench": dream, "content": content, "both": dream + content}


def load(path: Path) -> Image.Image:
    with Image.open(path) as im:
        im = im.convert("RGB")
    im.thumbnail((512, 512))
    return im


def summary(values: list[float]) -> str:
    v = np.asarray(values)
    return f"mean {v.mean():.3f}  sd {v.std(ddof=1):.3f}  p5 {np.quantile(v, 0.05):.3f}  p95 {np.quantile(v, 0.95):.3f}"


def depth_pair_scorer(model: str | None):
    """(output, target depth) -> error, or None when the depth model is not available."""
    try:
        pipe = controls.depth_estimator(model)
    except IbenchError as exc:
        print(f"control_depth: not measurable here ({exc})")
        return None
    cache: dict[Path, np.ndarray] = {}

    def depth_of(path: Path) -> np.ndarray:
        if path not in cache:
            cache[path] = controls.relative_depth(pipe(load(path)))
        return cache[path]

    return depth_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--depth-model", default=os.environ.get("IBENCH_DEPTH_MODEL"))
    args = parser.parse_args()
    pools = photos(args.data)
    images: dict[Path, Image.Image] = {}
    maps: dict[tuple[str, Path], Image.Image] = {}
    control_metrics = [m for m in METRICS.values() if m.kind == "control"]
    depth_of = None
    print(f"chance = a real photo scored against the map of an unrelated photo; {args.pairs} random pairs per pool")
    for metric in control_metrics:
        scorer = scorer_of(metric)
        if scorer in DEPTH_SCORERS:
            depth_of = depth_of or depth_pair_scorer(args.depth_model)
            if depth_of is None:
                continue
        elif scorer not in PIXEL_SCORERS or metric.control not in MAKERS:
            print(f"{metric.name}: no map maker for {metric.control!r} here; skipped")
            continue
        for pool, items in pools.items():
            rng = random.Random(0)
            chance, ceiling = [], []
            for _ in range(args.pairs):
                (ga, a), (gb, b) = rng.sample(items, 2)
                while ga == gb:
                    (gb, b) = rng.choice(items)
                for path in (a, b):
                    images.setdefault(path, load(path))
                if scorer in DEPTH_SCORERS:
                    target = depth_of(b)
                    pred = np.asarray(Image.fromarray((depth_of(a) * 255).astype(np.uint8)).resize(
                        target.shape[::-1], Image.BICUBIC), dtype=np.float32) / 255
                    chance.append(DEPTH_SCORERS[scorer](pred, target))
                    ceiling.append(DEPTH_SCORERS[scorer](target, target))
                    continue
                key = (metric.control, b)
                if key not in maps:
                    maps[key] = MAKERS[metric.control](images[b])
                chance.append(PIXEL_SCORERS[scorer](images[a], maps[key]))
                if len(ceiling) < 40:
                    ceiling.append(PIXEL_SCORERS[scorer](images[b], maps[key]))
            arrow = "↑" if metric.higher_is_better else "↓"
            print(f"{metric.name} {arrow} [{pool:<10}] chance: {summary(chance)}   own photo: mean {np.mean(ceiling):.3f}")


if __name__ == "__main__":
    main()
