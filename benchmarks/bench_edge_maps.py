"""Edge maps of large photos as the ControlNet sees them: before (Canny at the photo's size, then shrunk) and
after (ControlNet's Canny annotator at 512, ``ibench.data.controls.edge_map``, then ``sd_composite.fit_map``).

Each photo of ../shared/data listed below is enlarged x``--scale`` (Lanczos) to >= 2048 px, written to a
temporary folder (the shared data is never written), and its edge map is made both ways and brought to the
ControlNet's ``--size`` x ``--size`` input. Printed per photo and on average:
* peak   - the brightest pixel of the map the ControlNet gets (1 = a full edge);
* crisp  - share of its pixels that are exactly 0 or 1;
* edges  - share of its pixels above 0.5, next to the share Canny finds on the photo resized straight to
           the working size (``at size``; what a ControlNet trained on 512 px annotator maps expects).

    python benchmarks/bench_edge_maps.py [--scale 5] [--size 512]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]
PHOTOS = ["content/chicago.jpg", "content/newyork.jpg", "content/flowers.jpg", "content/golden_gate.jpg",
          "dreambench/dog/00.jpg", "dreambench/backpack/00.jpg"]


def stats(seen: np.ndarray) -> tuple[float, float, float]:
    """(peak, share exactly 0 or 1, share above 0.5) of a map in [0, 1]."""
    return float(seen.max()), float(np.isin(seen, (0.0, 1.0)).mean()), float((seen > 0.5).mean())


def main() -> None:
    import cv2

    from ibench.data.controls import edge_map
    from ibench.models.sd_composite import fit_map

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=5)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for rel in PHOTOS:
            src = args.data_dir / rel
            if not src.is_file():
                continue
            with Image.open(src) as im:
                big = im.convert("RGB").resize((im.width * args.scale, im.height * args.scale), Image.LANCZOS)
            big.save(Path(tmp) / "big.png")
            photo = Image.open(Path(tmp) / "big.png")
            gray = cv2.cvtColor(np.asarray(photo), cv2.COLOR_RGB2GRAY)
            before = Image.fromarray(cv2.Canny(gray, 100, 200)).resize((args.size, args.size), Image.BICUBIC)
            after = fit_map(edge_map(photo), args.size).convert("L")
            direct = cv2.resize(np.asarray(photo), (args.size, args.size), interpolation=cv2.INTER_AREA)
            at_size = float((cv2.Canny(direct, 100, 200) > 0).mean())
            rows.append((rel, photo.size, stats(np.asarray(before) / 255.0), stats(np.asarray(after) / 255.0), at_size))
    print(f"edge maps of photos enlarged x{args.scale}, as the ControlNet sees them at {args.size}x{args.size}")
    print(f"{'photo':28} {'size':>11} | before: peak crisp  edges | after: peak crisp  edges | at size")
    for rel, (w, h), b, a, ref in rows:
        print(f"{rel:28} {w:>5}x{h:<5} |        {b[0]:.2f} {b[1]:6.1%} {b[2]:6.2%} |       {a[0]:.2f} {a[1]:6.1%} "
              f"{a[2]:6.2%} | {ref:6.2%}")
    mean = lambda k, j: float(np.mean([r[k][j] for r in rows]))  # noqa: E731
    print(f"{'mean':40} |        {mean(2, 0):.2f} {mean(2, 1):6.1%} {mean(2, 2):6.2%} |       {mean(3, 0):.2f} "
          f"{mean(3, 1):6.1%} {mean(3, 2):6.2%} | {float(np.mean([r[4] for r in rows])):6.2%}")


if __name__ == "__main__":
    main()
