"""FID and KID on precomputed features with clean-fid's own maths, plus an honest stability flag.

- FID: ``cleanfid.fid.fid_from_feats`` (mean, covariance, ``frechet_distance``).
- KID: ``cleanfid.fid.kernel_distance`` (100 subsets of up to 1000), its ``np.random`` draws seeded
  (clean-fid leaves them unseeded), the global NumPy state restored afterwards.
- FID is biased and unstable while either set has fewer images than feature dimensions (the
  covariance is rank-deficient); the result then says ``stable: false`` with a note.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from typing import Optional

import numpy as np

KID_SUBSETS, KID_MAX_SUBSET, KID_SEED = 100, 1000, 0
SET_METRICS = ("fid", "kid")
KID_STABLE_N = 100


def fid(gen: np.ndarray, ref: np.ndarray) -> float:
    from cleanfid.fid import fid_from_feats

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        # clean-fid prints when it adds eps to the diagonal, and passes sqrtm(disp=False), deprecated in
        # SciPy 1.16 and removed in 1.18 (hence scipy<1.18 in the eval extra)
        warnings.simplefilter("ignore", DeprecationWarning)
        return float(fid_from_feats(gen.astype(np.float64), ref.astype(np.float64)))


def kid(gen: np.ndarray, ref: np.ndarray, seed: int = KID_SEED, num_subsets: int = KID_SUBSETS,
        max_subset_size: int = KID_MAX_SUBSET) -> float:
    from cleanfid.fid import kernel_distance

    state = np.random.get_state()
    np.random.seed(seed)
    try:
        return float(kernel_distance(gen.astype(np.float64), ref.astype(np.float64), num_subsets=num_subsets,
                                     max_subset_size=max_subset_size))
    finally:
        np.random.set_state(state)


def set_metric(name: str, gen: np.ndarray, ref: np.ndarray) -> tuple[Optional[float], bool, str]:
    """(value, stable, note) for ``fid`` or ``kid``; value None when it cannot be computed."""
    n, m, dim = len(gen), len(ref), gen.shape[1] if gen.ndim == 2 else 0
    if min(n, m) < 2:
        return None, False, f"needs at least 2 images in each set (generated {n}, reference {m})"
    if name == "fid":
        try:
            value = fid(gen, ref)
        except ValueError as exc:  # clean-fid: large imaginary component of sqrtm
            return None, False, f"FID could not be computed ({exc}); too few images for {dim}-d features"
        if not math.isfinite(value):
            return None, False, "FID is not finite (degenerate features)"
        if min(n, m) < dim:
            return value, False, (f"unstable: {min(n, m)} images < {dim} feature dimensions, so the covariance is "
                                  f"rank-deficient and FID is biased upwards; compare only runs with the same N, "
                                  f"prefer KID, or use more images")
        return value, True, ""
    value = kid(gen, ref)
    if not math.isfinite(value):
        return None, False, "KID is not finite (degenerate features)"
    if min(n, m) < KID_STABLE_N:
        return value, False, (f"unstable: KID is unbiased but its variance is high below {KID_STABLE_N} images "
                              f"per set (generated {n}, reference {m})")
    return value, True, ""
