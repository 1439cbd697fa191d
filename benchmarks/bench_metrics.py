"""Cost of the metrics added for issue 13, as ratios in one run (real architectures, random weights, real images).

    .venv/bin/python benchmarks/bench_metrics.py [--images N] [--threads T]

Per image, the forward time of each new extractor on the real architecture (CSD: open_clip ViT-L/14; DINOv2:
dinov2-small's config; LPIPS: AlexNet at 256 px, the edit-locality working size) relative to the existing
CLIP ViT-B/32 extractor (the cheapest per-image metric today), and the edit-locality kind's pixel part (resize,
dilate, masked means) relative to its LPIPS forward. Nothing is cached; decode time is excluded.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def timed(fn, repeats: int = 3) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import open_clip
    from transformers import Dinov2Config, Dinov2Model

    from ibench.evaluators.perceptual import outside_mask, to_tensor, working_size

    photos = [Image.open(p).convert("RGB") for p in sorted((DATA / "dreambench").rglob("*.jpg"))[:args.images]]
    clip224 = torch.rand(len(photos), 3, 224, 224)
    with torch.inference_mode():
        clip_b = open_clip.create_model("ViT-B-32-quickgelu", pretrained=None).eval()
        t_clip = timed(lambda: clip_b.encode_image(clip224))
        csd = open_clip.create_model("ViT-L-14-quickgelu", pretrained=None).visual.eval()
        csd.proj = None
        style = torch.randn(1024, 768)
        t_csd = timed(lambda: csd(clip224) @ style)
        dinov2 = Dinov2Model(Dinov2Config(hidden_size=384, num_hidden_layers=12, num_attention_heads=6,
                                          image_size=518, patch_size=14)).eval()
        t_dinov2 = timed(lambda: dinov2(pixel_values=clip224).last_hidden_state[:, 0])
        import warnings

        import lpips

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = lpips.LPIPS(net="alex", spatial=True, pnet_rand=True, verbose=False).eval()
        sizes = [working_size(p.size, 256) for p in photos]
        pairs = [(to_tensor(p.resize(s, Image.BICUBIC))[None], to_tensor(p.transpose(Image.FLIP_LEFT_RIGHT)
                  .resize(s, Image.BICUBIC))[None]) for p, s in zip(photos, sizes)]
        t_lpips = timed(lambda: [model(a * 2 - 1, b * 2 - 1) for a, b in pairs])
    mask = Image.fromarray((np.random.default_rng(0).random((512, 512)) > 0.7).astype(np.uint8) * 255)

    def pixels():
        for (a, b), s in zip(pairs, sizes):
            out = torch.from_numpy(outside_mask(mask, s, 8))
            float((a[0] - b[0]).abs().mean(0)[out].mean())

    t_pix = timed(pixels)
    n = len(photos)
    print(f"per image, {args.threads} threads, {n} images (real architectures, random weights):")
    for name, t in (("clip ViT-B/32 (existing)", t_clip), ("csd ViT-L/14", t_csd), ("dinov2-small", t_dinov2),
                    ("lpips alexnet @256", t_lpips)):
        print(f"  {name:26s} {1000 * t / n:8.1f} ms   {t / t_clip:6.2f}x clip")
    print(f"  {'locality pixels (L1+mask)':26s} {1000 * t_pix / n:8.1f} ms   {t_pix / t_lpips:6.2f}x lpips forward")


if __name__ == "__main__":
    main()
