"""How much ``--batch-size`` changes images: batch 1 vs batch B, same seeds, same instances.

For each model: the largest and mean absolute difference in pixel levels (0-255) over every pixel
of every image, the share of pixels that differ at all, and the time per image of batch B over
batch 1. ``tiny`` generates request by request (byte-identical by design); ``sd-composite`` (tiny
random weights, real diffusers pipelines) batches, so CPU/GPU kernels sum in another order.

    python benchmarks/bench_batch.py [-n 4] [-k 2] [-b 4] [--size 64] [--steps 4] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from ibench.core.registry import get_task  # noqa: E402
from ibench.data.roots import resolve_data_root  # noqa: E402
from ibench.models import get_model  # noqa: E402
from ibench.run import GenerateOptions, generate  # noqa: E402


def images(store) -> dict:
    return {g.key: np.asarray(Image.open(store.path / g.image), dtype=np.int16) for g in store.generations()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--instances", type=int, default=4)
    ap.add_argument("-k", "--samples", type=int, default=2)
    ap.add_argument("-b", "--batch-size", type=int, default=4)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    os.environ.setdefault("IBENCH_CACHE_DIR", str(work / "cache"))
    from tiny_pipelines import tiny_composite_config

    root = resolve_data_root("synthetic")
    models = {"tiny": {"size": args.size, "steps": args.steps, "device": args.device},
              "sd-composite": {**tiny_composite_config(work / "weights"), "size": args.size, "steps": args.steps,
                               "device": args.device}}
    print(f"{args.instances} instances x {args.samples} samples, {args.size} px, {args.steps} steps, "
          f"device {args.device}, batch 1 vs {args.batch_size}")
    print(f"{'model':14s} {'max |d|':>8s} {'mean |d|':>9s} {'pixels differing':>17s} {'time b/1':>9s}")
    for name, settings in models.items():
        task = get_task("style_subject_control" if name == "sd-composite" else "style_subject")
        runs, seconds = {}, {}
        for batch in (1, args.batch_size):
            model = get_model(name, **settings)
            t0 = time.perf_counter()
            store, _ = generate(task, model, root, GenerateOptions(out=work / f"{name}-b{batch}", limit=args.instances,
                                                                   samples=args.samples, batch_size=batch,
                                                                   progress=False))
            seconds[batch] = time.perf_counter() - t0
            runs[batch] = images(store)
        diffs = [np.abs(runs[1][k] - runs[args.batch_size][k]) for k in runs[1]]
        every = np.concatenate([d.ravel() for d in diffs])
        print(f"{name:14s} {every.max():8d} {every.mean():9.4f} {100 * (every > 0).mean():16.2f}% "
              f"{seconds[args.batch_size] / seconds[1]:9.2f}")


if __name__ == "__main__":
    main()
