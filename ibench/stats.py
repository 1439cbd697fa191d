"""Bootstrap confidence intervals and tests (scipy.stats.bootstrap, seeded) shared by scores, reports and the
gate; rank correlations with cluster-bootstrap intervals; a cluster bootstrap of any statistic
(``cluster_bootstrap``) for tables whose items are several images of one instance."""

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


def mean_test(values, seed: int = 0, confidence: float = CONFIDENCE,
              resamples: int = RESAMPLES) -> tuple[Estimate, float]:
    """The mean with its percentile bootstrap CI, and the one-sided p-value of "the true mean is <= 0".

    The interval resamples the values (vectorised: the gate runs this per metric). The p-value is the
    one-sample t-test's (``scipy.stats.ttest_1samp``, alternative "greater"): exact for normal values and
    close to its level at the gate's sizes otherwise, where the percentile bootstrap's tail is too thin
    (at n=60 it rejects ~25% too often at the 0.7% level Holm asks of one of 7 metrics). All values equal:
    p is 0 when they are > 0, else 1. NaN p (and CI) with fewer than 2 values.
    """
    from scipy.stats import ttest_1samp

    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size < 2:
        m = float(x.mean()) if x.size else math.nan
        return Estimate(m, math.nan, math.nan, int(x.size)), math.nan
    reps = x[np.random.default_rng(seed).integers(0, x.size, (resamples, x.size))].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(reps, [alpha, 1 - alpha])
    if np.all(x == x[0]):
        p = 0.0 if x[0] > 0 else 1.0
    else:
        p = float(ttest_1samp(x, 0.0, alternative="greater").pvalue)
    return Estimate(float(x.mean()), float(low), float(high), int(x.size)), p


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


