"""What FID and KID report at small N, on synthetic 2048-d features (Inception's width), in one run.

1. **Noise floor**: FID and KID between two disjoint samples of one distribution (true value 0) as N
   grows: what ``noise_floor`` measures per run. The features are non-negative with a decaying
   spectrum (ReLU of a Gaussian with variances 1/k), roughly like pooled CNN features; the figures on
   real Inception features differ in scale (each run's results.json has its own floor), not in trend.
2. **KID's Monte-Carlo dependence**: clean-fid's 100-subset estimate over 20 seeds (what ibench used
   to report, subset draws following row order) vs the unbiased estimate on all images (no spread).
3. **Collapse**: 120 outputs that are 3 distinct images vs 120 diverse ones, counting every image (now)
   and counting distinct images only (before).

    python benchmarks/bench_setmetrics.py [--dim 2048]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

from ibench.evaluators.setmetrics import fid, kid, noise_floor  # noqa: E402


def features(rng: np.random.Generator, n: int, dim: int, shift: float = 0.0) -> np.ndarray:
    scale = 1.0 / np.sqrt(np.arange(1, dim + 1))
    return np.maximum(rng.normal(size=(n, dim)) * scale + shift * scale, 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=2048)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"1. two disjoint samples of one distribution ({args.dim}-d), 3 seeded splits each")
    pool = features(rng, 2 * 5000, args.dim)
    for n in (60, 120, 250, 500, 1000, 2500, 5000):
        t = time.perf_counter()
        f, k = noise_floor("fid", pool, n, splits=3), noise_floor("kid", pool, n, splits=3)
        print(f"   N={n:5d}: FID floor {f.mean:9.4f} ± {f.sd:.4f}   KID floor {k.mean:+.6f} ± {k.sd:.6f}   "
              f"({time.perf_counter() - t:.1f} s)")
    print("2. KID of N=120 generated vs M=158 reference images (shifted distribution)")
    gen, ref = features(rng, 120, args.dim, shift=0.3), features(rng, 158, args.dim)
    from cleanfid.fid import kernel_distance

    subsets = []
    for seed in range(20):
        np.random.seed(seed)
        subsets.append(kernel_distance(gen[rng.permutation(120)], ref, num_subsets=100, max_subset_size=1000))
    full = kid(gen, ref).value
    print(f"   clean-fid, 100 subsets, 20 seeds: mean {np.mean(subsets):.5f}, sd {np.std(subsets, ddof=1):.5f} "
          f"({np.std(subsets, ddof=1) / abs(np.mean(subsets)):.1%} of the value)")
    print(f"   all images (ibench): {full:.5f}, sd over seeds and row orders 0 "
          f"(reversed rows: {kid(gen[::-1], ref[::-1]).value:.5f})")
    print("3. 120 outputs: diverse vs 3 distinct images, vs 158 reference images of the same distribution")
    ref = features(rng, 158, args.dim)
    diverse = features(rng, 120, args.dim)
    few = features(rng, 3, args.dim)
    collapsed = np.repeat(few, 40, axis=0)
    for name, gen_set in (("diverse", diverse), ("collapsed, every image", collapsed), ("collapsed, distinct", few)):
        print(f"   {name:<24} n={len(gen_set):3d}  KID {kid(gen_set, ref).value:+.5f}  FID {fid(gen_set, ref):9.4f}")


if __name__ == "__main__":
    main()
