"""Bootstrap confidence intervals (scipy.stats.bootstrap, seeded) shared by scores and reports."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 2000


@dataclass(frozen=True)
class Estimate:
    """A mean with its 95% bootstrap interval (NaN bounds when n < 2)."""

    mean: float
    ci_low: float
    ci_high: float
    n: int

    def as_dict(self) -> dict:
        return asdict(self)


def mean_ci(values, seed: int = 0, confidence: float = CONFIDENCE) -> Estimate:
    """Mean of ``values`` and its percentile bootstrap CI (resampling the values)."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    if x.size < 2 or np.all(x == x[0]):
        return Estimate(float(x.mean()), float(x.mean()) if x.size > 1 else math.nan,
                        float(x.mean()) if x.size > 1 else math.nan, int(x.size))
    from scipy.stats import bootstrap

    res = bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=RESAMPLES, method="percentile",
                    rng=np.random.default_rng(seed))
    return Estimate(float(x.mean()), float(res.confidence_interval.low), float(res.confidence_interval.high),
                    int(x.size))


def paired_delta_ci(a, b, seed: int = 0, confidence: float = CONFIDENCE) -> Estimate:
    """Mean of ``b - a`` over matched pairs, with a paired bootstrap CI (resampling pairs)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError("paired samples must have the same length")
    return mean_ci(b - a, seed=seed, confidence=confidence)
