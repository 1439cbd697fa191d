"""Calibrate the copy diagnostic's threshold (``copy_rate``) on the real images of ../shared/data.

The similarity (``ibench.evaluators.copy``) is weight-free, so it can be calibrated here:

* **not copies**: every pair of distinct real photos of one DreamBench subject (the same object
  photographed again: the closest an honest output can come to a reference), and 3,000 random
  pairs of unrelated images (subjects, styles, content photos);
* **copies**: every image (longest side 512, as the ``references`` model pastes it) put through what
  a pipeline does to a pasted reference: unchanged, squashed to 512x512, centre-cropped to a square,
  JPEG quality 40, brightness x1.1, contrast x1.2, saturation x1.5, Gaussian blur r=2, down- and
  up-sampled by 4; plus a 95 % crop and a horizontal flip, which it is not meant to catch.

The threshold is the midpoint between the highest not-copy and the lowest caught copy, rounded to
two decimals. Prints the distributions and the rates at the shipped threshold.

    python benchmarks/calibrate_copy.py [--data ../shared/data] [--size 32]
"""

from __future__ import annotations

import argparse
import io
import itertools
import random
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from ibench.core.metrics import get_metric  # noqa: E402
from ibench.evaluators.copy import similarity, thumbnails  # noqa: E402

CAUGHT = ("unchanged", "squashed", "centre-square", "jpeg40", "bright1.1", "contrast1.2", "saturation1.5", "blur2",
          "down-up x4")
NOT_CAUGHT = ("crop95", "flip")


def load(path: Path) -> Image.Image:
    with Image.open(path) as im:
        im = im.convert("RGB")
    im.thumbnail((512, 512))
    return im


def jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return Image.open(buf).convert("RGB")


def pasted(im: Image.Image) -> dict[str, Image.Image]:
    w, h = im.size
    m = min(w, h)
    return {"unchanged": im, "squashed": im.resize((512, 512), Image.BICUBIC),
            "centre-square": im.crop(((w - m) // 2, (h - m) // 2, (w - m) // 2 + m, (h - m) // 2 + m)),
            "jpeg40": jpeg(im, 40), "bright1.1": ImageEnhance.Brightness(im).enhance(1.1),
            "contrast1.2": ImageEnhance.Contrast(im).enhance(1.2),
            "saturation1.5": ImageEnhance.Color(im).enhance(1.5), "blur2": im.filter(ImageFilter.GaussianBlur(2)),
            "down-up x4": im.resize((max(1, w // 4), max(1, h // 4)), Image.BICUBIC).resize((w, h), Image.BICUBIC),
            "crop95": im.crop((w // 40, h // 40, w - w // 40, h - h // 40)).resize((w, h), Image.BICUBIC),
            "flip": ImageOps.mirror(im)}


def quantiles(values: list[float]) -> str:
    q = np.quantile(values, [0.01, 0.5, 0.99])
    return f"n={len(values):5d} min {min(values):.3f}  p1 {q[0]:.3f}  median {q[1]:.3f}  p99 {q[2]:.3f}  max {max(values):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--size", type=int, default=int(get_metric("copy_rate").params.get("size", 32)))
    args = parser.parse_args()
    subjects = sorted(p for p in (args.data / "dreambench").iterdir() if p.is_dir())
    by_subject = {s.name: sorted(q for q in s.iterdir() if q.suffix.lower() in {".jpg", ".jpeg", ".png"})
                  for s in subjects}
    others = sorted(q for q in (args.data / "styles").rglob("*") if q.suffix.lower() in {".jpg", ".jpeg", ".png"})
    others += sorted(q for q in (args.data / "content").iterdir() if q.is_file())
    paths = [q for qs in by_subject.values() for q in qs] + others
    images = {p: load(p) for p in paths}
    thumb = {p: thumbnails(im, args.size) for p, im in images.items()}

    same = [similarity(thumb[a], thumb[b]) for qs in by_subject.values() for a, b in itertools.combinations(qs, 2)]
    rng = random.Random(0)
    unrelated = [similarity(thumb[a], thumb[b]) for a, b in (rng.sample(paths, 2) for _ in range(3000))]
    copies: dict[str, list[float]] = {}
    for p, im in images.items():
        for name, variant in pasted(im).items():
            copies.setdefault(name, []).append(similarity(thumbnails(variant, args.size), thumb[p]))

    print(f"copy similarity: {args.size}x{args.size} grey thumbnails, {len(paths)} real images of {args.data}")
    print(f"  not copies: same subject, another photo  {quantiles(same)}")
    print(f"  not copies: unrelated pairs              {quantiles(unrelated)}")
    for name, values in copies.items():
        tag = "" if name in CAUGHT else "  (not meant to be caught)"
        print(f"  copy: {name:<34} {quantiles(values)}{tag}")
    highest_honest = max(max(same), max(unrelated))
    lowest_copy = min(min(copies[n]) for n in CAUGHT)
    chosen = round((highest_honest + lowest_copy) / 2, 2)
    shipped = float(get_metric("copy_rate").params["threshold"])
    print(f"highest not-copy {highest_honest:.3f}, lowest caught copy {lowest_copy:.3f}: midpoint threshold {chosen:.2f} "
          f"(shipped: {shipped:.2f})")
    for name in (*CAUGHT, *NOT_CAUGHT):
        print(f"  at {shipped:.2f}: {name:<14} caught {np.mean(np.array(copies[name]) >= shipped):6.1%}")
    print(f"  at {shipped:.2f}: same-subject photos flagged {np.mean(np.array(same) >= shipped):.1%}, "
          f"unrelated flagged {np.mean(np.array(unrelated) >= shipped):.1%}")


if __name__ == "__main__":
    main()
