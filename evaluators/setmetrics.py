"""FID and KID on precomputed features, each with its noise floor and an honest stability flag.

- **FID**: ``cleanfid.fid.fid_from_feats`` (mean, covariance, ``frechet_distance``).
- **KID**: the unbiased MMD² with clean-fid's kernel ``k(x, y) = (x·y/d + 1)³``. While each set has at
  most ``KID_FULL_MAX`` images it is computed on *all* images (no subsets: no Monte-Carlo error, no
  dependence on row order or seed; with equal set sizes it equals clean-fid's ``kernel_distance`` with
  one subset of every image). Larger sets use clean-fid's estimator (the mean over random subsets of
  ``KID_SUBSET_SIZE``, drawn with a seeded legacy ``RandomState`` exactly as clean-fid draws them)
  with subsets added in steps of 100 until the Monte-Carlo standard error is at most ``KID_MC_TARGET``
  of the value (at most ``KID_MAX_SUBSETS``); the error and the number of subsets are reported.
- **Noise floor**: the same metric between two disjoint random halves of the reference set, each of
  the run's size N (⌊M/2⌋ when the reference set holds fewer than 2N images: then the floor is an upper
  bound of the floor at N, since both metrics' small-sample error shrinks with N), over
  ``FLOOR_SPLITS`` seeded splits (mean and sd). It is what two samples of one distribution score.
- **stable**: the value stands clear of its floor. FID: at least twice the floor mean and above mean +
  2 sd (at most half of it can be small-sample bias). KID: above the floor mean + 2 sd (it is unbiased,
  so its floor mean is ~0 and the sd is its sampling noise at this size).
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

SET_METRICS = ("fid", "kid")
KID_FULL_MAX = 10_000  # images per set up to which KID uses every image (O(N² d) in blocks)
KID_SUBSET_SIZE, KID_SUBSET_STEP, KID_MAX_SUBSETS, KID_MC_TARGET = 1000, 100, 1000, 0.02
KID_SEED = 0
FLOOR_SPLITS, FLOOR_SEED = 3, 0  # each FID split is one 2048x2048 sqrtm (5-60 s on a CPU), cached per N
_BLOCK = 2048  # rows per kernel block: memory stays O(_BLOCK²)


def fid(gen: np.ndarray, ref: np.ndarray) -> float:
    from cleanfid.fid import fid_from_feats

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        # clean-fid prints when it adds eps to the diagonal, and passes sqrtm(disp=False), deprecated in
        # SciPy 1.16 and removed in 1.18 (hence scipy<1.18 in the eval extra)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # sqrtm of a singular product at small N: flagged below
        warnings.filterwarnings("ignore", message="Matrix is singular")
        return float(fid_from_feats(gen.astype(np.float64), ref.astype(np.float64)))


def _kernel_sum(a: np.ndarray, b: np.ndarray, dim: int, same: bool) -> float:
    """Σ k(a_i, b_j) over all pairs (off-diagonal only when ``same``), computed in blocks."""
    total = 0.0
    for i in range(0, len(a), _BLOCK):
        block = (a[i:i + _BLOCK] @ b.T / dim + 1.0) ** 3
        if same:
            rows = np.arange(block.shape[0])
            block[rows, rows + i] = 0.0
        total += float(block.sum())
    return total


def kid_full(gen: np.ndarray, ref: np.ndarray) -> float:
    """The unbiased MMD² of all images: mean k within each set (i ≠ j) minus twice the mean k across."""
    x, y = gen.astype(np.float64), ref.astype(np.float64)
    n, m, d = len(x), len(y), x.shape[1]
    return (_kernel_sum(x, x, d, True) / (n * (n - 1)) + _kernel_sum(y, y, d, True) / (m * (m - 1))
            - 2.0 * _kernel_sum(x, y, d, False) / (n * m))


@dataclass(frozen=True)
class KidEstimate:
    value: float
    estimator: str  # "all images" | "subsets"
    mc_se: Optional[float] = None  # Monte-Carlo standard error of the subset mean
    subsets: Optional[int] = None
    subset_size: Optional[int] = None

    def fields(self) -> dict:
        return {"estimator": self.estimator, "mc_se": self.mc_se, "subsets": self.subsets,
                "subset_size": self.subset_size}


def kid_subsets(gen: np.ndarray, ref: np.ndarray, seed: int = KID_SEED, size: int = KID_SUBSET_SIZE,
                step: int = KID_SUBSET_STEP, most: int = KID_MAX_SUBSETS, target: float = KID_MC_TARGET) -> KidEstimate:
    """clean-fid's subset estimator (its draws, seeded), with subsets added until the MC error is small."""
    x, y = gen.astype(np.float64), ref.astype(np.float64)
    d, m = x.shape[1], min(len(x), len(y), size)
    rs = np.random.RandomState(seed)
    values: list[float] = []
    while True:
        for _ in range(step):
            a = y[rs.choice(len(y), m, replace=False)]  # clean-fid's order: the second set first
            b = x[rs.choice(len(x), m, replace=False)]
            values.append((_kernel_sum(a, a, d, True) + _kernel_sum(b, b, d, True)) / (m * (m - 1))
                          - 2.0 * _kernel_sum(a, b, d, False) / (m * m))
        mean, se = float(np.mean(values)), float(np.std(values, ddof=1) / math.sqrt(len(values)))
        if se <= target * abs(mean) or len(values) >= most:
            return KidEstimate(mean, "subsets", se, len(values), m)


