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


def unpaired_delta_ci(a, b, seed: int = 0, confidence: float = CONFIDENCE) -> Estimate:
    """``mean(b) - mean(a)`` for independent samples, resampling each sample on its own."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    n = int(min(a.size, b.size))
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    delta = float(b.mean() - a.mean())
    if a.size < 2 or b.size < 2:
        return Estimate(delta, math.nan, math.nan, n)
    if np.all(a == a[0]) and np.all(b == b[0]):
        return Estimate(delta, delta, delta, n)
    rng = np.random.default_rng(seed)
    da = a[rng.integers(0, a.size, (RESAMPLES, a.size))].mean(axis=1)
    db = b[rng.integers(0, b.size, (RESAMPLES, b.size))].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(db - da, [alpha, 1 - alpha])
    return Estimate(delta, float(low), float(high), n)


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row pair (average ranks for ties); NaN where a row is constant."""
    from scipy.stats import rankdata

    rx, ry = rankdata(x, axis=-1), rankdata(y, axis=-1)
    rx, ry = rx - rx.mean(axis=-1, keepdims=True), ry - ry.mean(axis=-1, keepdims=True)
    den = np.sqrt((rx ** 2).sum(axis=-1) * (ry ** 2).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(axis=-1) / np.where(den > 0, den, 1), np.nan)


def _kendall_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of each row pair (scipy's definition); NaN where undefined.

    Small n: pairwise signs, vectorised over rows in bounded chunks; large n: scipy per row.
    """
    n = x.shape[-1]
    if n > 150:
        from scipy.stats import kendalltau

        return np.array([kendalltau(a, b).statistic for a, b in zip(x, y)], dtype=float)
    iu = np.triu_indices(n, k=1)
    out = np.empty(x.shape[0])
    step = max(1, 2_000_000 // max(1, len(iu[0])))
    for start in range(0, x.shape[0], step):
        xs, ys = x[start:start + step], y[start:start + step]
        sx = np.sign(xs[:, iu[0]] - xs[:, iu[1]])
        sy = np.sign(ys[:, iu[0]] - ys[:, iu[1]])
        den = np.sqrt((sx != 0).sum(axis=1) * (sy != 0).sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:start + step] = np.where(den > 0, (sx * sy).sum(axis=1) / np.where(den > 0, den, 1), np.nan)
    return out


@dataclass(frozen=True)
class Correlation:
    """A rank correlation with its p-value and 95% bootstrap interval (resampling pairs)."""

    method: str
    value: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int

    def as_dict(self) -> dict:
        return asdict(self)


def corr_ci(x, y, method: str = "spearman", seed: int = 0, confidence: float = CONFIDENCE,
            resamples: int = RESAMPLES) -> Correlation:
    """Spearman's rho or Kendall's tau-b of paired values, with a percentile bootstrap CI over pairs.

    Pairs with a NaN are dropped; fewer than 3 pairs or a constant side give NaN. Resamples in which
    one side is constant (the correlation is undefined) are left out of the interval.
    """
    from scipy.stats import kendalltau, spearmanr

    if method not in ("spearman", "kendall"):
        raise ValueError(f"unknown correlation {method!r} (spearman or kendall)")
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise ValueError("correlated samples must have the same length")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    n = int(x.size)
    if n < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return Correlation(method, math.nan, math.nan, math.nan, math.nan, n)
    res = spearmanr(x, y) if method == "spearman" else kendalltau(x, y)
    idx = np.random.default_rng(seed).integers(0, n, (resamples, n))
    rows = (_spearman_rows if method == "spearman" else _kendall_rows)(x[idx], y[idx])
    rows = rows[~np.isnan(rows)]
    alpha = (1 - confidence) / 2
    low, high = np.quantile(rows, [alpha, 1 - alpha]) if rows.size else (math.nan, math.nan)
    return Correlation(method, float(res.statistic), float(low), float(high), float(res.pvalue), n)
