"""Inter-rater agreement on one rating (SC, PQ or O) of one set of items.

- Fleiss' kappa: statsmodels ``aggregate_raters`` + ``fleiss_kappa`` on an items x raters table;
  the categories are the values that occur (as ImagenHub's notebook does). Fleiss' kappa needs the
  same number of ratings per item: only items with the full count (the most any item has) are used.
- Krippendorff's alpha, ordinal: the ``krippendorff`` package on a raters x items table, NaN where a
  rater did not rate an item (missing values are part of alpha's definition).
Both are NaN when undefined (fewer than two items or raters, or a single value in the data).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd


def reliability_matrix(frame: pd.DataFrame, value: str, item: str = "item", rater: str = "rater") -> pd.DataFrame:
    """Raters x items table of one rating column (NaN where missing)."""
    return frame.pivot_table(index=rater, columns=item, values=value, aggfunc="first")


def fleiss(matrix: pd.DataFrame) -> float:
    """Fleiss' kappa of a raters x items table (items with fewer ratings than the most are left out)."""
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    counts = matrix.notna().sum(axis=0)
    if counts.empty:
        return math.nan
    n = int(counts.max())
    full = matrix.loc[:, counts == n]
    if n < 2 or full.shape[1] < 2:
        return math.nan
    # items x n: each item's n values (which rater gave them does not matter to Fleiss' kappa)
    table = np.array([np.sort(full[c].dropna().to_numpy()) for c in full.columns])
    if len(np.unique(table)) < 2:
        return math.nan
    counts_table, _ = aggregate_raters(table)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(fleiss_kappa(counts_table, method="fleiss"))


def kripp_alpha(matrix: pd.DataFrame, level: str = "ordinal") -> float:
    """Krippendorff's alpha (ordinal by default) of a raters x items table with NaN for missing."""
    import krippendorff

    data = matrix.to_numpy(dtype=float)
    if data.shape[0] < 2 or data.shape[1] < 1:
        return math.nan
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    values = data[:, pairable]
    if values.size == 0 or len(np.unique(values[~np.isnan(values)])) < 2:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))