def kid(gen: np.ndarray, ref: np.ndarray, seed: int = KID_SEED) -> KidEstimate:
    """KID on every image when both sets are small enough, else on seeded subsets (see the module docstring)."""
    if max(len(gen), len(ref)) <= KID_FULL_MAX:
        return KidEstimate(kid_full(gen, ref), "all images")
    return kid_subsets(gen, ref, seed)


def _value(name: str, gen: np.ndarray, ref: np.ndarray) -> Optional[float]:
    """The metric's value, or None when it cannot be computed (too few images, degenerate features)."""
    try:
        value = fid(gen, ref) if name == "fid" else kid(gen, ref).value
    except ValueError:  # clean-fid: large imaginary component of sqrtm
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Floor:
    """The metric between two disjoint random halves of the reference set of ``n`` images each."""

    mean: float
    sd: float
    n: int
    splits: int

    def as_dict(self) -> dict:
        return {"value": self.mean, "sd": self.sd if math.isfinite(self.sd) else None, "n": self.n,
                "splits": self.splits}


def noise_floor(name: str, ref: np.ndarray, n: int, splits: int = FLOOR_SPLITS, seed: int = FLOOR_SEED,
                value: Callable[[str, np.ndarray, np.ndarray], Optional[float]] = _value) -> Optional[Floor]:
    """The floor of ``name`` at ``n`` images per set (halves of ⌊M/2⌋ when the reference set is smaller)."""
    k = min(n, len(ref) // 2)
    if k < 2:
        return None
    rng = np.random.default_rng(seed)
    got = []
    for _ in range(splits):
        perm = rng.permutation(len(ref))
        v = value(name, ref[perm[:k]], ref[perm[k:2 * k]])
        if v is not None:
            got.append(v)
    if not got:
        return None
    return Floor(float(np.mean(got)), float(np.std(got, ddof=1)) if len(got) > 1 else math.nan, k, len(got))


def set_metric(name: str, gen: np.ndarray, ref: np.ndarray, floor: Optional[Floor] = None) -> dict:
    """``value``, ``stable``, ``note``, ``noise_floor`` (and KID's estimator fields); value None when undefined."""
    n, m = len(gen), len(ref)
    out: dict = {"value": None, "stable": False, "note": "", "noise_floor": floor.as_dict() if floor else None}
    if min(n, m) < 2:
        out["note"] = f"needs at least 2 images in each set (generated {n}, reference {m})"
        return out
    if name == "kid":
        est = kid(gen, ref)
        out.update(est.fields())
        value: Optional[float] = est.value if math.isfinite(est.value) else None
    else:
        value = _value(name, gen, ref)
    if value is None:
        out["note"] = f"{name.upper()} could not be computed (degenerate features or too few images for " \
                      f"{gen.shape[1]}-d features)"
        return out
    out["value"] = value
    out["stable"], out["note"] = stability(name, value, n, m, floor)
    return out


def stability(name: str, value: float, n: int, m: int, floor: Optional[Floor]) -> tuple[bool, str]:
    """(stable, note): does the value stand clear of what two samples of the reference set give?"""
    if floor is None or not math.isfinite(floor.sd):
        return False, (f"unstable: no noise floor (the reference set has {m} images; a floor needs two disjoint "
                       f"halves of at least 2, over at least 2 splits)")
    at = f"two disjoint halves of the reference set ({floor.n} images each"
    at += ")" if floor.n == n else f", as it holds fewer than 2 x {n}: an upper bound of the floor at N={n})"
    spread = f"{floor.mean:.4g} ± {floor.sd:.2g}"
    if name == "fid":
        if value >= max(2 * floor.mean, floor.mean + 2 * floor.sd):
            return True, ""
        if value < floor.mean - 2 * floor.sd:
            return False, (f"below its noise floor: {at} give FID {spread}, yet the outputs are closer to the "
                           f"reference set than its own halves are to each other; small-sample bias cannot do that, "
                           f"outputs that copy reference images can: see copy_rate")
        return False, (f"unstable: {at} give FID {spread}, so small-sample bias makes up at least half of this "
                       f"value; compare runs at equal N only, read KID (unbiased) instead, or use more images")
    if value > floor.mean + 2 * floor.sd:
        return True, ""
    return False, (f"unstable: {at} give KID {spread}; this value is within that sampling noise "
                   f"(more images narrow it)")