def _weighted_ranks(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Average ranks of ``x`` in the sample where row i appears ``w[r, i]`` times, for each row r of ``w``."""
    order = np.argsort(x, kind="stable")
    xs, ws = x[order], w[:, order]
    starts = np.r_[0, np.flatnonzero(np.diff(xs)) + 1]  # tie groups of the sorted values
    group_w = np.add.reduceat(ws, starts, axis=1)
    group_rank = np.cumsum(group_w, axis=1) - group_w + (group_w + 1) / 2  # before + mean of 1..W
    ranks = np.empty_like(ws, dtype=float)
    ranks[:, order] = group_rank[:, np.repeat(np.arange(starts.size), np.diff(np.r_[starts, xs.size]))]
    return ranks


def _spearman_weighted(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Spearman's rho of the sample in which pair i appears ``w[r, i]`` times, per row r (NaN if undefined)."""
    rx, ry = _weighted_ranks(x, w), _weighted_ranks(y, w)
    total = w.sum(axis=1, keepdims=True)
    rx, ry = rx - (w * rx).sum(axis=1, keepdims=True) / total, ry - (w * ry).sum(axis=1, keepdims=True) / total
    den = np.sqrt((w * rx ** 2).sum(axis=1) * (w * ry ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (w * rx * ry).sum(axis=1) / np.where(den > 0, den, 1), np.nan)


def _kendall_weighted(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of the sample in which pair i appears ``w[r, i]`` times, per row r.

    Copies of one pair are tied on both sides, so only pairs of distinct rows count, each with weight
    w_i w_j: tau-b = sum w_i w_j s_ij / sqrt(sum over x-untied pairs * sum over y-untied pairs).
    Large n: scipy on the expanded sample.
    """
    n = x.size
    if n > 300:
        from scipy.stats import kendalltau

        counts = np.asarray(w, dtype=int)
        return np.array([kendalltau(np.repeat(x, c), np.repeat(y, c)).statistic for c in counts], dtype=float)
    iu = np.triu_indices(n, k=1)
    sx, sy = np.sign(x[iu[0]] - x[iu[1]]), np.sign(y[iu[0]] - y[iu[1]])
    terms = np.stack([sx * sy, (sx != 0).astype(float), (sy != 0).astype(float)], axis=1)
    out = np.empty(w.shape[0])
    step = max(1, 4_000_000 // max(1, iu[0].size))
    for start in range(0, w.shape[0], step):
        ws = w[start:start + step]
        num, ux, uy = ((ws[:, iu[0]] * ws[:, iu[1]]) @ terms).T
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:start + step] = np.where((ux > 0) & (uy > 0), num / np.sqrt(ux * uy), np.nan)
    return out


def _pearson_weighted(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Pearson's r of the sample in which pair i appears ``w[r, i]`` times, per row r (NaN if undefined)."""
    total = w.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        dx, dy = x - (w * x).sum(axis=1, keepdims=True) / total, y - (w * y).sum(axis=1, keepdims=True) / total
        den = np.sqrt((w * dx ** 2).sum(axis=1) * (w * dy ** 2).sum(axis=1))
        return np.where(den > 0, (w * dx * dy).sum(axis=1) / np.where(den > 0, den, 1), np.nan)


WEIGHTED = {"spearman": _spearman_weighted, "kendall": _kendall_weighted, "pearson": _pearson_weighted}


def resampled_corr(x, y, counts, method: str = "spearman") -> np.ndarray:
    """A correlation of ``x`` and ``y`` for each bootstrap replicate, a replicate given by ``counts`` (how many
    times each pair was drawn; replicates x pairs): Spearman's rho, Kendall's tau-b or Pearson's r, as scipy
    defines them on the expanded sample. NaN where a replicate leaves a side constant."""
    if method not in WEIGHTED:
        raise ValueError(f"unknown correlation {method!r} ({', '.join(WEIGHTED)})")
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return WEIGHTED[method](x, y, np.asarray(counts, dtype=float))


@dataclass(frozen=True)
class Correlation:
    """A rank correlation with its p-value and 95% bootstrap interval (resampling clusters: pairs or instances)."""

    method: str
    value: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    n_clusters: int = 0  # resampling units (pairs when unclustered)

    def as_dict(self) -> dict:
        return asdict(self)


def _interval(rows: np.ndarray, confidence: float) -> tuple[float, float]:
    rows = rows[~np.isnan(rows)]
    alpha = (1 - confidence) / 2
    return tuple(np.quantile(rows, [alpha, 1 - alpha])) if rows.size else (math.nan, math.nan)


def cluster_draws(clusters, seed: int = 0, resamples: int = RESAMPLES) -> list[np.ndarray]:
    """The index draws of a cluster bootstrap: each draw takes ``k`` clusters with replacement (``k`` = the
    number of distinct labels in ``clusters``) and every item of each drawn cluster, as often as the cluster
    was drawn. The cluster draws are ``default_rng(seed).integers(0, k, (resamples, k))`` over the sorted
    labels, the same draws ``corr_ci(..., clusters=)`` weights by, so the two agree exactly."""
    labels = np.asarray(clusters)
    _, cluster = np.unique(labels, return_inverse=True)
    k = int(cluster.max()) + 1 if labels.size else 0
    members = [np.flatnonzero(cluster == c) for c in range(k)]
    draws = np.random.default_rng(seed).integers(0, k, (resamples, k)) if k else np.empty((resamples, 0), int)
    return [np.concatenate([members[c] for c in d]) if k else np.empty(0, int) for d in draws]


def cluster_bootstrap(stat, clusters, seed: int = 0, resamples: int = RESAMPLES,  # noqa: ANN001 - a callable
                      confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile interval of ``stat(indices)`` (a statistic of the items at those indices) under a cluster
    bootstrap (``cluster_draws``): where an instance has several images (samples, models), its images are
    not independent draws and must be resampled together, or the interval comes out too narrow. Draws
    where the statistic is undefined (NaN) are left out; fewer than 2 clusters give NaN bounds."""
    labels = np.asarray(clusters)
    if np.unique(labels).size < 2:
        return math.nan, math.nan
    values = np.array([stat(idx) for idx in cluster_draws(labels, seed, resamples)], dtype=float)
    low, high = _interval(values, confidence)
    return float(low), float(high)


def corr_ci(x, y, method: str = "spearman", seed: int = 0, confidence: float = CONFIDENCE,
            resamples: int = RESAMPLES, clusters=None) -> Correlation:
    """Spearman's rho or Kendall's tau-b of paired values, with a percentile bootstrap CI.

    ``clusters`` (one label per pair, e.g. the instance id) makes the bootstrap resample whole clusters
    with replacement, every pair of a drawn cluster coming along: pairs of one cluster (the images of
    one instance) are not independent, and resampling them one by one makes the interval too narrow.
    Without it each pair is its own cluster. Pairs with a NaN are dropped; fewer than 3 pairs or a
    constant side give NaN; resamples where the correlation is undefined are left out of the interval.
    """
    from scipy.stats import kendalltau, spearmanr

    if method not in ("spearman", "kendall"):
        raise ValueError(f"unknown correlation {method!r} (spearman or kendall)")
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    labels = np.arange(x.size) if clusters is None else np.asarray(clusters)
    if x.shape != y.shape or labels.shape != x.shape:
        raise ValueError("correlated samples (and their clusters) must have the same length")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y, labels = x[keep], y[keep], labels[keep]
    n = int(x.size)
    _, cluster = np.unique(labels, return_inverse=True)
    k = int(cluster.max()) + 1 if n else 0
    if n < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return Correlation(method, math.nan, math.nan, math.nan, math.nan, n, k)
    res = spearmanr(x, y) if method == "spearman" else kendalltau(x, y)
    draws = np.random.default_rng(seed).integers(0, k, (resamples, k))
    counts = np.stack([np.bincount(d, minlength=k) for d in draws]).astype(float)  # times each cluster is drawn
    weights = counts[:, cluster]
    rows = (_spearman_weighted if method == "spearman" else _kendall_weighted)(x, y, weights)
    low, high = _interval(rows, confidence)
    return Correlation(method, float(res.statistic), float(low), float(high), float(res.pvalue), n, k)


def group_mean_corr_ci(a, b, method: str = "spearman", seed: int = 0, confidence: float = CONFIDENCE,
                       resamples: int = RESAMPLES) -> Correlation:
    """Rank correlation across groups (models) of their means over clusters (instances).

    ``a`` and ``b`` are groups x clusters arrays (NaN where a group lacks a cluster); each group's value
    is its mean over its clusters. The interval resamples clusters: each replicate recomputes every
    group's mean over the drawn clusters, then the correlation across groups. Needs 3 groups.
    """
    from scipy.stats import kendalltau, spearmanr

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    present = ~(np.isnan(a) | np.isnan(b))
    groups, k = a.shape
    ma = np.where(present, a, 0.0).sum(axis=1) / np.maximum(present.sum(axis=1), 1)
    mb = np.where(present, b, 0.0).sum(axis=1) / np.maximum(present.sum(axis=1), 1)
    if groups < 3 or np.ptp(ma) == 0 or np.ptp(mb) == 0 or not present.any(axis=1).all():
        return Correlation(method, math.nan, math.nan, math.nan, math.nan, groups, k)
    res = spearmanr(ma, mb) if method == "spearman" else kendalltau(ma, mb)
    draws = np.random.default_rng(seed).integers(0, k, (resamples, k))
    w = np.stack([np.bincount(d, minlength=k) for d in draws]).astype(float)  # resamples x clusters
    with np.errstate(invalid="ignore", divide="ignore"):
        den = w @ present.T.astype(float)  # resamples x groups
        ra = (w @ np.where(present, a, 0.0).T) / den
        rb = (w @ np.where(present, b, 0.0).T) / den
    ok = ~(np.isnan(ra).any(axis=1) | np.isnan(rb).any(axis=1))
    rows = np.full(resamples, np.nan)
    rows[ok] = (_spearman_rows if method == "spearman" else _kendall_rows)(ra[ok], rb[ok])
    low, high = _interval(rows, confidence)
    return Correlation(method, float(res.statistic), float(low), float(high), float(res.pvalue), groups, k)
