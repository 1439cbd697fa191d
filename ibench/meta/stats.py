"""Statistics of judge–human agreement: correlations, their aggregation across models and tasks, and
pairwise accuracies.

- Correlations per (judge, task, model, measure) are scipy's: ``spearmanr`` (average ranks for ties),
  ``kendalltau`` (tau-b) and ``pearsonr``; NaN when a side is constant or fewer than 3 images.
- ``AVERAGES`` names how correlations are combined across models (a task's figure) and then across tasks
  (the overall figure), and across raters for the human ceiling: ``fisher`` (the default) is
  tanh(mean(arctanh r)); ``viescore`` is tanh(mean r), what VIEScore's ``average_correlation`` does (its
  paper says Fisher z; the code leaves out the arctanh; paper_implementation/analyze_json.ipynb, cell 16);
  ``mean`` is the plain mean. Undefined (NaN) correlations are left out.
- Pairwise: ``accuracy_4way`` is GenAI-Bench's (A>B, B>A, tie, both bad; a bare "A=B" vote counts as
  right for a tie and for both bad; a missing vote is wrong; GenAI-Bench@f0b0334 inference.py:147-174);
  ``accuracy_both_orders`` is MMRB2's (every judgement of a pair, in either order, against the people's
  choice; a tie is wrong; a missing judgement is left out; MMRB2 evaluate/compute_scores/compute_accuracy.py).
"""

from __future__ import annotations

import math
import warnings
from typing import Callable, Sequence

import numpy as np

from ibench.stats import CONFIDENCE, resampled_corr

CORRELATIONS = ("spearman", "kendall", "pearson")
ACCURACIES = ("accuracy_4way", "accuracy_both_orders")
AVERAGES = ("fisher", "viescore", "mean")
DEFAULT_AVERAGE = "fisher"
FISHER_CLIP = 1 - 1e-12  # |r| = 1 would make arctanh infinite


def correlation(x: np.ndarray, y: np.ndarray, method: str) -> float:
    """scipy's correlation of two equally long samples; NaN when undefined."""
    from scipy import stats

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "spearman":
            return float(stats.spearmanr(x, y).statistic)
        if method == "kendall":
            return float(stats.kendalltau(x, y).statistic)
        if method == "pearson":
            return float(stats.pearsonr(x, y).statistic)
    raise ValueError(f"unknown correlation {method!r}")


def replicates(x: np.ndarray, y: np.ndarray, counts: np.ndarray, method: str) -> np.ndarray:
    """The correlation in each bootstrap replicate (``counts``: replicates x pairs); NaN where undefined."""
    if not len(counts):
        return np.empty(0)
    out = resampled_corr(x, y, counts, method)
    out[counts.sum(axis=1) < 3] = np.nan
    return out


def average(values: Sequence[float] | np.ndarray, how: str, axis: int = 0) -> np.ndarray | float:
    """Combine correlations (NaN left out) along ``axis``: ``fisher``, ``viescore`` or ``mean``."""
    if how not in AVERAGES:
        raise ValueError(f"unknown average {how!r}")
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if how == "fisher":
            out = np.tanh(np.nanmean(np.arctanh(np.clip(v, -FISHER_CLIP, FISHER_CLIP)), axis=axis))
        elif how == "viescore":
            out = np.tanh(np.nanmean(v, axis=axis))
        else:
            out = np.nanmean(v, axis=axis)
    return float(out) if np.ndim(out) == 0 else out


def interval(rows: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates (undefined ones left out)."""
    rows = np.asarray(rows, dtype=float)
    rows = rows[~np.isnan(rows)]
    if not rows.size:
        return math.nan, math.nan
    a = (1 - confidence) / 2
    low, high = np.quantile(rows, [a, 1 - a])
    return float(low), float(high)


def bootstrap_counts(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """replicates x n: how many times each of ``n`` items is drawn, for ``resamples`` draws of n with replacement."""
    if n == 0 or resamples == 0:
        return np.zeros((resamples, n))
    draws = rng.integers(0, n, (resamples, n)) + n * np.arange(resamples)[:, None]
    return np.bincount(draws.ravel(), minlength=resamples * n).reshape(resamples, n).astype(float)


# -- pairwise ---------------------------------------------------------------------------------------------
def right_4way(vote: object, human: str) -> bool:
    """GenAI-Bench: is the judge's vote right about the people's (A>B, B>A, tie, both_bad)?"""
    if vote is None or (isinstance(vote, float) and math.isnan(vote)):
        return False
    if human in ("A>B", "B>A"):
        return vote == human
    return vote in (human, "A=B")


def right_both_orders(vote: object, human: str) -> float:
    """MMRB2: 1 right, 0 wrong (a tie included), NaN for a missing judgement (left out)."""
    if vote is None or (isinstance(vote, float) and math.isnan(vote)):
        return math.nan
    return float(vote == human)


ACCURACY: dict[str, Callable[[object, str], float]] = {"accuracy_4way": lambda v, h: float(right_4way(v, h)),
                                                       "accuracy_both_orders": right_both_orders}
